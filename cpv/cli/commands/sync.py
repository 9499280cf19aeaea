"""``cpv push``, ``pull``, ``clone`` and ``verify``: parse, call the manager, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from cpv.cli.completion import complete_version
from cpv.cli.options import (
    all_versions_option,
    dry_run_option,
    either,
    jobs_option,
    json_option,
    kind_option,
    old_kind_argument,
    old_version_option,
    recursive_option,
    resolve_kind,
)

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


def _each(
    obj: CliContext, command: str, action: Callable[[Any], Any], kind: str, as_json: bool
) -> None:
    """``command --recursive``: ``action`` on the manager of each model repository here."""
    from cpv.api.managers import manager_for
    from cpv.cli.commands._batch import run_all
    from cpv.core.batch import refuse_inside_repo

    refuse_inside_repo(obj.path, command)
    run_all(
        obj,
        command,
        lambda path: action(manager_for(kind, path, progress=obj.progress)),
        as_json=as_json,
    )


@click.command(short_help="Publish: upload data, then push branch and tags.")
@jobs_option("uploads")
@dry_run_option("be pushed")
@recursive_option("push")
@json_option()
@click.pass_obj
def push(
    obj: CliContext,
    jobs: int | None,
    dry_run: bool,
    recursive: bool,
    old_all: bool,
    as_json: bool,
) -> None:
    """Upload data, then push the branch and new version tags atomically."""
    from cpv.cli.render import base as render

    if recursive or old_all:
        _each(obj, "push", lambda m: m.push(jobs=jobs, dry_run=dry_run), "all", as_json)
        return
    result = obj.manager("all").push(jobs=jobs, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render.push_result(result)


@click.command(short_help="Fetch the latest, or one version's bytes, verified.")
@click.argument("version", required=False, shell_complete=complete_version)
@old_kind_argument("pull")
@kind_option(default="all", help="Which kind's bytes to fetch.")
@jobs_option("downloads")
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite uncommitted changes in the workspace (kept first under refs/cpv/backups/).",
)
@recursive_option("pull")
@json_option()
@click.pass_obj
def pull(
    obj: CliContext,
    version: str | None,
    old_kind: str | None,
    kind: str,
    jobs: int | None,
    force: bool,
    recursive: bool,
    old_all: bool,
    as_json: bool,
) -> None:
    """Fetch the latest branch (or VERSION's bytes) from the remotes, hash-verified."""
    from cpv.cli.render import base as render
    from cpv.cli.render import sync as render_sync

    kind = resolve_kind(None if kind == "all" else kind, old_kind) or "all"
    if recursive or old_all:
        _each(obj, "pull", lambda m: m.pull(version, jobs=jobs, force=force), kind, as_json)
        return
    result = obj.manager(kind).pull(version, jobs=jobs, force=force)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render_sync.pull_result(result)


@click.command(short_help="Clone a model repository and fetch its bytes.")
@click.argument("source", metavar="TEAM/MODEL|GIT_URL")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option(
    "--ref",
    "version",
    default=None,
    metavar="REF",
    help="Materialize this version (or alias, latest, best) instead of the branch head.",
)
@old_version_option("clone", "--ref")
@jobs_option("downloads")
@json_option()
@click.pass_obj
def clone(
    obj: CliContext,
    source: str,
    path: str | None,
    version: str | None,
    old_version: str | None,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Clone a model repository and fetch its bytes (verified)."""
    from cpv.api.managers import CombinedCheckpoints
    from cpv.cli.render import base as render
    from cpv.cli.render import sync as render_sync

    manager, result = CombinedCheckpoints.clone(
        source,
        obj.path / path if path else None,
        version=either(version, old_version, names="--ref and --version"),
        jobs=jobs,
        progress=obj.progress,
    )
    if as_json:
        render.print_json(
            {"path": str(manager.root), **result.model_dump(mode="json", by_alias=True)}
        )
    else:
        render.console.print(f"cloned into {manager.root}")
        render_sync.pull_result(result)


@click.command(short_help="Check every object of versions, here and in storage.")
@click.argument("versions", nargs=-1, shell_complete=complete_version)
@all_versions_option("verify", help="Every version (default: HEAD's).")
@click.option("--remote", is_flag=True, help="Check the storage too (one listing).")
@click.option("--deep", is_flag=True, help="Re-hash every object (with --remote: download it).")
@click.option("--repair", is_flag=True, help="Fetch or upload again what is missing or corrupt.")
@kind_option(default="all", help="Versions of this kind only.")
@json_option()
@click.pass_obj
def verify(
    obj: CliContext,
    versions: tuple[str, ...],
    all_versions: bool,
    old_all: bool,
    remote: bool,
    deep: bool,
    repair: bool,
    kind: str,
    as_json: bool,
) -> None:
    """Check every object of VERSIONS locally (and in the storage); exit 1 if any is
    missing or corrupt."""
    from cpv.cli.render import base as render
    from cpv.cli.render import sync as render_sync
    from cpv.domain.errors import IntegrityError

    result = obj.manager(kind).verify(
        versions, all_versions=all_versions or old_all, remote=remote, deep=deep, repair=repair
    )
    if as_json:
        render.print_json({"ok": result.ok, **result.model_dump(mode="json")})
    else:
        render_sync.verify_result(result)
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
