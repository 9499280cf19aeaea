"""Plain-text layout for :mod:`cpv.cli.render.base`: widths, wrapping, aligned columns.

Lines are laid out here as plain strings, so what reaches a pipe is greppable (no box
drawing, no escape codes) and what reaches a terminal fits it. Two rules hold everywhere:
text wraps between words (and ``key=value`` pairs), and a number or a hash is never cut.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cpv.domain.units import human_size  # noqa: F401 - re-exported: the renderers call _layout.human_size

GAP = "  "
_COLUMNS_MAX = 10_000  # a COLUMNS beyond (or "²", or 1e9) is ignored like an unset one
SHORT_HASH = 12  # like git's short hashes: enough to be unique, short enough to scan
_HASH = re.compile(r"[0-9a-f]{7,64}(\.dir)?")


def plain(stream: Any) -> bool:
    """No styling at all: ``NO_COLOR`` is set (https://no-color.org) or not a terminal."""
    return bool(os.environ.get("NO_COLOR")) or not stream.isatty()


def width() -> int | None:
    """The columns to fit: ``COLUMNS`` if set, else the terminal's; None (do not wrap) when
    stdout is not a terminal, so ``cpv list | grep`` sees one line per version."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isascii() and columns.isdecimal() and 0 < int(columns) <= _COLUMNS_MAX:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def short_date(iso: str) -> str:
    """``2026-11-23 19:24`` in local time: sorts, greps, and fits a column; the exact
    ISO 8601 UTC timestamp stays in ``cpv show`` and ``--json``."""
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except (ValueError, OverflowError):  # not a time, or one no time zone can hold
        return iso


def short_hash(value: str) -> str:
    return value[:SHORT_HASH] if value else "-"


def number(value: Any) -> str:
    """A metric value as people read it: four significant digits for floats."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as ``a.b`` keys; each leaf as text (strings bare, the rest as JSON)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value, default=str)
    return flat


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def wrap(text: str, columns: int | None) -> list[str]:
    """``text`` in lines of at most ``columns``, broken between words. A word longer than
    the line is split only when it is neither a number nor a hash (a path, a long key)."""
    if columns is None or len(text) <= columns:
        return [text]
    keep_whole = _is_number(text) or bool(_HASH.fullmatch(text))
    lines = textwrap.wrap(
        text, max(columns, 1), break_long_words=not keep_whole, break_on_hyphens=False
    )
    return lines or [""]


def wrap_pairs(pairs: Sequence[str], columns: int | None) -> list[str]:
    """``key=value`` pairs joined by spaces (logfmt), a new line only between two pairs."""
    lines: list[str] = []
    for pair in pairs:
        if lines and (columns is None or len(lines[-1]) + 1 + len(pair) <= columns):
            lines[-1] += " " + pair
        else:
            lines.append(pair)
    return lines or [""]


def clip(text: str, columns: int, max_lines: int) -> list[str]:
    """Prose in at most ``max_lines`` lines; what does not fit ends in ``…``."""
    lines = textwrap.wrap(text, max(columns, 1), break_on_hyphens=False) or [""]
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    kept[-1] = kept[-1][: max(columns - 1, 0)].rstrip() + "…"
    return kept


def hanging(text: str, columns: int | None, indent: int) -> list[str]:
    """One logical line wrapped between words; continuation lines indented by ``indent``
    more than the first line's own indentation."""
    if columns is None or len(text) <= columns:
        return [text]
    lead = " " * (len(text) - len(text.lstrip()))
    return textwrap.wrap(
        text.strip(),
        columns,
        initial_indent=lead,
        subsequent_indent=lead + " " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


Cell = list[str]


def columns(rows: Sequence[Sequence[Cell]], widths: Sequence[int], right: set[int]) -> list[str]:
    """Rows of cells (each a list of lines) as aligned text lines, ``GAP`` between columns,
    columns in ``right`` right-aligned; trailing spaces dropped."""
    out = []
    for row in rows:
        for i in range(max(len(cell) for cell in row)):
            parts = []
            for col, (cell, w) in enumerate(zip(row, widths, strict=True)):
                text = cell[i] if i < len(cell) else ""
                parts.append(text.rjust(w) if col in right else text.ljust(w))
            out.append(GAP.join(parts).rstrip())
    return out


_MESSAGE_MIN = 10  # columns the message keeps when the metrics want more room


def _metrics_width(pairs: list[list[str]], avail: int, message: int) -> tuple[int, int]:
    """The metrics column's width and the rows' total height: fewest lines first, then
    the narrowest column (more room for the message)."""
    natural = max([len("metrics")] + [len(" ".join(p)) for p in pairs])
    longest = max([len("metrics")] + [len(x) for p in pairs for x in p])
    best = (sum(len(wrap_pairs(p, longest)) for p in pairs), longest)
    for w in range(longest, natural + 1):
        if avail - w < message or best[0] == len(pairs):
            break
        lines = sum(len(wrap_pairs(p, w)) for p in pairs)
        if lines < best[0]:
            best = (lines, w)
    return best[1], best[0]


def list_plan(
    fixed: list[list[str]], pairs: list[list[str]], messages: list[str], width: int | None
) -> tuple[list[int], int]:
    """Column widths for ``cpv list`` (fixed columns, metrics, message) and the lines used."""
    widths = [max(len(x) for x in col) for col in fixed]
    natural_msg = max(len(m) for m in messages)
    natural_m = max([len("metrics")] + [len(" ".join(p)) for p in pairs])
    if width is None:
        return [*widths, natural_m, natural_msg], len(pairs)
    avail = width - sum(widths) - len(GAP) * (len(widths) + 1)
    if natural_m + natural_msg <= avail:
        return [*widths, natural_m, natural_msg], len(pairs)
    metrics_w, lines = _metrics_width(pairs, avail, min(natural_msg, _MESSAGE_MIN))
    return [*widths, metrics_w, max(min(natural_msg, avail - metrics_w), len("message"))], lines


def pairs(rows: list[tuple[str, str]]) -> list[str]:
    """Label / value lines; values wrap between words in what the labels leave."""
    label_w = max(len(k) for k, _ in rows)
    total = width()
    value_w = None if total is None else max(total - label_w - len(GAP), 20)
    cells = []
    for k, v in rows:
        lines = [x for part in v.splitlines() or [""] for x in wrap(part, value_w)]
        cells.append([[k], lines])
    return columns(cells, [label_w, 0], set())
