"""``cpv models``: parse, call the library, render."""

from __future__ import annotations

import click


@click.command(short_help="List every model in the configured storage.")
@click.option("--team", default=None, metavar="TEAM", help="List only this team's models.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def models(team: str | None, as_json: bool) -> None:
    """List every model in the configured storage, from the index each push keeps (no clone)."""
    from cpv.cli.render import base as render
    from cpv.cli.render import catalog as render_catalog
    from cpv.ops.models import models as list_models

    result = list_models(team=team)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render_catalog.models_table(result)
