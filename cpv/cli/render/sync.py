"""Rendering of ``cpv pull``, ``cpv clone`` and ``cpv verify`` (plain lines through
:mod:`cpv.cli.render.base`'s helpers; ``--json`` goes through :func:`cpv.cli.render.base.print_json`)."""

from __future__ import annotations

from typing import Any

from cpv.cli.render.base import info
from cpv.cli.render.console import say
from cpv.domain.results import PullResult


def pull_result(res: PullResult) -> None:
    if res.updated_branch:
        say("branch updated from the remote")
    for ref, command in zip(res.backups, res.restore, strict=False):
        info(f"kept your unsaved work as {ref} (restore it: {command})")
    what = ", ".join(r.tag for r in res.records) or "HEAD"
    verified = ", ".join(res.verified_paths) or "-"
    say(f"{what}: {res.fetched_objects} object(s) fetched; verified {verified}")


def verify_result(res: Any) -> None:
    """``cpv verify``: one line per version, then each place missing or corrupt."""
    where = "local cache and storage" if res.remote else "local cache"
    if res.note:
        say(res.note)
    for v in res.versions:
        if v.removed is not None:
            say(f"{v.version}: removed on purpose ({_removal(v.removed)})")
            continue
        if v.refused is not None:
            say(f"{v.version}: REFUSED, not checked ({v.refused})")
            continue
        state = "ok" if v.ok else "PROBLEMS"
        fixed = [
            f"{n} {side} repaired"
            for n, side in ((v.repaired_local, "local"), (v.repaired_remote, "storage"))
            if n
        ]
        say(
            f"{v.version}: {state} ({v.objects} object(s){', ' + ', '.join(fixed) if fixed else ''})"
        )
        for place in v.missing_local:
            say(f"  missing or corrupt locally: {place}")
        for place in v.missing_remote:
            say(f"  missing or corrupt in storage: {place}")
        for path in v.quarantined:
            say(f"  corrupt local copy set aside (never uploaded): {path}")
        if v.not_fetched:
            say(f"  {len(v.not_fetched)} object(s) only in the storage (not pulled here)")
    checked = "re-hashed" if res.deep else "present, sizes checked"
    say(f"{len(res.versions)} version(s) checked in the {where} ({checked})")


def _removal(marker: dict[str, Any]) -> str:
    """``gc, storage too, by Ann at 2026-…: why`` from a removal marker."""
    where = ", storage too" if marker.get("remote") else ""
    why = f": {marker['why']}" if marker.get("why") else ""
    return f"{marker.get('action')}{where}, by {marker.get('by') or 'someone'} at {marker.get('at')}{why}"
