"""Versioning from a plain training loop.

Two ways in::

    from cpv.integrations import versioning

    with versioning(repo=".", params=params) as v:     # one background worker per run
        for epoch in range(epochs):
            train_one_epoch()
            save_file(model.state_dict(), "checkpoints/model.safetensors")
            v.log_checkpoint("checkpoints", metrics={"val_loss": val_loss})
    # leaving the block waits for every queued version and raises VersioningError on failure

    from cpv.integrations import log_checkpoint       # one version, right now

    log_checkpoint("checkpoints", metrics={"accuracy": 0.93})

Only the global rank 0 process versions (see :mod:`cpv.integrations._rank`); on other
ranks every call here does nothing and returns ``None``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any

from cpv.integrations._rank import is_main_process
from cpv.integrations._worker import (
    VersioningError,
    VersionOutcome,
    VersionRequest,
    VersionWorker,
    clean_metrics,
)


class Versioning:
    """Versions the checkpoints of one training run, in the background.

    Args:
        repo: any directory inside the model repository.
        params: hyperparameters recorded with every version of this run.
        with_data: before each model version, version ``data/`` when it changed.
        push: push each version (coalesced) and once more at the end.
        background: False tags on the calling thread (simplest, slowest).
        max_pending: bound the queue; the loop then waits rather than drops a save.
    """

    def __init__(
        self,
        *,
        repo: str | Path = ".",
        params: Mapping[str, Any] | None = None,
        with_data: bool = False,
        push: bool = False,
        background: bool = True,
        max_pending: int = 0,
    ) -> None:
        self.params = dict(params) if params else None
        self.with_data = with_data
        self.enabled = is_main_process()
        self._worker = (
            VersionWorker(repo=repo, push=push, background=background, max_pending=max_pending)
            if self.enabled
            else None
        )
        self._staged: set[Path] = set()
        self._count = 0

    def checkpoint_dir(self) -> Path | None:
        """A fresh directory to save a checkpoint straight into; logging it costs no copy.

        ``None`` on ranks other than 0 (save nothing there).
        """
        if self._worker is None:
            return None
        staged = self._worker.new_staging_dir()
        self._staged.add(staged)
        return staged

    def log_checkpoint(
        self,
        path: str | Path,
        *,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        message: str = "",
        ignore: Iterable[str] = (),
    ) -> Future[VersionOutcome] | None:
        """Queue a version of the checkpoint at ``path`` (a file or a directory).

        The bytes are copied before this returns (unless ``path`` came from
        :meth:`checkpoint_dir`), so the loop may overwrite ``path`` at once.
        ``ignore``: glob patterns of files to leave out (e.g. ``optimizer.pt``).
        """
        if self._worker is None:
            return None
        path = Path(path).resolve()
        if path in self._staged:
            self._staged.discard(path)
            source = path
        else:
            source = self._worker.snapshot(path, ignore=ignore)
        self._count += 1
        merged = {**(self.params or {}), **(params or {})} or None
        request = VersionRequest(
            source=source,
            message=message,
            metrics=clean_metrics(metrics),
            params=merged,
            with_data=self.with_data,
            label=f"checkpoint {self._count}",
        )
        return self._worker.submit(request)

    def wait(self) -> list[VersionOutcome]:
        """Wait for every queued version; raises :class:`VersioningError` on failure."""
        return self._worker.drain() if self._worker is not None else []

    def close(self) -> list[VersionOutcome]:
        """Wait, stop the worker and raise on failure."""
        if self._worker is None:
            return []
        for leftover in self._staged:
            shutil.rmtree(leftover, ignore_errors=True)
        self._staged.clear()
        return self._worker.close()

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
            print(f"cpv: ERROR: {err}\ncpv: {err.hint}", file=sys.stderr)


#: ``with versioning(repo=".") as v: ... v.log_checkpoint(path, metrics=...)`` — the same
#: typed, keyword-only parameters as :class:`Versioning`.
versioning = Versioning


def log_checkpoint(
    path: str | Path,
    *,
    repo: str | Path = ".",
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
