"""The background worker that versions (and pushes) saves while training goes on.

Guarantees, in order of importance:

* **Each version carries the bytes of its own save.** :meth:`VersionWorker.snapshot`
  copies the save into a private folder inside ``.git`` *at save time*, on the training
  thread (the kernel's copy, no Python buffers). The worker versions that copy
  (:func:`cpv.core.snapshots.tag_snapshot`): it hashes it, moves its files into the DVC cache
  and commits the pointer. It never reads, writes or hashes the folder the loop saves into.
* **Every save is accounted for**: versioned, unchanged (with the version it matches) or
  failed with its reason (see :class:`VersioningReport`). No save is dropped: when the
  queue's bound (count or bytes) is reached, the loop waits, and says so in the log.
* **Nothing in the worker crashes or hangs the loop.** The thread records every error
  on the save it belongs to; :meth:`VersionWorker.drain` raises them once, at the end.

The worker is one thread at the lowest CPU priority (``SCHED_IDLE`` on Linux, else
``nice``), so that hashing and git run on cores training leaves idle.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from cpv.api import training
from cpv.domain.errors import CpvError, NothingToTagError
from cpv.domain.paths import StrPath
from cpv.integrations._budget import SnapshotBudget
from cpv.integrations._outcomes import (
    VersioningError,
    VersionOutcome,
    VersionRequest,
    failure_error,
)

log = logging.getLogger("cpv")


def _lower_priority(increment: int) -> None:
    """Make the calling thread (and the git processes it starts) yield to training.

    On Linux the thread goes to ``SCHED_IDLE``: it runs only on a core nothing else wants,
    so it never preempts one of torch's threads (a preempted thread stalls the whole
    parallel op). Elsewhere it is ``nice``-d by ``increment``.
    """
    if increment <= 0:
        return
    tid = threading.get_native_id()
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
            return
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):  # threads have their own nice value on Linux only
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + increment))


_STOP = object()
_live_workers: weakref.WeakSet[VersionWorker] = weakref.WeakSet()


class VersionWorker:
    """Versions queued saves of one model repository in order, on one background thread.

    Args:
        repo: any directory inside the model repository.
        push: push after tagging (coalesced: one push covers every version tagged
            while the queue was busy) and once more when draining.
        background: False versions on the calling thread, raising at once.
        max_pending: bound on queued saves (0: none); a full queue makes the loop wait.
        max_pending_bytes: bound on the bytes of queued snapshots (None: a quarter of the
            disk's free space when the worker starts); one save is always admitted.
        snapshot_memory: bytes of queued snapshots that may be held in memory (None: an
            eighth of the RAM, at most 2 GiB; 0: always copy to disk). A save that does
            not fit is copied to a private folder on disk instead.
        nice: how much to lower the worker thread's CPU priority.

    Set ``keep_last`` to run, after each new version (pushed, when ``push``), a local gc
    keeping the last N model versions; a failure is logged and kept in ``gc_errors``.
    """

    def __init__(
        self,
        *,
        repo: StrPath = ".",
        push: bool = False,
        background: bool = True,
        max_pending: int = 0,
        max_pending_bytes: int | None = None,
        snapshot_memory: int | None = None,
        nice: int = 10,
    ) -> None:
        # Fail at the start of training, not at its end, when this is no model repository;
        # the repository is opened once for the whole run.
        self._repo = training.open_repo(repo)
        self.repo = self._repo.root
        self.model_path = self._repo.config.model_path
        self.push = push
        self.background = background
        self.staging_root = self._repo.git_dir / "cpv-staging"
        self.staging_root.mkdir(parents=True, exist_ok=True)
        self.budget = SnapshotBudget(
            self.staging_root,
            max_pending=max_pending,
            max_pending_bytes=max_pending_bytes,
            snapshot_memory=snapshot_memory,
            keep_alive=self._ensure_thread,
        )
        self._room = self.budget.room
        self._nice = nice
        self.keep_last: int | None = None
        self.gc_errors: list[BaseException] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._outcomes: list[VersionOutcome] = []
        self._unpushed: list[VersionOutcome] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._reported: set[int] = set()  # id() of outcomes already raised or returned
        self._known: dict[tuple[str, int, int, int], str] = {}  # data files already hashed
        self._steps: tuple[dict[str, Any], ...] = ()  # steps of saves that made no version
        _live_workers.add(self)

    # -- training thread -------------------------------------------------------------
    def new_staging_dir(self) -> Path:
        """An empty directory the worker owns: save straight into it to skip the copy."""
        return training.staging_dir(self._repo)

    def snapshot(self, path: str | Path, *, ignore: Iterable[str] = ()) -> training.Snapshot:
        """Take the bytes of ``path`` (a file or a directory) now, privately (see
        :meth:`SnapshotBudget.take`: it may wait for room, and says so)."""
        return self.budget.take(Path(path), ignore=ignore, new_folder=self.new_staging_dir)

    def submit(self, request: VersionRequest) -> Future[VersionOutcome]:
        """Queue a version (its ``source`` now belongs to the worker)."""
        future: Future[VersionOutcome] = Future()
        if not self.background:
            outcome = self._process(request, more_queued=False)
            with self._lock:
                self._reported.add(id(outcome))
            if not outcome.ok:
                raise failure_error([outcome], [outcome])
            future.set_result(outcome)
            return future
        self.budget.wait_for_room(request.size, disk=False)
        self.budget.added(request.size)
        self._ensure_thread()
        self._queue.put((request, future))
        return future

    def record_failure(self, request: VersionRequest, error: BaseException) -> VersionOutcome:
        """Account for a save that could not even be snapshotted (reported at the end)."""
        outcome = VersionOutcome(request=request, error=error)
        with self._lock:
            self._outcomes.append(outcome)
            if not self.background:
                self._reported.add(id(outcome))
        if not self.background:
            raise failure_error([outcome], [outcome])
        log.error("cpv: %s could not be versioned: %s", request.label or "a save", error)
        return outcome

    def drain(self, *, raise_on_failure: bool = True) -> list[VersionOutcome]:
        """Wait until every queued version is tagged (and pushed), then report.

        Returns every outcome since the worker started, in save order.

        Raises:
            VersioningError: some save could not be versioned or pushed.
        """
        if self._thread is not None:
            while self._queue.unfinished_tasks:
                self._ensure_thread()
                with self._room:
                    self._room.wait(timeout=0.5)
        with self._lock:
            # Versions whose push was deferred get one now; those whose push already
            # failed are reported rather than retried (`cpv push` retries them).
            if self.push and any(o.pushed is None for o in self._unpushed):
                self._push()
            outcomes = sorted(self._outcomes, key=lambda o: o.request.index)
            fresh = [o for o in outcomes if id(o) not in self._reported]
            self._reported.update(id(o) for o in outcomes)
        failures = [o for o in fresh if not o.ok]
        if failures and raise_on_failure:
            raise failure_error(outcomes, failures)
        return outcomes

    def close(self) -> list[VersionOutcome]:
        """Drain, stop the thread and raise on failure."""
        try:
            return self.drain()
        finally:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join(timeout=10)
                self._thread = None
            _live_workers.discard(self)

    def checkout_latest(self) -> None:
        """Put the newest version's files into the model path (call once the loop is done)."""
        made = {o.tag: o for o in self._outcomes if o.tag}
        with contextlib.suppress(CpvError, OSError):  # a report, never a new failure
            # only a version this run made: else the workspace is left alone
            training.restore_latest(self._repo, only_if=made)

    @property
    def pending(self) -> int:
        return self._queue.unfinished_tasks

    # -- worker thread ---------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="cpv-versioning", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        _lower_priority(self._nice)
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                request, future = item
                try:
                    outcome = self._process(request, more_queued=not self._queue.empty())
                except BaseException as exc:  # never lose the thread, never lose the error
                    outcome = VersionOutcome(request=request, error=exc)
                    with self._lock:
                        self._outcomes.append(outcome)
                self.budget.removed(request.size, request.snapshot)
                future.set_result(outcome)
            finally:
                self._queue.task_done()
                with self._room:
                    self._room.notify_all()

    def _process(self, request: VersionRequest, *, more_queued: bool) -> VersionOutcome:
        from cpv.api.managers import DataCheckpoints
        from cpv.integrations._shards import version_save

        outcome = VersionOutcome(request=request)
        started = time.perf_counter()
        snap = request.snapshot or training.FolderSnapshot(request.source)
        # Steps of a save that made no version go with the run's next one.
        steps, self._steps = (*self._steps, *request.steps), ()
        try:
            if request.with_data:
                with contextlib.suppress(NothingToTagError):
                    data = DataCheckpoints(self.repo).tag(message=_data_message(request))
                    if data.created:
                        outcome.data_tag = data.tag
            asked = training.TagRequest.build(
                message=request.message, metrics=request.metrics, params=request.params
            )
            asked = replace(asked, run=request.run, steps=steps)
            if request.job is not None:  # a save by many ranks: see _shards.py
                result = version_save(self._repo, snap, asked, request.job, failure=request.failure)
            else:
                result = training.version_snapshot(self._repo, snap, asked, known=self._known)
            outcome.tag, outcome.created = result.tag, result.created
            if not result.created:
                self._steps = steps
        except Exception as exc:
            self._steps = steps
            outcome.error = exc
            outcome.kept = self._keep(snap)
            log.error("cpv: %s could not be versioned: %s", request.label or "a save", exc)
        finally:
            snap.discard()
        log.debug("cpv: %s took %.3f s", outcome.describe(), time.perf_counter() - started)
        with self._lock:
            self._outcomes.append(outcome)
            if self.push and outcome.error is None:
                self._unpushed.append(outcome)
                if not more_queued:
                    self._push()
        if self.keep_last and outcome.created and outcome.error is None and not self._unpushed:
            self._collect(outcome)
        return outcome

    def _collect(self, outcome: VersionOutcome) -> None:
        """The local gc ``keep_last`` asks for, after a version is committed (and pushed);
        never an error for the training loop: logged and recorded."""
        from cpv.api.managers import ModelCheckpoints

        try:
            # without push, the versions are this clone's alone: keep_last drops the older ones
            result = ModelCheckpoints(self.repo).gc(keep_last=self.keep_last, force=not self.push)
        except Exception as exc:
            log.warning("cpv: gc after %s failed (training goes on): %s", outcome.tag, exc)
            with self._lock:
                self.gc_errors.append(exc)
            return
        if result.collected:
            log.info(
                "cpv: gc freed %d bytes (%s)",
                result.freed_local,
                ", ".join(c.tag for c in result.collected),
            )

    def _keep(self, snap: training.Snapshot) -> Path | None:
        """Keep the bytes of a save that failed before they reached the cache."""
        if isinstance(snap, training.FolderSnapshot):
            if snap.holds_files():
                kept = snap.root
                snap.root = self.new_staging_dir()  # discard() now removes an empty folder
                return kept
            return None
        if isinstance(snap, training.MemorySnapshot) and snap.files:
            with contextlib.suppress(OSError):
                folder = self.new_staging_dir()
                snap.keep_in(folder)
                return folder
        return None

    def _push(self) -> None:
        """Push everything tagged so far; the outcome is recorded on each version it covered."""
        from cpv.api.managers import ModelCheckpoints

        covered, self._unpushed = self._unpushed, []
        try:
            result = ModelCheckpoints(self.repo).push()
        except Exception as exc:
            log.error("cpv: push failed (versions stay tagged locally): %s", exc)
            for outcome in covered:
                outcome.pushed, outcome.push_error = False, exc
            # a later push retries everything: keep these versions in the next push's report
            self._unpushed = covered
            return
        for outcome in covered:
            outcome.pushed, outcome.push_error = True, None
            # another writer published this number first: ours now has the next free one
            if outcome.tag in result.renamed:
                outcome.tag = result.renamed[outcome.tag]


def _data_message(_request: VersionRequest) -> str:
    return "data changed: versioned by the training run"


def _drain_at_exit() -> None:
    for worker in list(_live_workers):
        try:
            worker.drain()
        except VersioningError as exc:
            log.error("cpv: %s\ncpv: %s", exc, exc.hint)
        except Exception as exc:  # pragma: no cover - last-resort report at interpreter exit
            log.error("cpv: versioning at exit failed: %s", exc)


atexit.register(_drain_at_exit)
