"""The background worker that tags (and pushes) versions while training goes on.

Guarantees, in order of importance:

* **Each version carries the bytes of its own save.** :meth:`VersionWorker.snapshot`
  copies the checkpoint into a private staging directory *at save time*, on the
  training thread; the worker later tags that copy (``tag(source=...)``), never
  whatever the training script has written to the same path since.
* **No save is dropped.** Requests go through an unbounded FIFO queue (or a bounded
  one that makes the trainer wait, with ``max_pending``): never "skip if busy".
* **Failures are loud.** :meth:`VersionWorker.drain` waits for the queue to empty and
  raises :class:`VersioningError` naming every version that could not be tagged or
  pushed. Versions already tagged stay tagged locally; a failed push is retried by
  ``cpv push``. If a script forgets to drain, an exit hook drains and prints the failures.

The worker is one thread at a lower CPU priority (``nice``), so that hashing and
uploads yield to the training loop on a busy machine.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import queue
import shutil
import sys
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpv.errors import CpvError, NothingToTagError

MetricValue = float | int | str


class VersioningError(CpvError):
    """Versions queued during training could not all be tagged or pushed."""

    def __init__(self, message: str, *, outcomes: list[VersionOutcome], hint: str | None = None):
        super().__init__(message, hint=hint)
        self.outcomes = outcomes

    @property
    def failures(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if not o.ok]


@dataclass(frozen=True)
class VersionRequest:
    """One save to version: the staged copy of its bytes and what to record with it."""

    source: Path
    message: str = ""
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    #: also version ``data/`` first, when its content changed since its latest version
    with_data: bool = False
    label: str = ""


@dataclass
class VersionOutcome:
    """What became of one request."""

    request: VersionRequest
    tag: str | None = None
    created: bool = False
    data_tag: str | None = None
    error: BaseException | None = None
    #: None: no push asked for; True/False: the push that covered this version succeeded
    pushed: bool | None = None
    push_error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.pushed is not False


def clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, MetricValue]:
    """Metrics as the version metadata accepts them: numbers (tensors unwrapped) or text."""
    out: dict[str, MetricValue] = {}
    for key, value in (metrics or {}).items():
        if value is None:
            continue
        if hasattr(value, "item") and callable(value.item):
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                value = value.item()  # 0-d tensors and numpy scalars
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # a diverged run (loss=nan) is still versioned, its metric as text
        if not isinstance(value, int | float | str):
            value = str(value)
        out[str(key)] = value
    return out


def _staging_root(repo: Path) -> Path:
    """Inside ``.git`` when possible: same filesystem as the checkout, never tracked."""
    for parent in (repo, *repo.parents):
        git_dir = parent / ".git"
        if git_dir.is_dir():
            return git_dir / "cpv-staging"
        if git_dir.exists():
            break
    return Path(tempfile.gettempdir()) / "cpv-staging"


def _lower_priority(increment: int) -> None:
    if increment <= 0 or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):  # threads have their own nice value on Linux only
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, current + increment))


_STOP = object()
_live_workers: weakref.WeakSet[VersionWorker] = weakref.WeakSet()


class VersionWorker:
    """Tags queued saves of one model repository in order, on one background thread.

    Args:
        repo: any directory inside the model repository.
        push: push after tagging (coalesced: one push covers every version tagged
            while the queue was busy) and once more when draining.
        background: False tags on the calling thread, raising at once.
        max_pending: bound the queue; a full queue makes :meth:`submit` wait.
        nice: how much to lower the worker thread's CPU priority.
    """

    def __init__(
        self,
        *,
        repo: str | Path = ".",
        push: bool = False,
        background: bool = True,
        max_pending: int = 0,
        nice: int = 10,
    ) -> None:
        from cpv.repo import ModelRepo

        # Fail at the start of training, not at its end, when this is no model repository.
        self.repo = ModelRepo.open(repo).root
        self.push = push
        self.background = background
        self.staging_root = _staging_root(self.repo)
        self._nice = nice
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(0, max_pending))
        self._outcomes: list[VersionOutcome] = []
        self._unpushed: list[VersionOutcome] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._reported = 0
        _live_workers.add(self)

    # -- training thread -------------------------------------------------------------
    def snapshot(self, path: str | Path, *, ignore: Iterable[str] = ()) -> Path:
        """Copy ``path`` (a file or a directory) to a fresh staging directory, now."""
        path = Path(path)
        if not path.exists():
            raise CpvError(
                f"no checkpoint at {path}", hint="Save the checkpoint before logging it."
            )
        staged = self.new_staging_dir()
        try:
            if path.is_dir():
                patterns = shutil.ignore_patterns(*ignore) if ignore else None
                shutil.copytree(path, staged, ignore=patterns, dirs_exist_ok=True)
            else:
                shutil.copy2(path, staged / path.name)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        return staged

    def new_staging_dir(self) -> Path:
        """An empty directory the worker owns: save straight into it to skip the copy."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        staged = self.staging_root / uuid.uuid4().hex
        staged.mkdir()
        return staged

    def submit(self, request: VersionRequest) -> Future[VersionOutcome]:
        """Queue a version (its ``source`` now belongs to the worker)."""
        future: Future[VersionOutcome] = Future()
        if not self.background:
            outcome = self._process(request, more_queued=False)
            with self._lock:
                self._reported = len(self._outcomes)
            if not outcome.ok:
                raise _failure_error([outcome], [outcome])
            future.set_result(outcome)
            return future
        self._ensure_thread()
        self._queue.put((request, future))
        return future

    def drain(self, *, raise_on_failure: bool = True) -> list[VersionOutcome]:
        """Wait until every queued version is tagged (and pushed), then report.

        Returns every outcome since the worker started, in queue order.

        Raises:
            VersioningError: some version could not be tagged or pushed.
        """
        if self._thread is not None:
            self._queue.join()
        with self._lock:
            # Versions whose push was deferred get one now; those whose push already
            # failed are reported rather than retried (`cpv push` retries them).
            if self.push and any(o.pushed is None for o in self._unpushed):
                self._push()
            outcomes = list(self._outcomes)
            fresh = outcomes[self._reported :]
            self._reported = len(outcomes)
        failures = [o for o in fresh if not o.ok]
        if failures and raise_on_failure:
            raise _failure_error(outcomes, failures)
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
                future.set_result(outcome)
            finally:
                self._queue.task_done()

    def _process(self, request: VersionRequest, *, more_queued: bool) -> VersionOutcome:
        from cpv.managers import DataCheckpoints, ModelCheckpoints

        outcome = VersionOutcome(request=request)
        try:
            if request.with_data:
                with contextlib.suppress(NothingToTagError):
                    data = DataCheckpoints(self.repo).tag(message=_data_message(request))
                    if data.created:
                        outcome.data_tag = data.tag
            result = ModelCheckpoints(self.repo).tag(
                message=request.message,
                metrics=request.metrics,
                params=request.params,
                source=request.source,
            )
            outcome.tag, outcome.created = result.tag, result.created
            shutil.rmtree(request.source, ignore_errors=True)
        except Exception as exc:
            outcome.error = exc  # the staged bytes are kept: the error message names them
        with self._lock:
            self._outcomes.append(outcome)
            if self.push and outcome.error is None:
                self._unpushed.append(outcome)
                if not more_queued:
                    self._push()
        return outcome

    def _push(self) -> None:
        """Push everything tagged so far; the outcome is recorded on each version it covered."""
        from cpv.sync import push

        covered, self._unpushed = self._unpushed, []
        try:
            push(path=self.repo)
        except Exception as exc:
            for outcome in covered:
                outcome.pushed, outcome.push_error = False, exc
            # a later push retries everything: keep these versions in the next push's report
            self._unpushed = covered
            return
        for outcome in covered:
            outcome.pushed, outcome.push_error = True, None


def _data_message(_request: VersionRequest) -> str:
    return "data changed: versioned by the training run"


def _failure_error(
    outcomes: list[VersionOutcome], failures: list[VersionOutcome]
) -> VersioningError:
    untagged = [o for o in failures if o.error is not None]
    unpushed = [o for o in failures if o.error is None]
    parts = []
    if untagged:
        first = untagged[0]
        parts.append(
            f"{len(untagged)} checkpoint(s) could not be versioned "
            f"({first.request.label or 'first'}: {first.error}; its bytes are kept in {first.request.source})"
        )
    if unpushed:
        tags = ", ".join(o.tag or "?" for o in unpushed)
        parts.append(f"tagged locally but not pushed: {tags} ({unpushed[-1].push_error})")
    tagged = sum(1 for o in outcomes if o.error is None and o.created)
    hint = (
        f"{tagged} version(s) are tagged locally and intact (`cpv list`). "
        "Run `cpv push` when the remote is reachable (`cpv doctor` checks it)."
    )
    return VersioningError("; ".join(parts), outcomes=outcomes, hint=hint)


def _drain_at_exit(report: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> None:
    for worker in list(_live_workers):
        try:
            worker.drain()
        except VersioningError as exc:
            report(f"cpv: ERROR: {exc}\ncpv: {exc.hint}")
        except Exception as exc:  # pragma: no cover - last-resort report at interpreter exit
            report(f"cpv: ERROR while versioning at exit: {exc}")


atexit.register(_drain_at_exit)
