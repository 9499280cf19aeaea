"""``cpv compare``: parse, call the manager, render (a table, ``--json``, an HTML report,
a PNG of the charts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cpv.cli.completion import complete_version
from cpv.cli.options import ONE_KIND, json_option, kind_option

if TYPE_CHECKING:
    from cpv.cli.main import CliContext

_FILE = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.command(short_help="Compare versions side by side (table, HTML, PNG).")
@click.argument("versions", nargs=-1, shell_complete=complete_version)
@click.option(
    "--last",
    type=click.IntRange(1),
    default=None,
    help="Compare the newest N versions (default 5 when no VERSIONS are named).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="Only this metric (repeat for more); NAME:min or NAME:max says which way is better.",
)
@click.option(
    "--against",
    type=click.Choice(["first", "best"]),
    default="first",
    help="Deltas against the first version (default) or each metric's best.",
)
@kind_option(choices=ONE_KIND, help="Which kind's versions (default model).")
@json_option("the comparison")
@click.option(
    "--html",
    "html_file",
    type=_FILE,
    default=None,
    help="Also write a self-contained HTML report (table and charts) to FILE.",
)
@click.option(
    "--png", "png_file", type=_FILE, default=None, help="Also write the charts as one PNG to FILE."
)
@click.pass_obj
def compare(
    obj: CliContext,
    versions: tuple[str, ...],
    last: int | None,
    metrics: tuple[str, ...],
    against: str,
    kind: str | None,
    as_json: bool,
    html_file: Path | None,
    png_file: Path | None,
) -> None:
    """Compare versions side by side: metrics (with deltas and the best), params, size, data
    version and aliases (VERSIONS: v0.3, latest, best, an alias; default: the last 5)."""
    from cpv.cli.commands.versions import kind_named
    from cpv.cli.render import base as render
    from cpv.cli.render import compare as render_compare

    if html_file or png_file:
        from cpv.report.charts import require

        require()  # before any work: a missing extra is one line, with the install hint
    manager = obj.manager(kind or kind_named(*versions) or "model")
    result = manager.compare(versions, last=last, metrics=metrics or None, against=against)
    if html_file is not None:
        from cpv.report.html import write_html

        render.info(f"wrote {write_html(result, html_file)}")
    if png_file is not None:
        from cpv.report.html import write_png

        render.info(f"wrote {write_png(result, png_file)}")
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render_compare.comparison_table(result)
