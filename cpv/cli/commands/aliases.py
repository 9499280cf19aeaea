"""``cpv promote``, ``demote`` and ``aliases``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.completion import complete_alias, complete_version
from cpv.cli.options import ONE_KIND, json_option, kind_option, message_option

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command(short_help="Point an alias (prod, staging …) at a version.")
@click.argument("version", shell_complete=complete_version)
@click.argument("alias", shell_complete=complete_alias)
@kind_option(
    choices=ONE_KIND,
    help="Which kind's version a bare VERSION means (default: the model's, else the data's).",
)
@message_option(help="Why, stored with the move.")
@click.option(
    "--force",
    is_flag=True,
    help="Promote even if VERSION fails ALIAS's promotion rules in cpv.yaml (recorded in the move).",
)
@json_option("the move")
@click.pass_obj
def promote(
    obj: CliContext, version: str, alias: str, kind: str | None, message: str, force: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Point ALIAS (prod, staging …) at VERSION (v0.3, latest, best, another alias)."""
    from cpv.cli.render import aliases as render_aliases
    from cpv.cli.render import base as render

    move = obj.manager(kind or "all").promote(version, alias, message=message, force=force)
    if as_json:
        render.print_json(move.model_dump(mode="json"))
    else:
        render_aliases.promote_result(move)


@click.command(short_help="Make an alias point at nothing (history stays).")
@click.argument("alias", shell_complete=complete_alias)
@message_option(help="Why, stored with the move.")
@json_option("the move")
@click.pass_obj
def demote(obj: CliContext, alias: str, message: str, as_json: bool) -> None:
    """Make ALIAS point at nothing (its history stays)."""
    from cpv.cli.render import aliases as render_aliases
    from cpv.cli.render import base as render

    move = obj.manager("all").demote(alias, message=message)
    if as_json:
        render.print_json(move.model_dump(mode="json"))
    else:
        render_aliases.demote_result(move)


@click.command(short_help="List the aliases and the version each points at.")
@click.option("--history", is_flag=True, help="Every move of every alias, oldest first.")
@json_option("the aliases")
@click.pass_obj
def aliases(obj: CliContext, history: bool, as_json: bool) -> None:
    """List the aliases and the version each points at."""
    from cpv.cli.render import aliases as render_aliases
    from cpv.cli.render import base as render

    moves = obj.manager("all").aliases(history=history)
    if as_json:
        render.print_json([m.model_dump(mode="json", exclude={"changed"}) for m in moves])
    elif history:
        render_aliases.alias_history(moves)
    else:
        render_aliases.alias_table(moves)
