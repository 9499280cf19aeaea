"""What a webhook receives: the facts of an operation, and their Slack, Teams and JSON forms.

:func:`facts` reads an operation's result (and the repository for the version's metrics
and aliases) into one flat dict, the ``json`` format as is::

    {"event", "team", "model", "model_id", "version", "tag", "tags", "metrics", "aliases",
     "author", "message", "note", "time", "details", "source"}

``message`` is one line a person reads in a channel; ``note`` is what the user wrote (the
version's ``-m``, the reason of a promote). :func:`body` lays the facts out for Slack
(``text`` + Block Kit blocks) or Teams (an Adaptive Card in the message envelope that both
Teams workflows and the older incoming webhooks accept).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from cpv._version import __version__
from cpv.domain.units import human_size

#: Slack: a section's text holds 3000 characters, a header 150, a section 10 fields.
_SLACK_TEXT_MAX = 2900
_FIELDS_MAX = 10


def _identity(repo: Any) -> str:
    try:
        return str(repo.git.identity())
    except Exception:
        return ""


def _record(repo: Any, tag: str | None) -> Any:
    """The version's record with its current aliases (None when it cannot be read)."""
    if not tag:
        return None
    try:
        from cpv.core.records import annotate
        from cpv.domain.versions import parse_tag_name

        parsed = parse_tag_name(tag)  # that tag read, not every version's
        return annotate(repo, [repo.find(*parsed)])[0] if parsed else None
    except Exception:
        return None


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in metrics.items())


def _base(event: str, repo: Any, record: Any, **fields: Any) -> dict[str, Any]:
    team, model = (repo.config.team, repo.config.model) if repo is not None else ("", "")
    out: dict[str, Any] = {
        "event": event,
        "team": team,
        "model": model,
        "model_id": f"{team}/{model}",
        "version": record.version if record else None,
        "tag": record.tag if record else None,
        "tags": [],
        "metrics": dict(record.metrics) if record else {},
        "aliases": list(record.aliases) if record else [],
        "author": "",
        "message": "",
        "note": "",
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "details": {},
        "source": f"cpv {__version__}",
    }
    out.update(fields)
    return out


def _tag_facts(repo: Any, result: Any) -> dict[str, Any] | None:
    if result.dry_run or not result.created:
        return None
    record = result.records[0]
    tags = [r.tag for r in result.records]
    metrics = f" ({_metrics_text(record.metrics)})" if record.metrics else ""
    who = f" by {record.author}" if record.author else ""
    note = record.message.splitlines()[0] if record.message else ""
    text = f"{repo.config.team}/{repo.config.model}: new version {', '.join(tags)}{metrics}{who}"
    return _base(
        "tag", repo, record, tags=tags, author=record.author, note=note,
        message=text + (f": {note}" if note else ""),
        details={"size_bytes": sum(r.size_bytes for r in result.records), "commit": record.commit,
                 "data_version": record.data_version},
    )  # fmt: skip


def _push_facts(repo: Any, result: Any) -> dict[str, Any] | None:
    if result.dry_run or result.up_to_date:
        return None
    tags = list(result.pushed_tags)
    newest = next((t for t in reversed(tags) if t.startswith("model/")), tags[-1] if tags else None)
    record = _record(repo, newest)
    who = _identity(repo)
    what = ", ".join(tags) if tags else f"branch {result.branch}"
    extra = (
        f" and {len(result.records_pushed)} alias/removal record(s)"
        if result.records_pushed
        else ""
    )
    metrics = f" ({_metrics_text(record.metrics)})" if record and record.metrics else ""
    renamed = "".join(f"; {a} was renamed {b}" for a, b in result.renamed.items())
    text = f"{repo.config.team}/{repo.config.model}: pushed {what}{metrics}{extra}"
    return _base(
        "push", repo, record, tags=tags, author=who,
        message=text + (f" by {who}" if who else "") + renamed,
        details={"records": list(result.records_pushed), "renamed": dict(result.renamed),
                 "objects_uploaded": result.objects_pushed, "branch": result.branch},
    )  # fmt: skip


def _alias_facts(event: str, repo: Any, move: Any) -> dict[str, Any] | None:
    if not move.changed:
        return None
    record = _record(repo, move.tag or move.previous)
    model_id = f"{repo.config.team}/{repo.config.model}"
    if event == "promote":
        was = f" (was {move.previous})" if move.previous else ""
        text = f"{model_id}: {move.alias} -> {move.tag}{was}"
    else:
        text = f"{model_id}: {move.alias} demoted (was {move.previous})"
    if record and record.metrics:
        text += f" ({_metrics_text(record.metrics)})"
    text += f" by {move.by}" if move.by else ""
    forced = "; ".join(move.overridden)  # a forced promote: the rules it overrode
    return _base(
        event, repo, record, tags=[t for t in (move.tag,) if t], author=move.by, note=move.why,
        message=text + (f": {move.why}" if move.why else "")
        + (f" [forced past promotion rules: {forced}]" if forced else ""),
        details={"alias": move.alias, "previous": move.previous, "move": move.ref,
                 "overridden": list(move.overridden)},
    )  # fmt: skip


def _gc_facts(repo: Any, result: Any) -> dict[str, Any] | None:
    if result.dry_run or not result.collected:
        return None
    tags = [c.tag for c in result.collected]
    who = _identity(repo)
    freed = human_size(result.freed_local) + " locally"
    if result.remote:
        freed += f", {human_size(result.freed_remote)} in storage"
    text = (
        f"{repo.config.team}/{repo.config.model}: gc removed the bytes of {', '.join(tags)} "
        f"(freed {freed}; {len(result.kept)} version(s) kept)"
    )
    return _base(
        "gc", repo, None, tags=tags, author=who, message=text + (f" by {who}" if who else ""),
        details={"freed_local": result.freed_local, "freed_remote": result.freed_remote,
                 "remote": result.remote, "kept": [k.tag for k in result.kept],
                 "markers": list(result.markers)},
    )  # fmt: skip


def ping_facts(events: list[str]) -> dict[str, Any]:
    """A test message (``cpv configure --test-webhook``): no model, no version."""
    return _base(
        "test", None, None, model_id="cpv",
        message=f"cpv test message: this webhook will be told of {', '.join(events)}",
    )  # fmt: skip


def facts(event: str, repo: Any, result: Any) -> dict[str, Any] | None:
    """The facts of a successful ``event`` (the ``json`` payload), or None when there is
    nothing to announce (a dry run, an unchanged tag, a push with nothing to send…)."""
    if event == "tag":
        return _tag_facts(repo, result)
    if event == "push":
        return _push_facts(repo, result)
    if event in ("promote", "demote"):
        return _alias_facts(event, repo, result)
    if event == "gc":
        return _gc_facts(repo, result)
    raise ValueError(f"unknown event {event!r}")


def _rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """Label / value pairs shown under the message (Slack fields, Teams facts)."""
    rows = [("Model", facts["model_id"])]
    if facts["tag"]:
        rows.append(("Version", facts["tag"]))
    rows += [(k, str(v)) for k, v in facts["metrics"].items()]
    if facts["aliases"]:
        rows.append(("Aliases", ", ".join(facts["aliases"])))
    if facts["author"]:
        rows.append(("By", facts["author"]))
    return rows[:_FIELDS_MAX]


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(facts: dict[str, Any]) -> dict[str, Any]:
    """``text`` (the notification and fallback) and Block Kit blocks."""
    title = f"cpv {facts['event']}: {facts['model_id']}"[:150]
    message = _slack_escape(facts["message"])[:_SLACK_TEXT_MAX]
    fields = [
        {"type": "mrkdwn", "text": _slack_escape(f"*{k}*\n{v}")[:1900]} for k, v in _rows(facts)
    ]
    return {
        "text": message,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"{facts['time']} · {facts['source']}"}
            ]},
        ],
    }  # fmt: skip


#: What Adaptive Card markdown (a CommonMark subset) reads as syntax: emphasis, links, code,
#: ``<at>`` mentions, ``{{DATE()}}`` functions; each is escaped with a backslash.
_TEAMS_SPECIAL = re.compile(r"([\\`*_{}\[\]<>~&])")
#: A list marker at the start of a line (``- x``, ``1. x``).
_TEAMS_LIST = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s|$)", re.MULTILINE)


def _teams_escape(text: str) -> str:
    """``text`` shown as typed in a TextBlock or a fact (no link, mention or emphasis)."""
    escaped = _TEAMS_SPECIAL.sub(r"\\\1", text)
    return _TEAMS_LIST.sub(lambda m: f"{m[1]}{m[2][:-1]}\\{m[2][-1]}", escaped)


def teams(facts: dict[str, Any]) -> dict[str, Any]:
    """An Adaptive Card 1.4 in a ``message`` envelope: what Teams workflows ("When a Teams
    webhook request is received") accept, and the older incoming webhooks too. Every text
    from the facts is escaped (:func:`_teams_escape`)."""
    rows = [{"title": _teams_escape(k), "value": _teams_escape(v)} for k, v in _rows(facts)]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": _teams_escape(f"cpv {facts['event']}: {facts['model_id']}"),
             "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": _teams_escape(facts["message"]), "wrap": True},
            {"type": "FactSet", "facts": rows},
            {"type": "TextBlock", "text": f"{facts['time']} · {facts['source']}",
             "isSubtle": True, "size": "Small", "wrap": True},
        ],
    }  # fmt: skip
    return {
        "type": "message",
        "summary": facts["message"][:200],
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def body(fmt: str, facts: dict[str, Any]) -> dict[str, Any]:
    """The request body for a webhook of format ``fmt``."""
    if fmt == "slack":
        return slack(facts)
    if fmt == "teams":
        return teams(facts)
    return facts
