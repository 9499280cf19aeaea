"""What DVC says: nothing on the console, and its failures as cpv errors.

DVC prints (its ``ui``, rich spinners, tqdm bars, console log handlers) and, for a transfer
that fails file by file, only logs the cause and raises a count. Here its output is
silenced for good, the causes it logs are collected for the call that needs them, and a
failure is translated by type: the storage's own error (through :mod:`cpv._s3`), a full
or read-only disk, then DVC's exception class. Never by wording.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cpv.errors import CpvError, MissingDataError, StorageError, os_error
from cpv.urls import is_s3

#: DVC's loggers. Nothing they say reaches the terminal or the host program's handlers.
_LOGGERS = ("dvc", "dvc_data", "dvc_objects", "dvc_s3")
#: DVC's and dvc_data's tqdm bars draw unless these loggers are above INFO.
_BAR_LOGGERS = ("dvc.progress", "dvc_data.callbacks")


class _FailureLog(logging.Handler):
    """Keeps the exceptions DVC only logs (a transfer it counts as failed) for
    :func:`transfer_error` to say why; every other record is dropped."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sinks: list[list[BaseException]] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        for sink in self.sinks:
            if exc is not None and len(sink) < 20:
                sink.append(exc)


_failure_log = _FailureLog()


class _NoStatus:
    """Stands in for DVC's rich spinners (``ui.status``: "Checking graph")."""

    def __enter__(self) -> _NoStatus:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None


def _discard(*args: Any, **kwargs: Any) -> None:
    return None


def silence() -> None:
    """DVC's console, spinners, progress bars and loggers write nothing, from now on."""
    from dvc.ui import ui

    if getattr(ui, "write", None) is _discard:
        return
    # The library never prints; results go back to the caller. ``ui.error_write`` and
    # ``ui.warn`` write even when the ui is disabled, so its writers are replaced.
    ui._enabled = False
    ui.write = _discard
    ui.rich_print = _discard
    ui.status = lambda *args, **kwargs: _NoStatus()
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.ERROR)
        logger.propagate = False
        # `import dvc` gives these loggers console handlers (dvc.logger.setup): replace them.
        logger.handlers[:] = [_failure_log]
    for name in _BAR_LOGGERS:  # progress goes to the sink, never to tqdm
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def failures() -> Iterator[list[BaseException]]:
    """Collect the exceptions DVC logs instead of raising, for the duration of a call."""
    sink: list[BaseException] = []
    _failure_log.sinks.append(sink)
    if len(_failure_log.sinks) == 1:  # the per-file failures are logged at DEBUG
        for name in _LOGGERS:
            logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        _failure_log.sinks.remove(sink)
        if not _failure_log.sinks:
            for name in _LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)


def _os_cause(exc: BaseException) -> OSError | None:
    """The first OSError in ``exc``'s ``__cause__``/``__context__`` chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno is not None:
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def local_error(exc: BaseException) -> CpvError | None:
    """A full disk or an unwritable path anywhere in ``exc``'s chain, as a cpv error."""
    if isinstance(exc, CpvError):
        return exc
    cause = _os_cause(exc)
    return os_error(cause) if cause is not None else None


def transfer_error(
    what: str,
    exc: Exception,
    failures: list[BaseException],
    remote: dict[str, Any],
) -> CpvError | None:
    """The cpv error for a failed transfer, None for one cpv does not know (a bug).

    By type, never by wording: the storage's own failure when DVC raised or only logged
    one (bad keys, missing bucket or profile, unreachable endpoint), a full or read-only
    disk, then DVC's exception type.
    """
    from dvc.exceptions import DvcException, FileTransferError

    if isinstance(exc, CpvError):
        return None
    url = str(remote.get("url") or "the remote")
    for candidate in (exc, *failures):
        if is_s3(url):
            from cpv import _s3

            storage_error = _s3.remote_error(candidate, remote)
            if storage_error is not None:
                return storage_error
        on_disk = local_error(candidate)
        if on_disk is not None:
            return on_disk
    if isinstance(exc, FileTransferError):
        return MissingDataError(
            f"cannot {what} {url}: {exc.amount} object(s) missing"
            + (" from the local cache" if what == "push to" else " there, or unreadable")
        )
    if isinstance(exc, (DvcException, OSError)):
        first = str(exc).strip().splitlines()
        return StorageError(
            f"cannot {what} {url}: {first[0] if first else type(exc).__name__}",
            hint="Check the storage with `cpv doctor`.",
        )
    return None
