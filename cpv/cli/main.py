"""``cpv`` commands. Each parses its arguments, calls the library and renders the result.

Exit codes (mapped here, in one place): 0 ok, 1 a :class:`CpvError`, 2 usage errors,
130 interrupted. Tracebacks only with ``CPV_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cpv import __version__
from cpv.errors import CpvError, UsageError
from cpv.versions import Kind

KIND_CHOICE = click.Choice(["model", "data", "all"])


def _kinds(kind: str) -> tuple[Kind, ...]:
    return (Kind.MODEL, Kind.DATA) if kind == "all" else (Kind(kind),)


class _Ctx:
    def __init__(self, path: Path) -> None:
        self.path = path


pass_ctx = click.make_pass_decorator(_Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    help="Run as if cpv was started in this directory.",
)
@click.version_option(__version__, prog_name="cpv", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, directory: str) -> None:
    """Checkpoint versioning for ML teams: one Git repo per model, bytes on DVC + S3."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise UsageError(f"-C {directory}: no such directory")
    ctx.obj = _Ctx(path.resolve())
    from cpv import locking

    from . import render

    locking.on_wait = render.info
    if sys.stderr.isatty() and not os.environ.get("CI"):
        from cpv import _dvc

        view = render.TransferProgress()
        _dvc.progress_sink = view
        ctx.call_on_close(view.stop)


@cli.command()
@click.argument("model_id", metavar="TEAM/MODEL")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option(
    "--template",
    default=None,
    help="Training scaffold to render (see `cpv templates`); 'none' for none.",
)
@click.option(
    "--storage",
    default=None,
    help="Storage root URL or path; the model goes to <storage>/<team>/<model>.",
)
@click.option(
    "--git-remote",
    default=None,
    help="Git remote URL for this model (default: from `cpv configure`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def init(
    obj: _Ctx,
    model_id: str,
    path: str | None,
    template: str | None,
    storage: str | None,
    git_remote: str | None,
    as_json: bool,
) -> None:
    """Create a model repository TEAM/MODEL (in ./MODEL unless PATH is given)."""
    from cpv.config import parse_model_id
    from cpv.repo import init_repository

    from . import render

    team, model = parse_model_id(model_id)
    dest = obj.path / (path or model)
    root = init_repository(
        team=team, model=model, path=dest, storage=storage, git_remote=git_remote, template=template
    )
    if as_json:
        render.print_json({"path": str(root), "team": team, "model": model})
    else:
        render.console.print(f"created {team}/{model} in {root}")


@cli.command()
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
    default="minor",
    show_default=True,
    help="Which part of the version to increase.",
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
@pass_ctx
def tag(
    obj: _Ctx,
    kind: str,
    version: str | None,
    bump: str,
    message: str,
    metric_pairs: tuple[str, ...],
    metrics_file: Path | None,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Version the model weights, the data, or both (all) under the next number."""
    from cpv.repo import ModelRepo
    from cpv.tagging import load_metrics_file, parse_metric_assignments, tag_versions

    from . import render

    metrics = load_metrics_file(obj.path / metrics_file) if metrics_file else {}
    metrics.update(parse_metric_assignments(metric_pairs))
    repo = ModelRepo.open(obj.path)
    result = tag_versions(
        repo,
        _kinds(kind),
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


@cli.command(name="list")
@click.argument("kind", type=KIND_CHOICE, default="all")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
@pass_ctx
def list_(obj: _Ctx, kind: str, as_json: bool) -> None:
    """List versions (oldest first)."""
    from cpv.repo import ModelRepo

    from . import render

    repo = ModelRepo.open(obj.path)
    records = repo.records(None if kind == "all" else Kind(kind))
    if as_json:
        render.print_json([r.to_json_dict() for r in records])
    else:
        render.records_table(records)


@cli.command()
@click.argument("version")
@click.option(
    "--kind",
    type=click.Choice(["model", "data"]),
    default=None,
    help="Which kind's version (default model).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the version as JSON.")
@pass_ctx
def show(obj: _Ctx, version: str, kind: str | None, as_json: bool) -> None:
    """Show one version's metadata (VERSION: v0.3, model/v0.3 or data/v0.3)."""
    from cpv import views
    from cpv.repo import ModelRepo

    from . import render

    record = views.show(ModelRepo.open(obj.path), version, kind=Kind(kind) if kind else None)
    if as_json:
        render.print_json(record.to_json_dict())
    else:
        render.record_detail(record)


@cli.command()
@click.argument("version_a")
@click.argument("version_b")
@click.option(
    "--kind",
    type=click.Choice(["model", "data"]),
    default=None,
    help="Which kind's versions (default model).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@pass_ctx
def diff(obj: _Ctx, version_a: str, version_b: str, kind: str | None, as_json: bool) -> None:
    """Compare two versions' metrics, sizes and metadata."""
    from cpv import views
    from cpv.repo import ModelRepo

    from . import render

    result = views.diff(
        ModelRepo.open(obj.path), version_a, version_b, kind=Kind(kind) if kind else None
    )
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.diff_result(result)


@cli.command()
@click.argument("version")
@click.argument("kind", type=KIND_CHOICE, default="model")
@click.option(
    "--dry-run", is_flag=True, help="Check that the version can be restored; change nothing."
)
@click.option(
    "--force", is_flag=True, help="Revert over uncommitted changes (saved to the cache first)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def revert(obj: _Ctx, version: str, kind: str, dry_run: bool, force: bool, as_json: bool) -> None:
    """Restore VERSION's files into the workspace as a new commit (history and tags stay)."""
    from cpv import restore
    from cpv.repo import ModelRepo
    from cpv.versions import parse_version_arg

    from . import render

    kind_arg, parsed = parse_version_arg(version)
    kinds = (kind_arg,) if kind_arg else _kinds(kind)
    result = restore.revert(ModelRepo.open(obj.path), parsed, kinds, force=force, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.revert_result(result)


@cli.command()
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel uploads.")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def push(obj: _Ctx, jobs: int | None, dry_run: bool, as_json: bool) -> None:
    """Upload data, then push the branch and new version tags atomically."""
    from cpv import sync

    from . import render

    result = sync.push(obj.path, jobs=jobs, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render.push_result(result)


@cli.command()
@click.argument("version", required=False)
@click.argument("kind", type=KIND_CHOICE, default="all")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel downloads.")
@click.option("--force", is_flag=True, help="Overwrite uncommitted changes in the workspace.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def pull(
    obj: _Ctx, version: str | None, kind: str, jobs: int | None, force: bool, as_json: bool
) -> None:
    """Fetch the latest branch (or VERSION's bytes) from the remotes, hash-verified."""
    from cpv import sync

    from . import render

    result = sync.pull(obj.path, version=version, kinds=_kinds(kind), jobs=jobs, force=force)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.pull_result(result)


@cli.command()
@click.argument("source", metavar="TEAM/MODEL|GIT_URL")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option(
    "--version", default=None, help="Materialize this version instead of the branch head."
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_ctx
def clone(
    obj: _Ctx, source: str, path: str | None, version: str | None, jobs: int | None, as_json: bool
) -> None:
    """Clone a model repository and fetch its bytes (verified)."""
    from cpv import sync

    from . import render

    root, result = sync.clone(source, obj.path / path if path else None, version=version, jobs=jobs)
    if as_json:
        render.print_json({"path": str(root), **result.model_dump(mode="json", by_alias=True)})
    else:
        render.console.print(f"cloned into {root}")
        render.pull_result(result)


@cli.command()
@click.option("--no-remote", is_flag=True, help="Do not contact the git remote.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def status(obj: _Ctx, no_remote: bool, as_json: bool) -> None:
    """What changed since the latest versions, and what is not pushed yet."""
    from cpv import views
    from cpv.repo import ModelRepo

    from . import render

    result = views.status(ModelRepo.open(obj.path), remote=not no_remote)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.status_result(result)


def _register_optional(name: str) -> None:
    """Command groups that live in their own modules (configure/doctor, templates)."""
    import importlib

    try:
        module = importlib.import_module(f"cpv.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"cpv.cli.{name}":
            return
        raise
    register: Callable[[click.Group], None] = module.register
    register(cli)


for _name in ("setup_cmds", "template_cmds"):
    _register_optional(_name)


def main(argv: list[str] | None = None) -> Any:
    debug = os.environ.get("CPV_DEBUG") == "1"
    from . import render

    try:
        return cli.main(args=argv, prog_name="cpv", standalone_mode=False)
    except CpvError as exc:
        if debug:
            raise
        render.error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if debug:
            raise
        render.error(exc.format_message(), "Run `cpv --help` or `cpv COMMAND --help` for usage.")
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        render.error("aborted", "")
        sys.exit(130)
    except KeyboardInterrupt:
        render.error(
            "interrupted", "Run the command again; any half-done change is repaired automatically."
        )
        sys.exit(130)


if __name__ == "__main__":
    main()
