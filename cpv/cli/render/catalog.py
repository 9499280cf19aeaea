"""Rendering of ``cpv models``: one line per model, laid out by :mod:`cpv.cli.render.layout`
(``--json`` goes through :func:`cpv.cli.render.base.print_json`)."""

from __future__ import annotations

from cpv.catalog.index import ModelEntry, ModelsResult
from cpv.cli.render import layout as _layout
from cpv.cli.render.console import emit_lines, say

_HEADER = ["model", "latest", "data", "aliases", "best", "updated", "size", "git remote"]
#: Columns left out, in this order, while the table is wider than the terminal.
_OPTIONAL = ["git remote", "updated", "data"]


def models_table(res: ModelsResult) -> None:
    """``cpv models``: team/model, latest model and data versions, aliases (one per line),
    the best version, when the entry last changed, the stored size and the git remote;
    notes (no index, a newer index) below, marked ``*``; then what the listing got past."""
    for note in res.notes:
        say(f"note: {note}")
    if not res.models:
        where = f"team {res.team} in {res.storage}" if res.team else res.storage
        say(f"No models in {where}. A model appears here once `cpv push` publishes it.")
        return
    rows = [[[h] for h in _HEADER]] + [_row(m) for m in res.models]
    names = _fitting(rows)
    kept = [[row[_HEADER.index(n)] for n in names] for row in rows]
    widths = [max(len(line) for row in kept for line in row[i]) for i in range(len(names))]
    emit_lines(_layout.columns(kept, widths, {names.index("size")}), header=True)
    for m in res.models:
        if m.note:
            say(f"* {m.team}/{m.model}: {m.note}")
    if any(not m.indexed for m in res.models):
        say("A model without an index gets one from a `cpv push` in any clone of it.")


def _fitting(rows: list[list[list[str]]]) -> list[str]:
    """The columns to show: all of them, less the optional ones the terminal has no room for."""
    names = list(_HEADER)
    limit = _layout.width()

    def total() -> int:
        widths = [max(len(line) for row in rows for line in row[_HEADER.index(n)]) for n in names]
        return sum(widths) + len(_layout.GAP) * (len(widths) - 1)

    for optional in _OPTIONAL:
        if limit is None or total() <= limit:
            break
        names.remove(optional)
    return names


def _row(m: ModelEntry) -> list[list[str]]:
    name = f"{m.team}/{m.model}" + (" *" if m.note else "")
    if not m.indexed:
        return [[name], ["?"], ["?"], ["-"], ["-"], ["-"], ["-"], ["-"]]
    best = f"{m.best.metric}={_layout.number(m.best.value)} {m.best.tag}" if m.best else "-"
    return [
        [name],
        [m.model_version or "-"],
        [m.data_version or "-"],
        [f"{alias}={tag}" for alias, tag in m.aliases.items()] or ["-"],
        [best],
        [_layout.short_date(m.updated_at) if m.updated_at else "-"],
        [_layout.human_size(m.size_bytes)],
        [m.git_remote or "-"],
    ]
