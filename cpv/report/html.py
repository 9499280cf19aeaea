"""A comparison as one self-contained HTML page, or its charts as one PNG.

::

    from cpv import ModelCheckpoints
    from cpv.report.html import write_html, write_png

    comparison = ModelCheckpoints(".").compare(["v0.1", "v0.3", "prod"])
    write_html(comparison, Path("report.html"))

The page holds everything inline: its styles, the table, and each chart as an ``<svg>``
element (drawn by matplotlib, :mod:`cpv.report.charts`). It has no script, no link, no
image file and no URL to fetch: it opens offline, from an e-mail or an artifact store, and
renders the same everywhere. It leads with what people compare: the metrics (each version's
value, its change, the best), the params that differ (those equal everywhere on one line),
the charts of the metrics and the training curves; then the details (message, size, time,
author, commit). Everything that comes from a repository (metric and param
names, values, messages, authors, aliases) is escaped.
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpv.domain.errors import PathNotWritableError
from cpv.domain.metadata import ShardLayout
from cpv.domain.paths import StrPath, as_path
from cpv.domain.units import human_size
from cpv.report import charts as report_charts

if TYPE_CHECKING:
    from cpv.domain.comparison import Comparison, MetricRow

__all__ = ["render_html", "write_html", "write_png"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2937;
       margin: 2rem auto; max-width: 1200px; padding: 0 1rem; background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .2rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .6rem; }
.sub { color: #6b7280; margin: 0 0 1.2rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid #e5e7eb; text-align: right;
         vertical-align: top; }
th:first-child, td:first-child { text-align: left; color: #374151; }
thead th { background: #f3f4f6; position: sticky; top: 0; }
tr.section td { background: #fafafa; font-weight: 600; text-align: left; padding-top: .8rem; }
td.text { text-align: left; max-width: 18rem; overflow-wrap: anywhere; }
.delta { display: block; font-size: .8rem; color: #6b7280; }
.better { color: #15803d; } .worse { color: #b91c1c; }
.best { font-weight: 700; } .best::after { content: " \\2605"; color: #d97706; }
.differs td:first-child { font-weight: 600; } tr.same td { color: #6b7280; }
.alias { display: inline-block; background: #e0e7ff; color: #3730a3; border-radius: 4px;
         padding: 0 .35rem; margin: 0 0 .1rem .2rem; font-size: .8rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr));
          gap: 1rem; }
figure { margin: 0; border: 1px solid #e5e7eb; border-radius: 6px; padding: .4rem; }
figure svg { width: 100%; height: auto; display: block; }
footer { color: #9ca3af; font-size: .8rem; margin-top: 2rem; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _delta_class(delta: float, direction: str | None) -> str:
    if delta == 0 or direction is None:
        return ""
    return "better" if (delta < 0) == (direction == "min") else "worse"


def _metric_cells(row: MetricRow, tags: list[str]) -> str:
    cells = []
    for tag, value, delta in zip(tags, row.values, row.deltas, strict=True):
        classes = "best" if tag == row.best else ""
        text = f'<span class="{classes}">{_e(_fmt(value))}</span>'
        if delta is not None and tag != row.baseline:
            text += f'<span class="delta {_delta_class(delta, row.direction)}">{delta:+.4g}</span>'
        cells.append(f"<td>{text}</td>")
    way = {"min": " ↓", "max": " ↑"}.get(row.direction or "", "")
    return f"<tr><td>{_e(row.name)}{way}</td>{''.join(cells)}</tr>"


def _head(comparison: Comparison) -> str:
    """The header row: each version's tag and the aliases pointing at it."""
    cells = "".join(
        f"<th>{_e(v.tag)}"
        + "".join(f'<br><span class="alias">{_e(a)}</span>' for a in v.aliases)
        + "</th>"
        for v in comparison.versions
    )
    return f"<thead><tr><th>version</th>{cells}</tr></thead>"


def _details_rows(comparison: Comparison) -> list[str]:
    """The bookkeeping, after what people compare: message, size, time, author, data."""
    vs = comparison.versions
    sizes = [
        _e(human_size(v.size_bytes))
        + (
            f'<span class="delta">{"+" if d > 0 else "−"}{_e(human_size(abs(d)))}</span>'
            if d
            else ""
        )
        for v, d in zip(vs, comparison.size_deltas or [0] * len(vs), strict=True)
    ]
    fields: list[tuple[str, list[str], bool]] = [
        ("message", [_e(v.message or "–") for v in vs], True),
        ("size", sizes, False),
        ("files", [_e(v.file_count) for v in vs], False),
        ("data version", [_e(v.data_version or "–") for v in vs], False),
        *(
            [("ranks", [_ranks(v.distributed) for v in vs], True)]
            if any(v.distributed for v in vs)
            else []
        ),
        ("created", [_e(v.created_at.replace("T", " ")[:16]) for v in vs], False),
        ("author", [_e(v.author or "–") for v in vs], True),
        ("commit", [_e(v.commit[:12] or "–") for v in vs], False),
    ]
    return [
        f"<tr><td>{_e(name)}</td>"
        + "".join(f'<td class="text">{c}</td>' if text else f"<td>{c}</td>" for c in cells)
        + "</tr>"
        for name, cells, text in fields
    ]


#: Ranks a report cell lists (a save by thousands of ranks says how many more).
_RANKS_SHOWN = 8


def _ranks(layout: ShardLayout | None) -> str:
    """A distributed version's world size and each rank's files (escaped: read from a tag)."""
    if layout is None:
        return "–"
    lines = [f"{layout.world_size} rank" + ("" if layout.world_size == 1 else "s")]
    for r in layout.ranks[:_RANKS_SHOWN]:
        lines.append(f"rank {r.rank}: {r.file_count} file(s), {human_size(r.size_bytes)}")
    if len(layout.ranks) > _RANKS_SHOWN:
        lines.append(f"and {len(layout.ranks) - _RANKS_SHOWN} more")
    return "<br>".join(_e(line) for line in lines)


def _param_rows(comparison: Comparison, span: int) -> list[str]:
    """The params that differ, one row each; those equal in every version on one line."""
    rows = []
    for p in comparison.params:
        if p.differs:
            cells = "".join(
                f"<td>{_e(_fmt(v))}</td>" if _number(v) else f'<td class="text">{_e(_fmt(v))}</td>'
                for v in p.values
            )
            rows.append(f'<tr class="differs"><td>{_e(p.name)}</td>{cells}</tr>')
    same = [p for p in comparison.params if not p.differs]
    if same:
        text = ", ".join(f"{p.name}={_fmt(p.values[0])}" for p in same)
        rows.append(
            f'<tr class="same"><td>the same in all</td>'
            f'<td class="text" colspan="{span - 1}">{_e(text)}</td></tr>'
        )
    return rows


def _table(comparison: Comparison) -> str:
    """What people compare: the metrics (★ best), then the params."""
    tags = comparison.tags
    span = len(tags) + 1
    rows = []
    if comparison.metrics:
        baseline = "each metric's best" if comparison.against == "best" else tags[0]
        rows.append(
            f'<tr class="section"><td colspan="{span}">metrics '
            f"(changes against {_e(baseline)}; ★ best)</td></tr>"
        )
        rows += [_metric_cells(r, tags) for r in comparison.metrics]
    if comparison.params:
        rows.append(f'<tr class="section"><td colspan="{span}">params</td></tr>')
        rows += _param_rows(comparison, span)
    if not rows:
        rows.append(f'<tr><td colspan="{span}">no metrics or params recorded</td></tr>')
    return _wrap(comparison, "compared", rows)


def _details(comparison: Comparison) -> str:
    return _wrap(comparison, "details", _details_rows(comparison))


def _wrap(comparison: Comparison, name: str, rows: list[str]) -> str:
    return (
        f'<table id="{name}">{_head(comparison)}\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def _figures(charts: list[tuple[str, str]], label: str) -> str:
    return "\n".join(
        f'<figure aria-label="{_e(name)} {label}">{svg}</figure>' for name, svg in charts
    )


def render_html(comparison: Comparison) -> str:
    """The page, as text (see the module's docstring).

    Raises:
        MissingExtraError: matplotlib (the ``report`` extra) is not installed.
    """
    metric_charts, curve_charts = report_charts.svg_charts(comparison)
    name = f"{comparison.team}/{comparison.model}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)}: {_e(', '.join(comparison.tags))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(name)}</h1>",
        f'<p class="sub">{len(comparison.versions)} version(s) compared: '
        f"{_e(', '.join(comparison.tags))}</p>",
        _table(comparison),
    ]
    if metric_charts:
        parts += ["<h2>Metrics across versions</h2>", '<div class="charts" id="metrics">']
        parts += [_figures(metric_charts, "across versions"), "</div>"]
    if curve_charts:
        parts += ["<h2>Training curves</h2>", '<div class="charts" id="curves">']
        parts += [_figures(curve_charts, "during training"), "</div>"]
    parts += ["<h2>Details</h2>", _details(comparison)]
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts += [f"<footer>cpv compare, {made}</footer>", "</body></html>", ""]
    return "\n".join(parts)


def write_html(comparison: Comparison, path: StrPath) -> Path:
    """Write the page to ``path`` (replaced if it exists; missing folders are created); returns
    ``path``.

    Raises:
        MissingExtraError: matplotlib (the ``report`` extra) is not installed.
    """
    text = render_html(comparison)
    target = _writable(path)
    target.write_text(text, encoding="utf-8")
    return target


def write_png(comparison: Comparison, path: StrPath) -> Path:
    """Every chart in one PNG at ``path`` (missing folders are created); returns ``path``.

    Raises:
        MissingExtraError: matplotlib (the ``report`` extra) is not installed.
        UsageError: no compared version has a numeric metric.
    """
    return report_charts.write_png(comparison, _writable(path))


def _writable(path: StrPath) -> Path:
    """``path`` with its folder created (an unwritable one raises, shown as one line)."""
    target = as_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a file where a folder should be
        raise PathNotWritableError(
            f"cannot write {target}: {exc.filename or target.parent} is a file, not a folder",
            path=str(target),
            hint="Choose another path for the report.",
        ) from None
    return target
