"""``cpv gc``, ``cpv delete`` and ``cpv du``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.completion import complete_version
from cpv.cli.options import dry_run_option, json_option, message_option, pick_message

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command(short_help="Free the bytes of versions retention does not keep.")
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


@click.command(short_help="Mark a version removed and free its bytes.")
@click.argument("version", shell_complete=complete_version)
@click.option("--remote", is_flag=True, help="Delete the storage's copies too.")
@message_option(help="The reason, recorded in the removal marker.", command="delete")
@dry_run_option("be freed")
@json_option()
@click.pass_obj
def delete(
    obj: CliContext,
    version: str,
    remote: bool,
    message: str,
    old_why: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Mark VERSION removed for everyone and free the bytes no other version needs."""
    from . import render, render_gc

    why = pick_message(message, old_why)
    result = obj.manager("all").delete(version, remote=remote, dry_run=dry_run, why=why)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.delete_result(result)


@click.command(short_help="Bytes per version; cache and storage totals.")
@json_option()
@click.pass_obj
def du(obj: CliContext, as_json: bool) -> None:
    """Bytes per version (unique and shared), the cache and storage totals."""
    from . import render, render_gc

    result = obj.manager("all").du()
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.du_result(result)
