"""Rendering of ``cpv models``: one line per model, laid out by :mod:`cpv.cli._layout`
(``--json`` goes through :func:`cpv.cli.render.print_json`)."""

from __future__ import annotations

from cpv.catalog import ModelEntry, ModelsResult
from cpv.cli import _layout
from cpv.cli.render import _emit, _say

_HEADER = ["model", "latest", "data", "aliases", "best", "updated", "size", "git remote"]


def models_table(res: ModelsResult) -> None:
    """``cpv models``: team/model, latest model and data versions, aliases (one per line),
    the best version, when the entry last changed, the stored size and the git remote."""
    if not res.models:
        where = f"team {res.team} in {res.storage}" if res.team else res.storage
        _say(f"No models in {where}. A model appears here once `cpv push` publishes it.")
        return
    rows = [[[h] for h in _HEADER]] + [_row(m) for m in res.models]
    widths = [max(len(line) for row in rows for line in row[i]) for i in range(len(_HEADER))]
    _emit(_layout.columns(rows, widths, {_HEADER.index("size")}), header=True)
    missing = [m for m in res.models if not m.indexed]
    if missing:
        _say(
            f"{len(missing)} model(s) have no index yet (pushed before cpv kept one, or it "
            "does not read): run `cpv push` in a clone of each to add it."
        )


def _row(m: ModelEntry) -> list[list[str]]:
    name = f"{m.team}/{m.model}"
    if not m.indexed:
        return [[name], ["?"], ["?"], [""], [""], [""], [""], [f"({m.note})"]]
    best = f"{m.best.metric}={_layout.number(m.best.value)} {m.best.tag}" if m.best else "-"
    return [
        [name + (f" ({m.note})" if m.note else "")],
        [m.model_version or "-"],
        [m.data_version or "-"],
        [f"{alias}={tag}" for alias, tag in m.aliases.items()] or ["-"],
        [best],
        [_layout.short_date(m.updated_at) if m.updated_at else "-"],
        [_layout.human_size(m.size_bytes)],
        [m.git_remote or "-"],
    ]
