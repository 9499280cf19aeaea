"""``cpv templates``: the training scaffolds ``cpv init --template NAME`` can render."""

from __future__ import annotations

import click


@click.command("templates", short_help="List the training templates for `cpv init`.")
@click.option("--json", "as_json", is_flag=True, help="Print the templates as JSON.")
def templates_command(as_json: bool) -> None:
    """List the training templates, with a one-line description each."""
    from cpv.cli.render import base as render
    from cpv.core.templating import list_templates

    infos = list_templates()
    if as_json:
        render.print_json([{"name": t.name, "description": t.description} for t in infos])
        return
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("template")
    table.add_column("description")
    for info in infos:
        table.add_row(info.name, info.description)
    render.console.print(table)
    render.info("Use one with `cpv init TEAM/MODEL --template NAME`.")
