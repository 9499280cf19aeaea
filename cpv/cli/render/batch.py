"""What ``cpv status|push|pull|list --recursive`` print: one row per model repository (laid out
like ``cpv aliases``); the command then ends with one ``Error:`` line if any failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cpv.cli.render.aliases import table
from cpv.core.batch import BatchResult


def _status(res: dict[str, Any]) -> str:
    parts = []
    for k in res.get("kinds", []):
        latest = (k.get("latest") or {}).get("version") or "none"
        state = " (changed)" if k.get("changed") else ""
        parts.append(f"{k['kind']} {latest}{state}")
    tags = res.get("unpushed_tags")
    if tags is None:
        parts.append("remote unknown")
    else:
        ahead, behind = res.get("unpushed_commits"), res.get("behind_commits")
        pending = res.get("unpublished") or {}
        count = sum(len(pending.get(k) or []) for k in ("alias_moves", "demotes", "removals"))
        parts.append(f"{len(tags) + count} tag(s) unpushed")
        if ahead:
            parts.append(f"{ahead} commit(s) ahead")
        if behind:
            parts.append(f"{behind} behind")
    if res.get("interrupted"):
        parts.append(f"interrupted {res['interrupted']} pending")
    return ", ".join(parts)


def _push(res: dict[str, Any]) -> str:
    if res.get("up_to_date"):
        return "everything up to date"
    verb = "would push" if res.get("dry_run") else "pushed"
    tags = res.get("pushed_tags") or []
    text = f"{verb} {len(tags)} version(s) {' '.join(tags)}".rstrip()
    text += f", {res.get('objects_pushed', 0)} object(s)"
    if res.get("branch_pushed"):
        text += f", branch {res.get('branch', '')}".rstrip()
    if res.get("records_pushed"):
        text += f", {len(res['records_pushed'])} alias/removal record(s)"
    if res.get("renamed"):
        text += ", renamed " + ", ".join(f"{a}->{b}" for a, b in res["renamed"].items())
    return text


def _pull(res: dict[str, Any]) -> str:
    versions = [r.get("tag", "") for r in res.get("records", [])]
    text = f"{' '.join(versions) or 'nothing to check out'}"
    text += f"; {res.get('fetched_objects', 0)} object(s) fetched"
    if res.get("updated_branch"):
        text += "; branch updated"
    return text


def _list(res: list[dict[str, Any]]) -> str:
    if not res:
        return "no versions yet"
    return f"{len(res)} version(s), latest {res[-1].get('tag', '?')}"


SUMMARIES: dict[str, Callable[[Any], str]] = {
    "status": _status,
    "push": _push,
    "pull": _pull,
    "list": _list,
}


def batch_result(result: BatchResult, command: str, root: Path) -> None:
    """One row per model: its folder (relative to ``root``), ok/FAILED, what happened."""
    summary = SUMMARIES[command]
    rows = []
    for m in result.models:
        name = str(m.path.relative_to(root)) if m.path.is_relative_to(root) else str(m.path)
        if m.ok:
            rows.append([name, "ok", summary(m.result)])
        else:
            rows.append([name, "FAILED", f"{m.error}" + (f" ({m.hint})" if m.hint else "")])
    table(["model", "", "result"], rows)
