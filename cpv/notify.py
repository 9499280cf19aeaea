"""Webhooks: which are configured, for which events, and announcing an operation to them.

The webhooks live in ``$CPV_HOME/webhooks.json`` (mode 0600 in the 0700 ``$CPV_HOME``,
written through a temporary file and a rename): a webhook URL is a secret (Slack's and
Teams' embed their token), so it never goes to ``config.yaml``, a repository, a tag
message, a log line or an error; everywhere else it is shown masked (:func:`mask_url`).

:func:`emit` is called by the managers after ``tag``, ``push``, ``promote``, ``demote`` and
``gc`` succeed. It never raises and never blocks: the payloads are built at once (cheap:
the repository state of that moment), sent by :mod:`cpv.notify_delivery` in background
threads, and a CLI waits for them at the end of the command, never longer than their budget.
``CPV_NO_WEBHOOKS=1`` turns every webhook off for a process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cpv.config import atomic_write, cpv_home, ensure_cpv_home
from cpv.errors import ConfigError, UsageError
from cpv.results import WebhookFailure

WEBHOOKS_FILE = "webhooks.json"
FAILURES_FILE = "webhook-failures.json"
Event = Literal["tag", "push", "promote", "demote", "gc"]
Format = Literal["slack", "teams", "json"]
EVENTS: tuple[Event, ...] = get_args(Event)
FORMATS: tuple[str, ...] = get_args(Format)

log = logging.getLogger(__name__)

#: A first path segment shown unmasked: a plain word (``services``, ``workflows``, ``hook``),
#: never something that could be a token (digits, long, mixed).
_PLAIN_SEGMENT = re.compile(r"[A-Za-z_-]{1,16}")


class Webhook(BaseModel):
    """One configured webhook. ``url`` is a :class:`~pydantic.SecretStr`: its ``repr`` and
    ``str`` never show it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    url: SecretStr
    events: list[Event] = Field(default_factory=lambda: list(EVENTS))
    format: Format = "json"

    @property
    def masked_url(self) -> str:
        return mask_url(self.url.get_secret_value())

    def view(self) -> WebhookView:
        return WebhookView(
            id=self.id, url=self.masked_url, events=list(self.events), format=self.format
        )


class WebhookView(BaseModel):
    """A webhook as ``cpv configure --show`` prints it: the URL masked."""

    id: str
    url: str
    events: list[str]
    format: str


def mask_url(url: str) -> str:
    """Scheme and host, the path and query hidden: ``https://hooks.slack.com/services/***``
    (a first path segment is kept only when it is a plain word and more follows)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        host = f"[{host}]" if ":" in host else host  # IPv6
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    segments = [s for s in parts.path.split("/") if s]
    keep = f"/{segments[0]}" if len(segments) > 1 and _PLAIN_SEGMENT.fullmatch(segments[0]) else ""
    return f"{parts.scheme}://{host}{port}{keep}/***"


def scrub(text: str, url: str) -> str:
    """``text`` with the secret part of ``url`` replaced by its masked form (for reasons
    built from a library's exception text, which might quote the URL)."""
    masked = mask_url(url)
    secret_parts = [url, urlsplit(url).path, urlsplit(url).query]
    for part in sorted((p for p in secret_parts if p and len(p) > 1), key=len, reverse=True):
        text = text.replace(part, masked)
    return text


def webhooks_path() -> Path:
    return cpv_home() / WEBHOOKS_FILE


def check_url(url: str) -> str:
    """An ``http(s)://host/...`` URL with no user name or password in it.

    Raises:
        UsageError: anything else.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        host, parts = None, None  # type: ignore[assignment]
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            "invalid webhook URL (expected http:// or https:// with a host)",
            hint="Copy the incoming-webhook URL from Slack or Teams, e.g. "
            "https://hooks.slack.com/services/T000/B000/XXXX.",
        )
    if parts.username or parts.password:
        raise UsageError(
            "the webhook URL contains a user name or password",
            hint="Use the URL the service gives you; its token is in the path.",
        )
    return url


def detect_format(url: str) -> Format:
    """What a URL's host tells: Slack's hooks, Teams' incoming webhooks and workflows."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith((".webhook.office.com", ".logic.azure.com", ".powerplatform.com")):
        return "teams"
    return "json"


def parse_events(values: Iterable[str]) -> list[Event]:
    """``tag,push`` (comma-separated, repeatable; ``all`` for every event) -> the events,
    in cpv's order.

    Raises:
        UsageError: an unknown event.
    """
    names = {v.strip().lower() for value in values for v in value.split(",") if v.strip()}
    if not names or "all" in names:
        return list(EVENTS)  # type: ignore[arg-type]
    unknown = sorted(names - set(EVENTS))
    if unknown:
        raise UsageError(
            f"unknown webhook event {unknown[0]!r}",
            hint=f"Events: {', '.join(EVENTS)} (comma-separated), or all.",
        )
    return [e for e in EVENTS if e in names]  # type: ignore[misc]


def webhook_id(url: str, fmt: str) -> str:
    """A short, stable name to remove a webhook by; reveals nothing of the URL."""
    return f"{fmt}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def load_webhooks() -> list[Webhook]:
    """The configured webhooks (none when the file is absent).

    Raises:
        ConfigError: the file cannot be read or is not cpv's (names the file).
    """
    path = webhooks_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    try:
        data = json.loads(text)
        return [Webhook.model_validate(w) for w in data.get("webhooks", [])]
    except (ValueError, AttributeError, ValidationError):
        raise ConfigError(
            "not a list of webhooks cpv can read",
            path=path,
            hint="Fix or delete the file, then add the webhooks again with "
            "`cpv configure --webhook URL`.",
        ) from None  # pydantic's message would quote the values: the URLs


def save_webhooks(hooks: list[Webhook]) -> Path:
    """Write the webhooks, 0600 from the first byte, atomically."""
    ensure_cpv_home()
    path = webhooks_path()
    data = {
        "webhooks": [
            {**w.model_dump(mode="json", exclude={"url"}), "url": w.url.get_secret_value()}
            for w in hooks
        ]
    }
    atomic_write(path, json.dumps(data, indent=2) + "\n", mode=0o600)
    return path


def add_webhook(url: str, *, events: Iterable[str] = (), fmt: str | None = None) -> Webhook:
    """Add a webhook (the same URL again replaces its events and format, keeping its id).

    Args:
        url: the ``http(s)`` URL to POST to.
        events: the events it receives (default: all).
        fmt: ``slack``, ``teams`` or ``json`` (default: guessed from the host, else json).

    Raises:
        UsageError: an invalid URL, event or format.
        ConfigError: the existing file cannot be read.
    """
    url = check_url(url)
    chosen: Any = check_format(fmt) or detect_format(url)
    hooks = load_webhooks()
    same = next((w for w in hooks if w.url.get_secret_value() == url), None)
    hook = Webhook(
        id=same.id if same else webhook_id(url, chosen),
        url=SecretStr(url),
        events=parse_events(events),
        format=chosen,
    )
    hooks = [hook if w is same else w for w in hooks] if same else [*hooks, hook]
    save_webhooks(hooks)
    return hook


def check_format(fmt: str | None) -> str | None:
    """``slack``, ``teams``, ``json`` or None (guess from the URL).

    Raises:
        UsageError: another name.
    """
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(
            f"unknown webhook format {fmt!r}", hint=f"Use one of: {', '.join(FORMATS)}."
        )
    return fmt


def find_webhook(hooks: list[Webhook], key: str) -> Webhook:
    """The webhook whose id or URL is ``key``.

    Raises:
        UsageError: none is (the message does not repeat ``key``: it may be a URL).
    """
    found = next((w for w in hooks if key.strip() in (w.id, w.url.get_secret_value())), None)
    if found is None:
        raise UsageError(
            "no webhook with that id or URL",
            hint="`cpv configure --show` lists the webhooks and their ids.",
        )
    return found


def remove_webhook(key: str) -> Webhook:
    """Remove the webhook with this id or URL.

    Raises:
        UsageError: no webhook has that id or URL.
    """
    hooks = load_webhooks()
    gone = find_webhook(hooks, key)
    save_webhooks([w for w in hooks if w is not gone])
    clear_failure(gone.id)  # status no longer reports a webhook that is gone
    return gone


def failures_path() -> Path:
    return cpv_home() / FAILURES_FILE


def _read() -> dict[str, Any]:
    try:
        data = json.loads(failures_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def last_failures() -> list[WebhookFailure]:
    """Each webhook's last failed delivery not followed by a success (never raises)."""
    out = []
    for value in _read().values():
        try:
            out.append(WebhookFailure.model_validate(value))
        except ValueError:
            continue
    return sorted(out, key=lambda f: f.at)


def _update(change: Any) -> None:
    """Read, change and write the failures file under a lock shared by processes."""
    from filelock import FileLock, Timeout

    try:
        ensure_cpv_home()
        with FileLock(str(failures_path()) + ".lock", timeout=2):
            data = _read()
            if change(data):
                atomic_write(failures_path(), json.dumps(data, indent=2) + "\n", mode=0o600)
    except (OSError, Timeout) as exc:
        log.warning("cpv webhooks: could not record the outcome: %s", type(exc).__name__)


def record_failure(failure: WebhookFailure) -> None:
    """Keep ``failure`` as its webhook's last one (0600, under a lock processes share)."""

    def change(data: dict[str, Any]) -> bool:
        data[failure.id] = failure.model_dump(mode="json")
        return True

    _update(change)


def clear_failure(hook_id: str) -> None:
    """Forget a webhook's last failure: it delivered since."""
    if hook_id not in _read():
        return

    def change(data: dict[str, Any]) -> bool:
        return data.pop(hook_id, None) is not None

    _update(change)


def disabled() -> bool:
    return os.environ.get("CPV_NO_WEBHOOKS", "") not in ("", "0")


def emit(event: str, repo: Any, result: Any) -> None:
    """Announce a successful operation to the webhooks that take ``event``; never raises.

    Nothing is sent for a dry run or an operation that changed nothing. A failure is
    logged (URL masked) and recorded for ``cpv status``; see :mod:`cpv.notify_delivery`.
    """
    if disabled() or not webhooks_path().exists():
        return
    try:
        hooks = [w for w in load_webhooks() if event in w.events]
        if not hooks:
            return
        from cpv import notify_delivery, notify_payload

        facts = notify_payload.facts(event, repo, result)
        if facts is None:
            return
        for hook in hooks:
            payload = notify_payload.body(hook.format, facts)
            notify_delivery.start(hook, payload, event=event, model=facts["model_id"])
    except Exception as exc:  # a notification never fails the operation
        # a ConfigError names the file, never a URL; anything else only by its type
        why = exc.message if isinstance(exc, ConfigError) else type(exc).__name__
        problems.append(f"the {event} could not be announced to the webhooks: {why}")
        log.warning("cpv webhooks: %s", problems[-1])


def send_ping(hooks: list[Webhook]) -> list[WebhookFailure | None]:
    """Send a test message to each of ``hooks`` and wait for the answers (each within the
    delivery budget): None for a delivered one, else its failure (recorded like any other;
    a success clears the webhook's last failure)."""
    from cpv import notify_delivery, notify_payload

    sent = [
        notify_delivery.start(
            w, notify_payload.body(w.format, notify_payload.ping_facts(list(w.events))),
            event="test", model="",
        )
        for w in hooks
    ]  # fmt: skip
    notify_delivery.wait()
    return [d.failure for d in sent]


#: Why an operation could not be announced at all (read by the CLI, which warns of it).
problems: list[str] = []
