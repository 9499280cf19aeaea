"""What queued snapshots may hold: saves, bytes, memory, and the disk they need.

The training thread asks :meth:`SnapshotBudget.take` for a private copy of a save. It
waits (and logs why) while the queue is at its bound or the disk lacks room, then takes
the copy in memory when the save is small and the memory budget allows (one read from the
page cache, no disk write on the training thread), else into a staging folder on disk by
the kernel's copy. It never skips a save.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from cpv.api import training as objects
from cpv.api.training import tree_size
from cpv.domain.errors import CpvError, DiskFullError

log = logging.getLogger("cpv")

#: Free space left on the disk after a snapshot; below it the loop waits, then the save fails.
DISK_RESERVE = 64 << 20
#: Saves up to this size are read into memory (the loop pays one page-cache read, ~2.6 ms
#: for 16 MB here); larger ones are copied on disk by the kernel (copy_file_range), which
#: costs less CPU in all (the worker then renames instead of writing them again) and, in
#: steady state, less time on the loop (0.36 s a GiB against 0.9 s to read it).
MEMORY_SNAPSHOT_MAX = 64 << 20


def default_snapshot_memory() -> int:
    """An eighth of the RAM, at most 2 GiB."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 256 << 20
    return min(2 << 30, ram // 8)


class SnapshotBudget:
    """Counts what the queue holds; ``room`` is notified whenever a save leaves it.

    Args:
        staging_root: where disk snapshots go (its disk's free space is checked).
        max_pending: bound on queued saves (0: none).
        max_pending_bytes: bound on queued bytes (None: a quarter of the free space now).
        snapshot_memory: bytes that may be held in memory (None: the default; 0: never).
        keep_alive: called while waiting, so that a dead worker thread is restarted.
    """

    def __init__(
        self,
        staging_root: Path,
        *,
        max_pending: int,
        max_pending_bytes: int | None,
        snapshot_memory: int | None,
        keep_alive: Callable[[], None],
    ) -> None:
        self.staging_root = staging_root
        self.max_pending = max(0, max_pending)
        self.max_pending_bytes = (
            shutil.disk_usage(staging_root).free // 4
            if max_pending_bytes is None
            else max_pending_bytes
        )
        self.snapshot_memory = (
            default_snapshot_memory() if snapshot_memory is None else snapshot_memory
        )
        self.room = threading.Condition()
        self.count = self.bytes = self.memory = 0
        self._keep_alive = keep_alive

    def take(
        self, path: Path, *, ignore: Iterable[str], new_folder: Callable[[], Path]
    ) -> objects.Snapshot:
        """A private copy of the save at ``path``.

        Raises:
            CpvError: nothing at ``path``; UsageError: a symlink leaves it;
            DiskFullError: no room even with the queue empty.
        """
        if not path.exists():
            raise CpvError(
                f"no checkpoint at {path}", hint="Save the checkpoint before logging it."
            )
        size = tree_size(path)
        self.wait_for_room(size)
        with self.room:
            in_memory = size <= MEMORY_SNAPSHOT_MAX and self.memory + size <= self.snapshot_memory
            if in_memory:
                self.memory += size
        if in_memory:
            try:
                snap = objects.MemorySnapshot.read(path, ignore=ignore)
            except BaseException as exc:
                with self.room:
                    self.memory -= size
                if not isinstance(exc, MemoryError):
                    raise  # out of memory: fall back to a copy on disk
            else:
                with self.room:
                    self.memory += snap.size - size
                return snap
        staged = new_folder()
        try:
            objects.snapshot(path, staged, ignore=ignore)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return objects.FolderSnapshot(staged)

    def _full(self, size: int, *, disk: bool) -> bool:
        return bool(self.count) and (
            bool(self.max_pending and self.count >= self.max_pending)
            or self.bytes + size > self.max_pending_bytes
            or (disk and shutil.disk_usage(self.staging_root).free < size + DISK_RESERVE)
        )

    def wait_for_room(self, size: int, *, disk: bool = True) -> None:
        """Block while the queue is full (by count or bytes) or the disk cannot take ``size``."""
        said = False
        with self.room:
            while self._full(size, disk=disk):
                if not said:
                    log.warning(
                        "cpv: versioning is %d save(s) (%.0f MB) behind; the loop waits for "
                        "room before snapshotting the next save (%.0f MB)",
                        self.count,
                        self.bytes / 1e6,
                        size / 1e6,
                    )
                    said = True
                self._keep_alive()  # a dead thread would make this wait forever
                self.room.wait(timeout=1.0)
        free = shutil.disk_usage(self.staging_root).free
        if disk and free < size + DISK_RESERVE:
            raise DiskFullError(
                f"not enough disk space to snapshot a {size / 1e6:.0f} MB checkpoint "
                f"({free / 1e6:.0f} MB free)",
                path=self.staging_root,
            )

    def added(self, size: int) -> None:
        with self.room:
            self.count += 1
            self.bytes += size

    def removed(self, size: int, snap: objects.Snapshot | None) -> None:
        with self.room:
            self.count -= 1
            self.bytes -= size
            if isinstance(snap, objects.MemorySnapshot):
                self.memory -= snap.size
            self.room.notify_all()
