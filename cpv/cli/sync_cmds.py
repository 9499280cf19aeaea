"""``cpv push``, ``pull`` and ``clone``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.versions_cmds import KIND_CHOICE

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command()
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel uploads.")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def push(obj: CliContext, jobs: int | None, dry_run: bool, as_json: bool) -> None:
    """Upload data, then push the branch and new version tags atomically."""
    from . import render

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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def pull(
    obj: CliContext, version: str | None, kind: str, jobs: int | None, force: bool, as_json: bool
) -> None:
    """Fetch the latest branch (or VERSION's bytes) from the remotes, hash-verified."""
    from . import render

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


def register(cli: click.Group) -> None:
    """Add the commands exchanging with the remotes to the ``cpv`` group."""
    for command in (push, pull, clone):
        cli.add_command(command)
