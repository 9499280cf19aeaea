"""Versioning from a plain training loop.

Two ways in::

    from cpv.integrations import versioning

    with versioning(repo=".", params=params) as v:     # one background worker per run
        for epoch in range(epochs):
            loss = train_one_epoch()
            v.log_metrics({"loss": loss}, step=epoch)    # drawn by `cpv compare --html`
            save_file(model.state_dict(), "checkpoints/model.safetensors")
            v.log_checkpoint("checkpoints", metrics={"val_loss": val_loss})
    # leaving the block waits for every queued version and raises VersioningError on failure

    from cpv.integrations import log_checkpoint       # one version, right now

    log_checkpoint("checkpoints", metrics={"accuracy": 0.93})

Only the global rank 0 process versions (see :mod:`cpv.integrations._rank`); on other
ranks every call here does nothing and returns ``None`` — except
``log_checkpoint(folder, distributed=True)``, a collective call for a checkpoint every rank
saved a part of (``torch.distributed.checkpoint``): each rank uploads its own files and rank
0 makes one version of the save (:mod:`cpv.integrations._shards`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from cpv.api.training import MemorySnapshot, foreign_names, tree_size
from cpv.domain.errors import CpvError, DistributedSaveError
from cpv.domain.paths import StrPath
from cpv.integrations._outcomes import (
    VersioningError,
    VersioningReport,
    VersionOutcome,
    VersionRequest,
    clean_metrics,
)
from cpv.integrations._rank import is_main_process
from cpv.integrations._shards import ShardJob, current_job, version_save
from cpv.integrations._steps import StepLog
from cpv.integrations._worker import VersionWorker

log = logging.getLogger("cpv")


class Versioning:
    """Versions the checkpoints of one training run, in the background.

    Which process versions is decided at each save, not here: a ``Versioning`` made
    before ``torch.distributed.init_process_group`` still versions on rank 0 only.

    Args:
        repo: any directory inside the model repository.
        params: hyperparameters recorded with every version of this run.
        with_data: before each model version, version ``data/`` when it changed.
        push: push each version (coalesced) and once more at the end.
        background: False tags on the calling thread (simplest, slowest).
        max_pending: bound the queue by saves; the loop then waits rather than drops one.
        max_pending_bytes: bound the queue by snapshot bytes (default: a quarter of the
            free disk space).
        snapshot_memory: bytes of queued snapshots held in memory rather than copied to
            disk (default: an eighth of the RAM, at most 2 GiB; 0: always on disk).
        keep_last: after each new version, a local ``gc`` keeping the last N model
            versions (plus aliased, best, latest and HEAD's: see ``docs/retention.md``);
            with ``push``, only once what is tagged has been pushed. A failed gc is logged
            and recorded in :attr:`gc_errors`, never stops training. None: no gc.
    """

    def __init__(
        self,
        *,
        repo: StrPath = ".",
        params: Mapping[str, Any] | None = None,
        with_data: bool = False,
        push: bool = False,
        background: bool = True,
        max_pending: int = 0,
        max_pending_bytes: int | None = None,
        snapshot_memory: int | None = None,
        keep_last: int | None = None,
    ) -> None:
        self.params = dict(params) if params else None
        self.with_data = with_data
        self._options: dict[str, Any] = {
            "repo": repo,
            "push": push,
            "background": background,
            "max_pending": max_pending,
            "max_pending_bytes": max_pending_bytes,
            "snapshot_memory": snapshot_memory,
        }
        self._keep_last = keep_last
        self._worker: VersionWorker | None = None
        if is_main_process():  # fail at the start of training when this is no repository
            self._worker = self._new_worker()
        self._staged: set[Path] = set()
        self._steps = StepLog()
        self._count = 0
        self._saved_in_workspace = False  # a logged path lies inside the model path
        self._sharded = False  # a save by many ranks was logged

    @property
    def enabled(self) -> bool:
        """True on the process that versions (global rank 0), asked now."""
        return is_main_process()

    def _active_worker(self) -> VersionWorker | None:
        if not is_main_process():
            return None
        if self._worker is None:
            self._worker = self._new_worker()
        return self._worker

    def _new_worker(self) -> VersionWorker:
        if not is_main_process():  # a rank's part of a distributed save: rank 0 publishes
            return VersionWorker(**{**self._options, "push": False})
        worker = VersionWorker(**self._options)
        worker.keep_last = self._keep_last
        return worker

    @property
    def run_id(self) -> str:
        """This run's id: its versions' and steps' lines in ``metrics.log`` name it."""
        return self._steps.run

    def log_metrics(self, metrics: Mapping[str, Any], *, step: int | float) -> None:
        """Record ``metrics`` (numbers; tensors unwrapped) at training ``step``.

        They are written to ``metrics.log`` with the run's next version (before its own
        line, in the same commit), and ``cpv compare --html`` draws them as training curves.
        Cheap: call it at every logging step. Does nothing on ranks other than 0.
        """
        if is_main_process():
            self._steps.add(step, metrics)

    def checkpoint_dir(self) -> Path | None:
        """A fresh directory to save a checkpoint straight into; logging it costs no copy.

        ``None`` on ranks other than 0 (save nothing there).
        """
        worker = self._active_worker()
        if worker is None:
            return None
        staged = worker.new_staging_dir()
        self._staged.add(staged)
        return staged

    def log_checkpoint(
        self,
        path: StrPath,
        *,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        message: str = "",
        ignore: Iterable[str] = (),
        distributed: bool = False,
    ) -> Future[VersionOutcome] | None:
        """Queue a version of the checkpoint at ``path`` (a file or a directory).

        The bytes are copied before this returns (unless ``path`` came from
        :meth:`checkpoint_dir`), so the loop may overwrite ``path`` at once. The version
        holds the file, or the folder's files, at the root of the model path.
        ``ignore``: glob patterns of files to leave out (e.g. ``optimizer.pt``).
        Returns ``None`` on ranks other than 0.

        ``distributed=True``: a folder every rank saved a part of (``dcp.save``); call it on
        every rank, in the same order, like ``dcp.save``. Each rank versions its own files
        and uploads them; rank 0 makes one version of the whole save (``docs/distributed.md``).
        Returns a future on every rank then.

        Raises:
            CpvError: nothing is saved at ``path``. Any other failure (a full disk, a
                symlink out of the checkpoint) is recorded on this save and raised by
                :meth:`close`, so that training goes on.
        """
        path = Path(path).resolve()
        if distributed:
            job = current_job()  # (a collective at the first call: before anything can fail)
            asked = self._request(path, metrics, params, message, job=job)
            return self._log_shards(path, asked, job=job, ignore=ignore)
        worker = self._active_worker()
        if worker is None:
            return None
        model_dir = worker.repo / worker.model_path
        if path == model_dir or model_dir in path.parents:
            self._saved_in_workspace = True
        request = self._request(path, metrics, params, message)
        if path in self._staged:
            self._staged.discard(path)
            request = _with(request, size=tree_size(path))
        else:
            try:
                snap = worker.snapshot(path, ignore=ignore)
            except (CpvError, OSError) as exc:
                if not path.exists():
                    raise  # nothing was saved there: the caller's mistake, said at once
                return _done(worker.record_failure(request, exc))
            request = _with(request, snapshot=snap, size=snap.size)
        return worker.submit(request)

    def log_model(
        self,
        model: Any,
        *,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        message: str = "",
        group_by: Any = None,
    ) -> Future[VersionOutcome] | None:
        """Queue a version of ``model``'s weights (a module or a state dict) saved as one
        safetensors shard per module group plus an index (:func:`cpv.integrations.save_grouped`):
        a group that did not change since an earlier version is not stored again.
        A model with a ``config`` that has ``save_pretrained`` (transformers) gets its
        ``config.json`` too, so ``from_pretrained`` loads the version as it is.
        Returns ``None`` on ranks other than 0.
        """
        target = self.checkpoint_dir()
        if target is None:
            return None
        from cpv.integrations.grouped import save_grouped

        save_grouped(model, target, group_by=group_by)
        save_config = getattr(getattr(model, "config", None), "save_pretrained", None)
        if callable(save_config):
            save_config(str(target))
        return self.log_checkpoint(target, metrics=metrics, params=params, message=message)

    def _request(
        self,
        path: Path,
        metrics: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        message: str,
        *,
        job: ShardJob | None = None,
    ) -> VersionRequest:
        """The next save's request (steps and data go with rank 0's part of a save)."""
        self._count += 1
        main = job is None or job.rank == 0
        return VersionRequest(
            source=path,
            message=message,
            metrics=clean_metrics(metrics),
            params={**(self.params or {}), **(params or {})} or None,
            with_data=self.with_data and main,
            label=f"save {self._count}",
            index=self._count,
            run=self._steps.run,
            steps=self._steps.take() if main else (),
            job=job,
        )

    def _log_shards(
        self, path: Path, request: VersionRequest, *, job: ShardJob, ignore: Iterable[str]
    ) -> Future[VersionOutcome]:
        """This rank's part of a save by many ranks (see :mod:`cpv.integrations._shards`):
        a failure here is this rank's report to the others, never raised at once (the other
        ranks would wait for it)."""
        if self._worker is None:
            try:
                self._worker = self._new_worker()
            except CpvError as exc:  # no repository here: tell the others, then raise
                with contextlib.suppress(DistributedSaveError):
                    version_save(None, MemorySnapshot([]), None, job, failure=exc)
                raise
        self._sharded = True
        try:
            if not path.is_dir():
                raise CpvError(f"rank {job.rank}: no checkpoint folder at {path}")
            mine = [*ignore, *foreign_names(path, job.rank)]
            snap = self._worker.snapshot(path, ignore=mine)
            request = _with(request, snapshot=snap, size=snap.size)
        except (CpvError, OSError) as exc:
            request = _with(request, failure=exc, snapshot=MemorySnapshot([]))
        return self._worker.submit(request)

    def wait(self) -> list[VersionOutcome]:
        """Wait for every queued version; raises :class:`VersioningError` on failure."""
        return self._worker.drain() if self._worker is not None else []

    def close(self) -> list[VersionOutcome]:
        """Wait, stop the worker, log the report of every save, and raise on failure."""
        if self._worker is None:
            return []
        for leftover in self._staged:
            shutil.rmtree(leftover, ignore_errors=True)
        self._staged.clear()
        try:
            outcomes = self._worker.close()
        except VersioningError as err:
            log.warning("cpv: %s", err.report)
            raise
        finally:
            # (a distributed version's files are on many nodes: not checked out here)
            if not self._saved_in_workspace and not self._sharded:
                # The loop saved elsewhere: the model path shows the newest version, as
                # `cpv pull` would. Where the loop saves into it, it keeps the loop's files.
                self._worker.checkout_latest()
        if outcomes:
            log.info("cpv: %s", VersioningReport(tuple(outcomes)))
        return outcomes

    def report(self) -> VersioningReport:
        """Every save so far: versioned, unchanged (and the version it matches), or failed."""
        return VersioningReport(tuple(self.outcomes))

    @property
    def gc_errors(self) -> list[BaseException]:
        """The failures of the gc runs ``keep_last`` asked for (training went on)."""
        return list(self._worker.gc_errors) if self._worker is not None else []

    @property
    def outcomes(self) -> list[VersionOutcome]:
        return self._worker.drain(raise_on_failure=False) if self._worker is not None else []

    def __enter__(self) -> Versioning:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # The run failed: still version what was saved, but never hide the original error.
        try:
            self.close()
        except VersioningError as err:
            log.error("cpv: %s\ncpv: %s", err, err.hint)


def _with(request: VersionRequest, **changes: Any) -> VersionRequest:
    from dataclasses import replace

    return replace(request, **changes)


def _done(outcome: VersionOutcome) -> Future[VersionOutcome]:
    future: Future[VersionOutcome] = Future()
    future.set_result(outcome)
    return future


#: ``with versioning(repo=".") as v: ... v.log_checkpoint(path, metrics=...)`` — the same
#: typed, keyword-only parameters as :class:`Versioning`.
versioning = Versioning


def log_checkpoint(
    path: StrPath,
    *,
    repo: StrPath = ".",
    metrics: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    message: str = "",
    with_data: bool = False,
    push: bool = False,
) -> VersionOutcome | None:
    """Version the checkpoint at ``path`` now, on this thread; ``None`` off rank 0.

    Raises:
        VersioningError: the version could not be tagged, or the push failed
            (the local version then exists all the same).
    """
    with Versioning(
        repo=repo, params=params, with_data=with_data, push=push, background=False
    ) as v:
        future = v.log_checkpoint(path, metrics=metrics, message=message)
    return future.result() if future is not None else None
