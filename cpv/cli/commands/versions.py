"""``cpv tag``, ``list``, ``show``, ``diff`` and ``revert``: parse, call the manager, render."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from cpv.cli.main import CliContext
    from cpv.domain.metadata import VersionRecord

from cpv.cli.completion import complete_version
from cpv.cli.options import (
    ONE_KIND,
    deprecated,
    dry_run_option,
    either,
    json_option,
    kind_option,
    message_option,
    old_kind_argument,
    old_version_option,
    recursive_option,
    resolve_kind,
)


def kind_named(*versions: str) -> str | None:
    """The kind the first kind-qualified version names (``data/v0.2`` -> ``data``), if any."""
    from cpv.core.refs import is_reference_word
    from cpv.domain.versions import parse_version_arg

    for text in versions:
        if is_reference_word(text):
            continue  # latest, best, an alias: the resolver picks the kind
        kind, _ = parse_version_arg(text)
        if kind is not None:
            return kind.value
    return None


@click.command(short_help="Version the weights, the data, or both.")
@old_kind_argument("tag")
@kind_option(help="model (default: checkpoints/), data (data/) or all (both, one number).")
@click.option(
    "--as",
    "version",
    default=None,
    metavar="V",
    help="Explicit version, e.g. v1.0 (must be new and above the latest).",
)
@old_version_option("tag", "--as")
@click.option(
    "--bump",
    type=click.Choice(["minor", "major"]),
    default=None,
    help="Which part of the version to increase (default: minor); not with --as.",
)
@message_option(help="What changed in this version.")
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
    "--param",
    "param_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A hyperparameter to record (repeatable); adds to the params files' values.",
)
@click.option(
    "--force", is_flag=True, help="Tag even if unchanged, or an explicit version below the latest."
)
@dry_run_option("be tagged")
@json_option()
@click.pass_obj
def tag(
    obj: CliContext,
    old_kind: str | None,
    kind: str | None,
    version: str | None,
    old_version: str | None,
    bump: str | None,
    message: str,
    metric_pairs: tuple[str, ...],
    metrics_file: Path | None,
    param_pairs: tuple[str, ...],
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Version the model weights, the data, or both (all) under the next number."""
    from cpv.cli.render import base as render
    from cpv.domain.metrics import load_metrics_file, parse_metric_assignments
    from cpv.domain.params import parse_param_assignments

    metrics = load_metrics_file(obj.path / metrics_file) if metrics_file else {}
    metrics.update(parse_metric_assignments(metric_pairs))
    result = obj.manager(resolve_kind(kind, old_kind) or "model").tag(
        message=message,
        metrics=metrics,
        params=parse_param_assignments(param_pairs) if param_pairs else None,
        version=either(version, old_version, names="--as and --version"),
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


@click.command(name="list", short_help="List versions, oldest first, with their aliases.")
@old_kind_argument("list")
@kind_option(default="all", help="Versions of this kind only.")
@click.option("--deleted", is_flag=True, help="Include the versions `cpv delete` removed.")
@recursive_option("list")
@json_option("the versions")
@click.pass_obj
def list_(
    obj: CliContext,
    old_kind: str | None,
    kind: str,
    deleted: bool,
    recursive: bool,
    old_all: bool,
    as_json: bool,
) -> None:
    """List versions (oldest first), with their aliases; deleted ones only with --deleted."""
    from cpv.cli.render import base as render

    kind = resolve_kind(None if kind == "all" else kind, old_kind) or "all"
    if old_all:  # the old --all: deleted versions here, every repository in a folder
        from cpv.core.batch import inside_model_repo

        here = inside_model_repo(obj.path)
        deprecated("cpv list --all", "cpv list --deleted" if here else "cpv list --recursive")
        deleted, recursive = deleted or here, recursive or not here
    if recursive:
        from cpv.core.batch import refuse_inside_repo

        refuse_inside_repo(obj.path, "list")
        _list_each(obj, kind, deleted, as_json)
        return
    records = obj.manager(kind).list(all_versions=deleted)
    if as_json:
        render.print_json([r.to_json_dict() for r in records])
    else:
        render.records_table(records)


@click.command(short_help="Show one version's metadata, metrics and params.")
@click.argument("version", shell_complete=complete_version)
@kind_option(choices=ONE_KIND, help="Which kind's version (default: the model's, else the data's).")
@json_option("the version")
@click.pass_obj
def show(obj: CliContext, version: str, kind: str | None, as_json: bool) -> None:
    """Show one version's metadata (VERSION: v0.3, model/v0.3 or data/v0.3)."""
    from cpv.cli.render import base as render

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
    from cpv.domain.errors import UsageError, VersionNotFoundError

    try:
        return obj.manager(kind).show(version)
    except (VersionNotFoundError, UsageError):  # an alias of the other kind: not this one
        return None


@click.command(short_help="Compare two versions: metrics, params, sizes.")
@click.argument("version_a", shell_complete=complete_version)
@click.argument("version_b", shell_complete=complete_version)
@kind_option(choices=ONE_KIND, help="Which kind's versions (default model).")
@json_option("the comparison")
@click.pass_obj
def diff(obj: CliContext, version_a: str, version_b: str, kind: str | None, as_json: bool) -> None:
    """Compare two versions' metrics, params, sizes and metadata."""
    from cpv.cli.render import base as render

    manager = obj.manager(kind or kind_named(version_a, version_b) or "model")
    result = manager.diff(version_a, version_b)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.diff_result(result)


@click.command(short_help="Restore a version's files as a new commit.")
@click.argument("version", shell_complete=complete_version)
@old_kind_argument("revert")
@kind_option(help="Which kind to restore (default: the kind VERSION names, else model).")
@dry_run_option("be restored")
@click.option(
    "--force", is_flag=True, help="Revert over uncommitted changes (saved to the cache first)."
)
@json_option()
@click.pass_obj
def revert(
    obj: CliContext,
    version: str,
    old_kind: str | None,
    kind: str | None,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Restore VERSION's files into the workspace as a new commit (history and tags stay)."""
    from cpv.cli.render import base as render

    manager = obj.manager(resolve_kind(kind, old_kind) or kind_named(version) or "model")
    result = manager.revert(version, force=force, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.revert_result(result)


def _list_each(obj: CliContext, kind: str, deleted: bool, as_json: bool) -> None:
    """``cpv list --recursive`` in a folder of model repositories: each one's versions."""
    from cpv.api.managers import manager_for
    from cpv.cli.commands._batch import run_all

    def versions(path: Path) -> list[dict[str, Any]]:
        return [r.to_json_dict() for r in manager_for(kind, path).list(all_versions=deleted)]

    run_all(obj, "list", versions, as_json=as_json)
