"""``cpv promote``, ``demote`` and ``aliases``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.versions_cmds import ONE_KIND_CHOICE

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command()
@click.argument("version")
@click.argument("alias")
@click.option(
    "--kind",
    type=ONE_KIND_CHOICE,
    default=None,
    help="Which kind's version a bare VERSION means (default: the model's, else the data's).",
)
@click.option("-m", "--message", default="", help="Why, stored with the move.")
@click.option(
    "--force",
    is_flag=True,
    help="Promote even if VERSION fails ALIAS's promotion rules in cpv.yaml (recorded in the move).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the move as JSON.")
@click.pass_obj
def promote(
    obj: CliContext, version: str, alias: str, kind: str | None, message: str, force: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Point ALIAS (prod, staging …) at VERSION (v0.3, latest, best, another alias)."""
    from . import render, render_aliases

    move = obj.manager(kind or "all").promote(version, alias, message=message, force=force)
    if as_json:
        render.print_json(move.model_dump(mode="json"))
    else:
        render_aliases.promote_result(move)


@click.command()
@click.argument("alias")
@click.option("-m", "--message", default="", help="Why, stored with the move.")
@click.option("--json", "as_json", is_flag=True, help="Print the move as JSON.")
@click.pass_obj
def demote(obj: CliContext, alias: str, message: str, as_json: bool) -> None:
    """Make ALIAS point at nothing (its history stays)."""
    from . import render, render_aliases

    move = obj.manager("all").demote(alias, message=message)
    if as_json:
        render.print_json(move.model_dump(mode="json"))
    else:
        render_aliases.demote_result(move)


@click.command()
@click.option("--history", is_flag=True, help="Every move of every alias, oldest first.")
@click.option("--json", "as_json", is_flag=True, help="Print the aliases as JSON.")
@click.pass_obj
def aliases(obj: CliContext, history: bool, as_json: bool) -> None:
    """List the aliases and the version each points at."""
    from . import render, render_aliases

    moves = obj.manager("all").aliases(history=history)
    if as_json:
        render.print_json([m.model_dump(mode="json", exclude={"changed"}) for m in moves])
    elif history:
        render_aliases.alias_history(moves)
    else:
        render_aliases.alias_table(moves)


def register(cli: click.Group) -> None:
    """Add the alias commands to the ``cpv`` group."""
    for command in (promote, demote, aliases):
        cli.add_command(command)
