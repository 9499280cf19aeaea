"""The one place a publishing operation announces itself: ``@announces("tag")`` on the
operation (``cpv/ops/``), so every route to it (the CLI, the Python API, the training
worker) tells the webhooks the same way. Delivery is in the background
(:mod:`cpv.notify.delivery`); nothing here ever fails the operation."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from cpv.domain.errors import ConfigError
from cpv.domain.results import WebhookFailure
from cpv.notify.webhooks import Webhook, load_webhooks, webhooks_path

log = logging.getLogger("cpv.notify.webhooks")

P = ParamSpec("P")
R = TypeVar("R")


def announces(event: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an operation whose first argument is its repository (opened, or a path in
    it): once it returns, the webhooks that take ``event`` are told about its result."""

    def decorate(op: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(op)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            result = op(*args, **kwargs)
            target = args[0] if args else kwargs.get("repo", kwargs.get("path", "."))
            emit(event, target, result)
            return result

        return run

    return decorate


def disabled() -> bool:
    return os.environ.get("CPV_NO_WEBHOOKS", "") not in ("", "0")


def emit(event: str, repo: Any, result: Any) -> None:
    """Announce a successful operation to the webhooks that take ``event``; never raises.

    Nothing is sent for a dry run or an operation that changed nothing. A failure is
    logged (URL masked) and recorded for ``cpv status``; see :mod:`cpv.notify.delivery`.
    ``repo``: the opened repository, or a path in it.
    """
    if disabled() or not webhooks_path().exists():
        return
    try:
        hooks = [w for w in load_webhooks() if event in w.events]
        if not hooks:
            return
        if isinstance(repo, (str, os.PathLike)):  # opened only when a webhook listens
            from cpv.core.repo import ModelRepo

            repo = ModelRepo.open(Path(repo))
        from cpv.notify import delivery as notify_delivery
        from cpv.notify import payload as notify_payload

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
    from cpv.notify import delivery as notify_delivery
    from cpv.notify import payload as notify_payload

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
