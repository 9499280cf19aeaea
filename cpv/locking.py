"""One writer per repository, and recovery of whatever a killed writer left behind.

* :func:`repo_lock` takes an OS file lock (``flock``) in ``.git/cpv/lock``. The OS releases it
  when the holder dies, so a crashed process never leaves a lock that blocks forever; a live
  holder makes the next command wait (bounded by ``CPV_LOCK_TIMEOUT``) and then fail clearly.
* :class:`Journal` records what a multi-step change is about to do (``.git/cpv/txn.json``).
  Whoever takes the lock next finds an unfinished journal and rolls the change back (or forward,
  when every tag it meant to make already exists), so a version is whole or absent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from cpv.config import lock_timeout
from cpv.errors import LockTimeoutError
from cpv.progress import current as current_progress

_STATE_DIR = "cpv"

#: The older module-wide hook for the "waiting for another writer" message, still honoured
#: when set. Prefer a :class:`cpv.progress.Progress` passed to the manager: its ``waiting``.
on_wait: Callable[[str], None] | None = None


def state_dir(git_dir: Path) -> Path:
    path = git_dir / _STATE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def repo_lock(git_dir: Path, *, timeout: float | None = None) -> Iterator[None]:
    directory = state_dir(git_dir)
    owner_file = directory / "lock.owner"
    lock = FileLock(str(directory / "lock"))
    wait = lock_timeout() if timeout is None else timeout
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            # Said once, to the active progress receiver (the CLI prints it to stderr).
            say = on_wait or current_progress().waiting
            owner = owner_file.read_text().strip() if owner_file.exists() else "another process"
            say(f"waiting up to {wait:g}s for {owner} to finish with this repository…")
            lock.acquire(timeout=wait)
    except Timeout:
        owner = owner_file.read_text().strip() if owner_file.exists() else "another process"
        raise LockTimeoutError(
            f"repository is busy: {owner} has held its lock for over {wait:g}s"
        ) from None
    try:
        owner_file.write_text(f"cpv pid {os.getpid()}\n")
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


class Journal:
    """The intent of one multi-step change, kept on disk until the change is complete."""

    def __init__(self, git_dir: Path) -> None:
        self.path = state_dir(git_dir) / "txn.json"

    def begin(self, **intent: Any) -> None:
        intent["pid"] = os.getpid()
        intent["started"] = time.time()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(intent))
        os.replace(tmp, self.path)

    def pending(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            # A torn (or foreign) write of the journal itself: nothing after it happened yet.
            self.path.unlink(missing_ok=True)
            return None
        return data

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
