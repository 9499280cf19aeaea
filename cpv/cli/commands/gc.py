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
@click.option("--force", is_flag=True, help="Collect versions never pushed too (their only copy).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def gc(
    obj: CliContext,
    keep_last: int | None,
    keep_days: int | None,
    remote: bool,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Free the bytes of versions the retention policy does not keep.

    \b
    Always kept, here or on the git remote (read afresh before deciding):
      - every version an alias points at, and `best` (cpv.yaml's best:)
      - the latest version of each kind
      - the versions HEAD and every branch tip hold (yours and the remote's)
      - versions never pushed: your copy is the only one (--force drops them)
      - every object a kept version shares with a collected one
    With --remote the storage's copies go too, under a lease on the git remote:
    removal markers are published first, and pushes wait until the deletion ends.
    With `retention: training_state:` in cpv.yaml, also shows which older versions'
    optimizer/scheduler/RNG files the rule would drop (planned only: nothing is dropped).
    """
    from cpv.cli.render import base as render
    from cpv.cli.render import gc as render_gc

    result = obj.manager("all").gc(
        keep_last=keep_last, keep_days=keep_days, remote=remote, dry_run=dry_run, force=force
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
@click.option(
    "--force",
    is_flag=True,
    help="Delete a version never pushed too (its only copy is this clone's).",
)
@json_option()
@click.pass_obj
def delete(
    obj: CliContext,
    version: str,
    remote: bool,
    message: str,
    old_why: str | None,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Mark VERSION removed for everyone and free the bytes no other version needs."""
    from cpv.cli.render import base as render
    from cpv.cli.render import gc as render_gc

    why = pick_message(message, old_why)
    result = obj.manager("all").delete(
        version, remote=remote, dry_run=dry_run, why=why, force=force
    )
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.delete_result(result)


@click.command(short_help="Bytes per version, logical and stored; cache and storage totals.")
@json_option()
@click.pass_obj
def du(obj: CliContext, as_json: bool) -> None:
    """Bytes per version: logical (its files counted whole), stored (the objects no earlier
    version had) and their ratio, unique and shared in the cache; the cache and storage
    totals, and the savings over every kept version."""
    from cpv.cli.render import base as render
    from cpv.cli.render import gc as render_gc

    result = obj.manager("all").du()
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_gc.du_result(result)
