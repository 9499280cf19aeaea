"""Rendering of ``cpv gc``, ``cpv delete`` and ``cpv du`` (plain lines, laid out by
:mod:`cpv.cli.render.layout`; ``--json`` goes through :func:`cpv.cli.render.base.print_json`)."""

from __future__ import annotations

from cpv.cli.render import layout as _layout
from cpv.cli.render.base import warning
from cpv.cli.render.console import emit_lines, say
from cpv.domain.results import DeleteResult, GcResult
from cpv.domain.training_state import TrainingStatePlan
from cpv.domain.usage import DuResult

_size = _layout.human_size


def gc_result(res: GcResult) -> None:
    """``cpv gc``: each kept version and why, each collected one and its bytes, the totals;
    then the training-state rule's plan (cpv.yaml)."""
    if res.keep_last is not None or res.keep_days is not None:
        _collection(res)
    if res.training_state is not None:
        training_state(res.training_state)
    if res.warning:
        warning(res.warning)


def _collection(res: GcResult) -> None:
    rows = [[[k.tag], [", ".join(k.reasons)]] for k in res.kept]
    if rows:
        say("kept:")
        width = max(len(k.tag) for k in res.kept)
        emit_lines(["  " + line for line in _layout.columns(rows, [width, 0], set())])
    verb = "would collect" if res.dry_run else "collected"
    if not res.collected:
        say("nothing to collect")
        return
    say(f"{verb}:")
    for c in res.collected:
        remote = f", {_size(c.remote_bytes)} in storage" if res.remote else ""
        say(f"  {c.tag}  {_size(c.local_bytes)} local{remote}")
    freed = "would free" if res.dry_run else "freed"
    storage = (
        f"; {_size(res.freed_remote)} ({res.objects_remote} objects) in storage"
        if res.remote
        else ""
    )
    say(f"{freed} {_size(res.freed_local)} ({res.objects_local} objects) locally{storage}")
    if res.markers:
        said = "published" if res.remote else "written: publish them with `cpv push`"
        say(f"{len(res.markers)} removal marker(s) {said}")


def training_state(plan: TrainingStatePlan) -> None:
    """The training-state rule's plan: what keeps its state and why, what would drop it."""
    say(f"training state ({', '.join(plan.files)}), kept in the last {plan.keep_last}:")
    for k in plan.kept:
        say(f"  keeps  {k.tag}  ({', '.join(k.reasons)})")
    if plan.trimmed:
        say(f"  already dropped (trimmed/ markers): {', '.join(plan.trimmed)}")
    for d in plan.dropped:
        shared = f"; {len(d.shared)} shared with a kept version, kept" if d.shared else ""
        say(f"  would drop  {d.tag}: {', '.join(d.files)} ({_size(d.freed_bytes)}{shared})")
    if plan.unknown:
        warning(
            "training state: cannot tell what "
            + ", ".join(plan.unknown[:3])
            + " needs (its listing is in neither the cache nor the storage): nothing planned"
        )
    elif plan.dropped:
        say(f"  would free {_size(plan.freed_bytes)} ({plan.objects} objects)")
    if not plan.applied:
        say("  (planned only: this release drops no training state; see docs/retention.md)")


def delete_result(res: DeleteResult) -> None:
    """``cpv delete``: the version, bytes freed, objects kept because shared."""
    verb = "would delete" if res.dry_run else "deleted"
    storage = f", {_size(res.freed_remote)} in storage" if res.remote else ""
    say(f"{verb} {res.tag}: {_size(res.freed_local)} locally{storage}")
    if res.shared_objects:
        say(f"  {res.shared_objects} object(s) kept: other versions need them")
    if res.marker:
        said = "published" if res.remote else "publish it with `cpv push`"
        say(f"  marked {res.marker}: {said}")
    if res.unpushed:
        say(f"  {res.tag} was never pushed: its only copy is gone (the marker says so)")
    if res.warning:
        warning(res.warning)


def du_result(res: DuResult) -> None:
    """``cpv du``: a line per version, then the totals and what retention would free."""
    if res.versions:
        header = [["version"], ["logical"], ["stored"], ["ratio"], ["unique"], ["shared"]]
        header.append(["missing"])
        rows = [header] + [
            [
                [v.tag + (" (removed)" if v.removed else "")],
                [_size(v.logical_bytes)],
                [_size(v.stored_bytes) if not v.removed else "-"],
                [_percent(v.ratio)],
                [_size(v.unique_bytes)],
                [_size(v.shared_bytes)],
                [str(v.missing) if v.missing else ""],
            ]
            for v in res.versions
        ]
        widths = [max(len(r[i][0]) for r in rows) for i in range(7)]
        emit_lines(_layout.columns(rows, widths, {1, 2, 3, 4, 5, 6}), header=True)
    unsized = f"; {res.unsized_objects} object(s) of unknown size" if res.unsized_objects else ""
    say(
        f"stored: {_size(res.stored_bytes)} of {_size(res.logical_bytes)} logical "
        f"({_percent(res.ratio)}){unsized}"
    )
    say(
        f"versions: {_size(res.versions_bytes)} ({_size(res.unique_bytes)} unique, "
        f"{_size(res.shared_bytes)} shared)"
    )
    say(f"local cache: {_size(res.cache_bytes)} ({res.cache_objects} objects)")
    if res.storage_bytes is not None:
        say(f"storage: {_size(res.storage_bytes)} ({res.storage_objects} objects)")
    else:
        say(res.storage_note)
    if res.retention is not None:
        r = res.retention
        say(
            f"retention would free {_size(r.freed_local)} locally "
            f"({len(r.collected)} version(s): {', '.join(c.tag for c in r.collected) or '-'})"
        )
    else:
        say(res.retention_note)


def _percent(ratio: float | None) -> str:
    """A stored/logical ratio as a percentage (``-`` when there is none)."""
    return "-" if ratio is None else f"{ratio * 100:.1f}%"
