"""Progress reporting: one small interface, passed to a manager, seen wherever work is slow.

```python
from cpv import ModelCheckpoints

class Printer:
    def transfer(self, key, description, done, total, is_bytes, finished):
        if finished:
            print(f"{description}: {done} of {total}")
    def step(self, done, total, label):
        print(f"{done}/{total} {label}")
    def waiting(self, message):
        print(message)
    def stage(self, label):  # optional: the work that moves no bytes ("publishing to git")
        print(label)

ModelCheckpoints(".", progress=Printer()).push()
```

The manager makes its ``progress`` the active one (a context variable) for the duration of
each call; the DVC adapter, the repository lock and the storage move report to whatever is
active. The library itself never draws: the CLI passes a terminal view, the default does nothing.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


class Progress(Protocol):
    """Receives progress from the library. Methods may be called from DVC's worker threads."""

    def transfer(
        self,
        key: int,
        description: str,
        done: int,
        total: int | None,
        is_bytes: bool,
        finished: bool,
    ) -> None:
        """Hashing, caching, uploading or downloading moved on.

        Args:
            key: identifies one piece of work (one file, one batch) across its updates.
            description: what is moving, e.g. ``"hashing model.bin"``.
            done: bytes (``is_bytes``) or files done so far.
            total: bytes or files in all, when known.
            is_bytes: whether ``done``/``total`` count bytes rather than files.
            finished: the last update of this piece of work.
        """

    def step(self, done: int, total: int, label: str) -> None:
        """A long operation of countable steps moved on (moving storage: ``done`` of ``total``
        versions copied, ``label`` the version now copying, ``""`` when verifying)."""

    def waiting(self, message: str) -> None:
        """The command waits for another writer to release the repository lock."""


class StageProgress(Progress, Protocol):
    """A :class:`Progress` that also hears of the stages of work that moves no bytes (an
    optional method: receivers without it are not told)."""

    def stage(self, label: str) -> None:
        """The work moved on to ``label``, e.g. ``"publishing to git"`` after the upload."""


class NoProgress:
    """The default: report nothing."""

    def transfer(
        self,
        key: int,
        description: str,
        done: int,
        total: int | None,
        is_bytes: bool,
        finished: bool,
    ) -> None:
        pass

    def step(self, done: int, total: int, label: str) -> None:
        pass

    def waiting(self, message: str) -> None:
        pass


_NOTHING = NoProgress()
_active: contextvars.ContextVar[Progress | None] = contextvars.ContextVar(
    "cpv_progress", default=None
)


def active() -> Progress | None:
    """The progress receiver of the call under way in this thread, or None when nobody watches."""
    return _active.get()


def current() -> Progress:
    """The active progress receiver, or one that ignores everything."""
    return _active.get() or _NOTHING


def stage(label: str) -> None:
    """Tell the active receiver, when it has a ``stage`` method (:class:`StageProgress`),
    that the work moved on to ``label``: what runs after the last byte moved is not silence."""
    receiver = _active.get()
    told = getattr(receiver, "stage", None)
    if callable(told):
        told(label)


@contextmanager
def reporting(progress: Progress | None) -> Iterator[None]:
    """Make ``progress`` the active receiver inside the ``with`` block (None: keep the current)."""
    if progress is None:
        yield
        return
    token = _active.set(progress)
    try:
        yield
    finally:
        _active.reset(token)


def reports_progress(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """Decorate a method to run with ``self.progress`` (a :class:`Progress` or None) active."""

    @functools.wraps(method)
    def wrapper(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with reporting(getattr(self, "progress", None)):
            return method(self, *args, **kwargs)

    return wrapper
