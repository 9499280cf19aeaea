"""What ``cpv compare`` prints: one column per version; the metrics first, then the params
that differ (those the same in all on one line), then the details (message, size, data
version, time) (through :mod:`cpv.cli.render.base`'s console; ``--json`` goes through
:func:`cpv.cli.render.base.print_json`).

A change against the baseline follows each value, green when it is an improvement and red
when not (on a terminal; plain text elsewhere); ``*`` marks each metric's best version.
When the versions do not fit the terminal's width, they are shown in blocks of columns.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from cpv.cli.render import layout as _layout
from cpv.cli.render.base import console
from cpv.cli.render.console import say
from cpv.domain.comparison import Comparison, MetricRow

#: a cell: its lines, each a list of (text, style) segments
Segments = list[tuple[str, str]]
Cell = list[Segments]
MESSAGE_WIDTH = 24


def _plain(text: str, style: str = "") -> Cell:
    return [[(text, style)]]


def _width(cell: Cell) -> int:
    return max((sum(len(t) for t, _ in line) for line in cell), default=0)


def _delta_style(delta: float, direction: str | None) -> str:
    if delta == 0 or direction is None:
        return ""
    return "green" if (delta < 0) == (direction == "min") else "red"


def _metric_cell(row: MetricRow, i: int, tag: str) -> Cell:
    value = row.values[i]
    best = tag == row.best
    segments: Segments = [(_layout.number(value) if value is not None else "-", "bold" * best)]
    delta = row.deltas[i]
    if delta is not None and tag != row.baseline:
        segments.append((f" ({delta:+.4g})", _delta_style(delta, row.direction)))
    if best:
        segments.append((" *", "bold yellow"))
    return [segments]


def _size_cell(size: int, delta: int) -> Cell:
    text = _layout.human_size(size)
    if not delta:
        return _plain(text)
    sign = "+" if delta > 0 else "-"
    return [[(text, ""), (f" ({sign}{_layout.human_size(abs(delta))})", "dim")]]


class Note(str):
    """A line under a section, wrapped to the terminal (not a row of cells)."""


def _rows(res: Comparison) -> list[tuple[str, list[Cell]] | str]:
    """Rows (label, one cell per version), section titles (plain strings) and notes: what
    people compare first (metrics, params), the bookkeeping after."""
    vs = res.versions
    deltas = res.size_deltas or [0] * len(vs)
    rows: list[tuple[str, list[Cell]] | str] = [
        ("", [_plain(v.tag, "bold") for v in vs]),
        ("aliases", [_plain(",".join(v.aliases) or "-", "cyan" if v.aliases else "") for v in vs]),
    ]
    if res.metrics:
        against = "each metric's best" if res.against == "best" else vs[0].tag
        rows.append(f"metrics (changes against {against}; * best):")
        for m in res.metrics:
            way = {"min": " (min)", "max": " (max)"}.get(m.direction or "", "")
            rows.append((f"  {m.name}{way}", [_metric_cell(m, i, v.tag) for i, v in enumerate(vs)]))
    if res.params:
        rows.append("params:")
        rows += [
            (f"  {p.name}", [_plain(_param(v)) for v in p.values]) for p in res.params if p.differs
        ]
        same = [p for p in res.params if not p.differs]
        if same:
            pairs = " ".join(f"{p.name}={_param(p.values[0])}" for p in same)
            rows.append(Note(f"  the same in all: {pairs}"))
    rows += [
        "details:",
        ("  message", [
            [[(line, "")] for line in _layout.clip(v.message or "-", MESSAGE_WIDTH, 2)] for v in vs
        ]),
        ("  size", [_size_cell(v.size_bytes, d) for v, d in zip(vs, deltas, strict=True)]),
        ("  data", [_plain(v.data_version or "-") for v in vs]),
        ("  created", [_plain(_layout.short_date(v.created_at)) for v in vs]),
    ]  # fmt: skip
    return rows


def _param(value: Any) -> str:
    return "-" if value is None else next(iter(_layout.flatten({"": value}).values()))


def _blocks(label_w: int, widths: list[int], columns: int | None) -> list[list[int]]:
    """Version columns grouped so that each block fits ``columns`` (at least one each)."""
    if columns is None:
        return [list(range(len(widths)))]
    blocks: list[list[int]] = [[]]
    used = label_w
    for i, w in enumerate(widths):
        if blocks[-1] and used + len(_layout.GAP) + w > columns:
            blocks.append([])
            used = label_w
        blocks[-1].append(i)
        used += len(_layout.GAP) + w
    return blocks


def comparison_table(res: Comparison) -> None:
    """``cpv compare``: the metrics and params first, then the details, in blocks of
    versions that fit the terminal."""
    rows = _rows(res)
    table = [r for r in rows if isinstance(r, tuple)]
    label_w = max(len(label) for label, _ in table)
    widths = [max(_width(cells[i]) for _, cells in table) for i in range(len(res.versions))]
    for n, block in enumerate(_blocks(label_w, widths, _layout.width())):
        if n:
            console.print()
        for row in rows:
            if isinstance(row, Note):
                say(row)
                continue
            if isinstance(row, str):
                console.print(Text(row, style="bold"))
                continue
            label, cells = row
            height = max(len(cells[i]) for i in block)
            for k in range(height):
                line = Text(f"{label if k == 0 else '':<{label_w}}")
                for i in block:
                    segments = cells[i][k] if k < len(cells[i]) else []
                    line.append(_layout.GAP)
                    for text, style in segments:
                        line.append(text, style=style or None)
                    line.append(" " * (widths[i] - sum(len(t) for t, _ in segments)))
                line.rstrip()
                console.print(line)
