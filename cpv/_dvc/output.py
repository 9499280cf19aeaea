"""What DVC says: nothing on the console, and its local failures as cpv errors.

DVC prints (its ``ui``, rich spinners, tqdm bars, console log handlers). Here its output is
silenced for good, and a failure of the local work cpv still gives it (hashing, caching,
checking out) is translated by type: a full or read-only disk, never by wording. Transfers
no longer go through DVC (see :mod:`cpv.objects.transfer`).
"""

from __future__ import annotations

import logging
from typing import Any

from cpv.domain.errors import CpvError
from cpv.domain.os_errors import os_error

#: DVC's loggers. Nothing they say reaches the terminal or the host program's handlers.
_LOGGERS = ("dvc", "dvc_data", "dvc_objects", "dvc_s3")
#: DVC's and dvc_data's tqdm bars draw unless these loggers are above INFO.
_BAR_LOGGERS = ("dvc.progress", "dvc_data.callbacks")


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
        logger.handlers[:] = [logging.NullHandler()]
    for name in _BAR_LOGGERS:  # progress goes to the sink, never to tqdm
        logging.getLogger(name).setLevel(logging.CRITICAL)
    _no_colorama_reset()


def _no_colorama_reset() -> None:
    """DVC's logger setup runs ``colorama.init()``, whose exit handler writes a reset
    sequence to a terminal, even under NO_COLOR: unregister it."""
    import atexit

    try:
        from colorama import initialise
    except ImportError:
        return
    atexit.unregister(initialise.reset_all)


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
