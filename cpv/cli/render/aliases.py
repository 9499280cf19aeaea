"""What ``cpv promote``, ``demote`` and ``aliases`` print (laid out by :mod:`cpv.cli.render.layout`,
printed through :mod:`cpv.cli.render.base`)."""

from __future__ import annotations

from collections.abc import Sequence

from cpv.cli.render import base as render
from cpv.cli.render import layout as _layout
from cpv.core.refs import AliasMove

DEMOTED = "(demoted)"
_WHY_MIN = 20  # columns the reason keeps on a narrow terminal (the line grows instead)


def _who(by: str) -> str:
    """``Name <email>`` -> ``Name`` (the whole identity is in ``--json``)."""
    return by.split(" <")[0] or "-"


def _why(move: AliasMove) -> str:
    """The reason, and the promotion rules a forced move overrode (recorded in its tag)."""
    forced = f" [forced past: {'; '.join(move.overridden)}]" if move.overridden else ""
    return (move.why or "-") + forced


def promote_result(move: AliasMove) -> None:
    if not move.changed:
        render.say(f"{move.alias} already points at {move.tag}; nothing to do")
        return
    was = f" (was {move.previous})" if move.previous else ""
    render.say(f"{move.alias} -> {move.tag}{was}, recorded as {move.ref}; `cpv push` publishes it")
    for rule in move.overridden:
        render.say(f"forced past a promotion rule (recorded in {move.ref}): {rule}")


def demote_result(move: AliasMove) -> None:
    render.say(
        f"{move.alias} demoted (was {move.previous}), recorded as {move.ref}; "
        "`cpv push` publishes it"
    )


def table(header: list[str], rows: list[list[str]]) -> None:
    """Aligned columns; the last (why, what happened) wraps between words in what the others
    leave. Shared with :mod:`cpv.cli.render.batch`."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    total = _layout.width()
    if total is not None:
        room = total - sum(widths[:-1]) - len(_layout.GAP) * (len(widths) - 1)
        widths[-1] = max(min(widths[-1], room), min(widths[-1], _WHY_MIN))
    cells = [
        [[c] for c in row[:-1]] + [_layout.wrap(row[-1], widths[-1] if total else None)]
        for row in [header, *rows]
    ]
    render.emit_lines(_layout.columns(cells, widths, set()), header=True)


def alias_table(moves: Sequence[AliasMove]) -> None:
    """``cpv aliases``: each alias, the version it points at, when, by whom and why."""
    if not moves:
        render.console.print("No aliases yet. Make one with `cpv promote VERSION ALIAS`.")
        return
    rows = [
        [m.alias, m.tag or DEMOTED, _layout.short_date(m.at), _who(m.by), _why(m)] for m in moves
    ]
    table(["alias", "version", "moved", "by", "why"], rows)


def alias_history(moves: Sequence[AliasMove]) -> None:
    """``cpv aliases --history``: every move (its tag), from -> to, when, by whom and why."""
    if not moves:
        render.console.print("No aliases yet. Make one with `cpv promote VERSION ALIAS`.")
        return
    rows = [
        [
            m.ref,
            m.previous or "-",
            m.tag or DEMOTED,
            _layout.short_date(m.at),
            _who(m.by),
            _why(m),
        ]
        for m in moves
    ]
    table(["move", "from", "to", "moved", "by", "why"], rows)
