"""``cpv gc``, ``cpv delete`` and ``cpv du``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command()
@click.option(
    "--keep-last",
    type=click.IntRange(1),
    default=None,
    help="Keep the last N versions of each kind.",
)
@click.option(
    "--keep-days",
    type=click.IntRange(0),
    default=None,
    help="Keep the versions of the last D days.",
)
@click.option(
    "--remote", is_flag=True, help="Delete the storage's copies too, and mark the versions removed."
)
@click.option("--dry-run", is_flag=True, help="Show what would be collected; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def gc(
    obj: CliContext,
    keep_last: int | None,
    keep_days: int | None,
    remote: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Free the bytes of versions the retention policy does not keep."""
    from . import render, render_gc

    result = obj.manager("all").gc(
        keep_last=keep_last, keep_days=keep_days, remote=remote, dry_run=dry_run
    )
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.gc_result(result)


@click.command()
@click.argument("version")
@click.option("--remote", is_flag=True, help="Delete the storage's copies too.")
@click.option("--why", default="", help="The reason, recorded in the removal marker.")
@click.option("--dry-run", is_flag=True, help="Show what would be freed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def delete(
    obj: CliContext, version: str, remote: bool, why: str, dry_run: bool, as_json: bool
) -> None:
    """Mark VERSION removed for everyone and free the bytes no other version needs."""
    from . import render, render_gc

    result = obj.manager("all").delete(version, remote=remote, dry_run=dry_run, why=why)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.delete_result(result)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def du(obj: CliContext, as_json: bool) -> None:
    """Bytes per version (unique and shared), the cache and storage totals."""
    from . import render, render_gc

    result = obj.manager("all").du()
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.du_result(result)


def register(cli: click.Group) -> None:
    """Add the retention commands to the ``cpv`` group."""
    for command in (gc, delete, du):
        cli.add_command(command)
