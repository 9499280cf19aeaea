"""``cpv push``, ``pull``, ``clone`` and ``verify``: parse, call the manager, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from cpv.cli.versions_cmds import KIND_CHOICE

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


_ALL_HELP = "Every model repository in this folder (below it); not inside a repository."


def _each(
    obj: CliContext, command: str, action: Callable[[Any], Any], kind: str, as_json: bool
) -> None:
    """``command --all``: ``action`` on the manager of each model repository here."""
    from cpv.batch import refuse_inside_repo
    from cpv.managers import manager_for

    from ._batch import run_all

    refuse_inside_repo(obj.path, command)
    run_all(
        obj,
        command,
        lambda path: action(manager_for(kind, path, progress=obj.progress)),
        as_json=as_json,
    )


@click.command()
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel uploads.")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed; change nothing.")
@click.option("--all", "all_models", is_flag=True, help=_ALL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def push(obj: CliContext, jobs: int | None, dry_run: bool, all_models: bool, as_json: bool) -> None:
    """Upload data, then push the branch and new version tags atomically."""
    from . import render

    if all_models:
        _each(obj, "push", lambda m: m.push(jobs=jobs, dry_run=dry_run), "all", as_json)
        return
    result = obj.manager("all").push(jobs=jobs, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render.push_result(result)


@click.command()
@click.argument("version", required=False)
@click.argument("kind", type=KIND_CHOICE, default="all")
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel downloads.")
@click.option("--force", is_flag=True, help="Overwrite uncommitted changes in the workspace.")
@click.option("--all", "all_models", is_flag=True, help=_ALL_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def pull(
    obj: CliContext,
    version: str | None,
    kind: str,
    jobs: int | None,
    force: bool,
    all_models: bool,
    as_json: bool,
) -> None:
    """Fetch the latest branch (or VERSION's bytes) from the remotes, hash-verified."""
    from . import render

    if all_models:
        _each(obj, "pull", lambda m: m.pull(version, jobs=jobs, force=force), kind, as_json)
        return
    result = obj.manager(kind).pull(version, jobs=jobs, force=force)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.pull_result(result)


@click.command()
@click.argument("source", metavar="TEAM/MODEL|GIT_URL")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option(
    "--version", default=None, help="Materialize this version instead of the branch head."
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel downloads.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def clone(
    obj: CliContext,
    source: str,
    path: str | None,
    version: str | None,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Clone a model repository and fetch its bytes (verified)."""
    from cpv.managers import CombinedCheckpoints

    from . import render

    manager, result = CombinedCheckpoints.clone(
        source,
        obj.path / path if path else None,
        version=version,
        jobs=jobs,
        progress=obj.progress,
    )
    if as_json:
        render.print_json(
            {"path": str(manager.root), **result.model_dump(mode="json", by_alias=True)}
        )
    else:
        render.console.print(f"cloned into {manager.root}")
        render.pull_result(result)


@click.command()
@click.argument("versions", nargs=-1)
@click.option("--all", "all_versions", is_flag=True, help="Every version (default: HEAD's).")
@click.option("--remote", is_flag=True, help="Check the storage too (one listing).")
@click.option("--deep", is_flag=True, help="Re-hash every object (with --remote: download it).")
@click.option("--repair", is_flag=True, help="Fetch or upload again what is missing or corrupt.")
@click.option("--kind", type=KIND_CHOICE, default="all", help="Versions of this kind only.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def verify(
    obj: CliContext,
    versions: tuple[str, ...],
    all_versions: bool,
    remote: bool,
    deep: bool,
    repair: bool,
    kind: str,
    as_json: bool,
) -> None:
    """Check every object of VERSIONS locally (and in the storage); exit 1 if any is
    missing or corrupt."""
    from cpv.errors import IntegrityError

    from . import render

    result = obj.manager(kind).verify(
        versions, all_versions=all_versions, remote=remote, deep=deep, repair=repair
    )
    if as_json:
        render.print_json({"ok": result.ok, **result.model_dump(mode="json")})
    else:
        render.verify_result(result)
    if not result.ok:
        bad = sum(len(v.missing_local) + len(v.missing_remote) for v in result.versions)
        refused = [v.version for v in result.versions if v.refused is not None]
        problems = [f"{bad} object(s) missing or corrupt"] if bad or not refused else []
        if refused:
            problems.append(f"{', '.join(refused)} refused: not an object id (see above)")
        raise IntegrityError(
            "; ".join(problems),
            hint="Run `cpv verify --repair` (add --remote for the storage's copies)."
            if not repair and bad
            else "A refused version was not made by cpv or DVC: ask who pushed it."
            if not bad
            else "What is left has no good copy on either side: re-create those versions.",
        )


def register(cli: click.Group) -> None:
    """Add the commands exchanging with the remotes to the ``cpv`` group."""
    for command in (push, pull, clone, verify):
        cli.add_command(command)
