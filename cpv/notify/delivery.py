"""Delivering webhook payloads: in background threads, within a bounded budget.

Each delivery is one daemon thread that POSTs the payload with the standard library
(``urllib.request``: no proxy setting is bypassed, redirects are not followed). An attempt
waits at most :data:`ATTEMPT_TIMEOUT` seconds; a 5xx, a 429, a refused connection or a
timeout is retried after a short backoff, at most :data:`ATTEMPTS` times, and never past the
delivery's budget (``CPV_WEBHOOK_TIMEOUT`` seconds from the moment the operation finished,
default :data:`DEFAULT_BUDGET`). A 4xx is not retried: the URL is wrong or revoked.

A process waits for its deliveries in :func:`wait` (the CLI calls it when a command ends; an
``atexit`` hook calls it for the Python API), never longer than their budgets. A failure is
logged on the ``cpv.notify.webhooks`` logger (URL masked) and recorded per webhook in
``$CPV_HOME/webhook-failures.json`` (0600), which ``cpv status`` shows; the webhook's next
successful delivery clears it.
"""

from __future__ import annotations

import atexit
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

from cpv._version import __version__
from cpv.domain.results import WebhookFailure
from cpv.domain.text import printable
from cpv.notify.webhooks import Webhook, clear_failure, log, record_failure, scrub
from cpv.settings.env import ENV_SECONDS, env_seconds

ATTEMPTS = 3
ATTEMPT_TIMEOUT = 3.0
DEFAULT_BUDGET = ENV_SECONDS["CPV_WEBHOOK_TIMEOUT"][0]
BACKOFF = (0.5, 1.0)
#: How much of an error reply is read (then scrubbed, then cut to one short line).
_REPLY_MAX = 65536
#: Time past the budget that wait() allows a finishing thread to record its outcome.
_GRACE = 0.5

_lock = threading.Lock()
_pending: list[Delivery] = []
_hooked = False


def budget() -> float:
    """Seconds one delivery may take in all (``CPV_WEBHOOK_TIMEOUT``, 0.5 to 60).

    Raises:
        ConfigError: the variable is set to anything else (``nan`` included).
    """
    return env_seconds("CPV_WEBHOOK_TIMEOUT")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx surfaces as an HTTPError: a webhook does not move


class Delivery:
    """One payload to one webhook, sent by its own thread."""

    def __init__(self, hook: Webhook, body: dict[str, Any], *, event: str, model: str) -> None:
        self.hook_id = hook.id
        self.masked = hook.masked_url
        self._url = hook.url.get_secret_value()
        self._data = json.dumps(body, default=str).encode("utf-8")
        self.event = event
        self.model = model
        self.budget = budget()
        self.deadline = time.monotonic() + self.budget
        self.failure: WebhookFailure | None = None
        self.attempts = 0
        self._done = threading.Lock()
        self._settled = False
        self.thread = threading.Thread(target=self._run, name=f"cpv-webhook-{hook.id}", daemon=True)

    def _attempt(self, timeout: float) -> tuple[str, bool] | None:
        """One POST: None when it was taken, else why not and whether to try again."""
        request = urllib.request.Request(
            self._url,
            data=self._data,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": f"cpv/{__version__}",
            },
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read(65536)
            return None
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code}" + self._excerpt(exc)
            return reason, exc.code >= 500 or exc.code == 429  # a 4xx: wrong or revoked URL
        except TimeoutError:
            return f"no answer within {timeout:.1f} s", True
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                return f"no answer within {timeout:.1f} s", True
            return f"cannot connect: {exc.reason}", True
        except OSError as exc:
            return f"connection failed: {exc.strerror or type(exc).__name__}", True
        except Exception as exc:  # e.g. http.client.InvalidURL: not worth a retry
            return type(exc).__name__, False

    def _excerpt(self, exc: urllib.error.HTTPError) -> str:
        """`` (first line of the reply)``: read whole (up to 64 KiB) and scrubbed of the URL's
        secret parts *before* it is cut, so no cut leaves part of a token; control
        characters made visible."""
        text = exc.read(_REPLY_MAX).decode("utf-8", "replace").strip() if exc.fp else ""
        lines = printable(scrub(text, self._url)).splitlines()
        return f" ({lines[0][:80]})" if lines else ""

    def _run(self) -> None:
        try:
            self._deliver()
        except Exception as exc:  # never a traceback from a background thread
            self._settle(f"unexpected {type(exc).__name__}")

    def _deliver(self) -> None:
        reason = ""
        for attempt in range(ATTEMPTS):
            left = self.deadline - time.monotonic()
            if left < 0.2:
                break
            self.attempts = attempt + 1
            outcome = self._attempt(min(ATTEMPT_TIMEOUT, left))
            if outcome is None:
                self._settle(None)
                return
            reason, retry = outcome
            if not retry:
                break
            if attempt < len(BACKOFF):
                time.sleep(max(0.0, min(BACKOFF[attempt], self.deadline - time.monotonic())))
        self._settle(reason or "no time left to try")

    def _settle(self, reason: str | None) -> None:
        """Record the outcome once (the thread or wait(), whichever comes first)."""
        failure = None
        if reason is not None:
            tries = f" after {self.attempts} attempt(s)" if self.attempts > 1 else ""
            failure = WebhookFailure(
                id=self.hook_id,
                url=self.masked,
                event=self.event,
                model=self.model,
                at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                reason=printable(scrub(reason, self._url), multiline=False) + tries,
                attempts=self.attempts,
            )
        with self._done:
            if self._settled:
                return
            self._settled, self.failure = True, failure
        if failure is None:
            clear_failure(self.hook_id)
            return
        log.warning(
            "cpv webhook %s (%s): the %s event was not delivered: %s",
            self.hook_id, self.masked, self.event, failure.reason,
        )  # fmt: skip
        record_failure(failure)


def start(hook: Webhook, body: dict[str, Any], *, event: str, model: str) -> Delivery:
    """Send ``body`` (about ``model``, ``team/name``) to ``hook`` in the background;
    :func:`wait` collects the outcome."""
    global _hooked
    delivery = Delivery(hook, body, event=event, model=model)
    with _lock:
        _pending.append(delivery)
        if not _hooked:
            atexit.register(wait)
            _hooked = True
    delivery.thread.start()
    return delivery


def running() -> int:
    """How many deliveries started so far have not finished yet."""
    with _lock:
        return sum(1 for d in _pending if d.thread.is_alive())


def wait() -> list[WebhookFailure]:
    """Wait for the deliveries started so far, each at most until its budget ends, and
    return those that failed. A delivery still running then counts as failed (no answer)."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    failures = []
    for delivery in pending:
        delivery.thread.join(max(0.0, delivery.deadline + _GRACE - time.monotonic()))
        if delivery.thread.is_alive():
            delivery._settle(f"no answer within the {delivery.budget:.1f} s budget")
        if delivery.failure is not None:
            failures.append(delivery.failure)
    return failures
