"""``cpv tag``, ``list``, ``show``, ``diff`` and ``revert``: parse, call the manager, render."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cpv.cli.main import CliContext
    from cpv.metadata import VersionRecord

KIND_CHOICE = click.Choice(["model", "data", "all"])
ONE_KIND_CHOICE = click.Choice(["model", "data"])


def kind_named(*versions: str) -> str | None:
    """The kind the first kind-qualified version names (``data/v0.2`` -> ``data``), if any."""
    from cpv.refs import is_reference_word
    from cpv.versions import parse_version_arg

    for text in versions:
        if is_reference_word(text):
            continue  # latest, best, an alias: the resolver picks the kind
        kind, _ = parse_version_arg(text)
        if kind is not None:
            return kind.value
    return None


@click.command()
@click.argument("kind", type=KIND_CHOICE, default="model")
@click.option(
    "--version",
    "version",
    default=None,
    help="Explicit version, e.g. v1.0 (must be new and above the latest).",
)
@click.option(
    "--bump",
    type=click.Choice(["minor", "major"]),
    default=None,
    help="Which part of the version to increase (default: minor); not with --version.",
)
@click.option("-m", "--message", default="", help="What changed in this version.")
@click.option(
    "--metric",
    "metric_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A metric to store (repeatable).",
)
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file of {name: value} metrics.",
)
@click.option(
    "--force", is_flag=True, help="Tag even if unchanged, or an explicit version below the latest."
)
@click.option("--dry-run", is_flag=True, help="Show what would be tagged; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def tag(
    obj: CliContext,
    kind: str,
    version: str | None,
    bump: str | None,
    message: str,
    metric_pairs: tuple[str, ...],
    metrics_file: Path | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Version the model weights, the data, or both (all) under the next number."""
    from cpv.metrics import load_metrics_file, parse_metric_assignments

    from . import render

    metrics = load_metrics_file(obj.path / metrics_file) if metrics_file else {}
    metrics.update(parse_metric_assignments(metric_pairs))
    result = obj.manager(kind).tag(
        message=message,
        metrics=metrics,
        version=version,
        bump=bump,
        force=force,
        dry_run=dry_run,
    )
    if as_json:
        render.print_json(
            {
                "created": result.created,
                "dry_run": result.dry_run,
                "versions": [r.to_json_dict() for r in result.records],
            }
        )
    else:
        render.tag_result(result)


@click.command(name="list")
@click.argument("kind", type=KIND_CHOICE, default="all")
@click.option(
    "--all",
    "all_versions",
    is_flag=True,
    help="In a repository: include deleted versions. In a folder of repositories: each one's.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@click.pass_obj
def list_(obj: CliContext, kind: str, all_versions: bool, as_json: bool) -> None:
    """List versions (oldest first), with their aliases; deleted ones only with --all."""
    from . import render

    if all_versions:
        from cpv.batch import inside_model_repo

        if not inside_model_repo(obj.path):
            _list_each(obj, kind, as_json)
            return
    records = obj.manager(kind).list(all_versions=all_versions)
    if as_json:
        render.print_json([r.to_json_dict() for r in records])
    else:
        render.records_table(records)


@click.command()
@click.argument("version")
@click.option(
    "--kind",
    type=ONE_KIND_CHOICE,
    default=None,
    help="Which kind's version (default: the model's, else the data's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@click.pass_obj
def show(obj: CliContext, version: str, kind: str | None, as_json: bool) -> None:
    """Show one version's metadata (VERSION: v0.3, model/v0.3 or data/v0.3)."""
    from . import render

    named = kind or kind_named(version)
    if named is not None:
        record = obj.manager(named).show(version)
    else:  # a bare version: the model's, else the data's; never silently one of two
        found = [r for r in (_find(obj, k, version) for k in ("model", "data")) if r]
        if not found:
            obj.manager("model").show(version)  # raises VersionNotFoundError with its hint
        record = found[0]
        if len(found) > 1:
            render.info(f"{found[1].tag} also exists: `cpv show {found[1].tag}` shows it.")
    if as_json:
        render.print_json(record.to_json_dict())
    else:
        render.record_detail(record)


def _find(obj: CliContext, kind: str, version: str) -> VersionRecord | None:
    from cpv.errors import UsageError, VersionNotFoundError

    try:
        return obj.manager(kind).show(version)
    except (VersionNotFoundError, UsageError):  # an alias of the other kind: not this one
        return None


@click.command()
@click.argument("version_a")
@click.argument("version_b")
@click.option(
    "--kind",
    type=ONE_KIND_CHOICE,
    default=None,
    help="Which kind's versions (default model).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_obj
def diff(obj: CliContext, version_a: str, version_b: str, kind: str | None, as_json: bool) -> None:
    """Compare two versions' metrics, sizes and metadata."""
    from . import render

    manager = obj.manager(kind or kind_named(version_a, version_b) or "model")
    result = manager.diff(version_a, version_b)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.diff_result(result)


@click.command()
@click.argument("version")
@click.argument("kind", type=KIND_CHOICE, required=False)
@click.option(
    "--dry-run", is_flag=True, help="Check that the version can be restored; change nothing."
)
@click.option(
    "--force", is_flag=True, help="Revert over uncommitted changes (saved to the cache first)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def revert(
    obj: CliContext, version: str, kind: str | None, dry_run: bool, force: bool, as_json: bool
) -> None:
    """Restore VERSION's files into the workspace as a new commit (history and tags stay).

    KIND defaults to the kind VERSION names (data/v0.2), else model."""
    from . import render

    manager = obj.manager(kind or kind_named(version) or "model")
    result = manager.revert(version, force=force, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.revert_result(result)


def register(cli: click.Group) -> None:
    """Add the version commands to the ``cpv`` group."""
    for command in (tag, list_, show, diff, revert):
        cli.add_command(command)


def _list_each(obj: CliContext, kind: str, as_json: bool) -> None:
    """``cpv list --all`` in a folder of model repositories: each one's versions."""
    from cpv.managers import manager_for

    from ._batch import run_all

    def versions(path: Path) -> list[dict[str, Any]]:
        return [r.to_json_dict() for r in manager_for(kind, path).list()]

    run_all(obj, "list", versions, as_json=as_json)
