"""Webhooks: which are configured, for which events, and announcing an operation to them.

The webhooks live in ``$CPV_HOME/webhooks.json`` (mode 0600 in the 0700 ``$CPV_HOME``,
written through a temporary file and a rename): a webhook URL is a secret (Slack's and
Teams' embed their token), so it never goes to ``config.yaml``, a repository, a tag
message, a log line or an error; everywhere else it is shown masked (:func:`mask_url`).

:func:`emit` is called by the managers after ``tag``, ``push``, ``promote``, ``demote`` and
``gc`` succeed. It never raises and never blocks: the payloads are built at once (cheap:
the repository state of that moment), sent by :mod:`cpv.notify.delivery` in background
threads, and a CLI waits for them at the end of the command, never longer than their budget.
``CPV_NO_WEBHOOKS=1`` turns every webhook off for a process.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from cpv.domain.errors import ConfigError, UsageError
from cpv.domain.paths import cpv_home
from cpv.domain.results import WebhookFailure
from cpv.notify.url import Format, check_url, detect_format, mask_url, scrub
from cpv.settings.config import atomic_write, ensure_cpv_home

WEBHOOKS_FILE = "webhooks.json"
FAILURES_FILE = "webhook-failures.json"
Event = Literal["tag", "push", "promote", "demote", "gc"]
EVENTS: tuple[Event, ...] = get_args(Event)
FORMATS: tuple[str, ...] = get_args(Format)

log = logging.getLogger(__name__)


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


def webhooks_path() -> Path:
    return cpv_home() / WEBHOOKS_FILE


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
    try:
        urls = {w.id: w.url.get_secret_value() for w in load_webhooks()}
    except ConfigError:
        urls = {}
    for value in _read().values():
        try:
            failure = WebhookFailure.model_validate(value)
        except ValueError:
            continue
        if failure.id in urls:  # recorded by an older cpv, or by hand: scrubbed again
            failure.reason = scrub(failure.reason, urls[failure.id])
        out.append(failure)
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
