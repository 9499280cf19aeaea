"""``CpvLightningCallback``: Lightning checkpoints become cpv versions.

::

    from cpv.integrations.lightning import CpvLightningCallback

    trainer = L.Trainer(callbacks=[CpvLightningCallback(monitor="val_loss")])
    trainer.fit(model)   # returns once every version is tagged; raises VersioningError if not

The same strategies as the Hugging Face callback: ``every_save`` (each time Lightning
saves a checkpoint, e.g. through ``ModelCheckpoint``), ``best_only`` (only saves that
improve ``monitor``) and ``end`` (the final weights, once). A version holds
``model.ckpt``: the checkpoint dictionary as it was at that save (serialized by cpv at
save time, so later saves and ``save_top_k`` deletions cannot change it), with
``trainer.callback_metrics`` as its metrics. Only the global rank 0 process versions.

With ``layout="grouped"``, a version holds the ``state_dict`` as one safetensors shard per
module group plus ``model.safetensors.index.json`` (:mod:`cpv.integrations.grouped`), and
the rest of the checkpoint (optimizer and loop state, hyperparameters) in
``training_state.ckpt``: a version then stores only the groups whose tensors changed. To
resume: ``ckpt = torch.load("training_state.ckpt", weights_only=False)``,
``ckpt["state_dict"] = load_grouped(folder)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from cpv.domain.errors import UsageError
from cpv.domain.paths import StrPath
from cpv.integrations._best import BestTracker, check_strategy
from cpv.integrations._outcomes import VersionOutcome, clean_metrics
from cpv.integrations._rank import is_main_process
from cpv.integrations.grouped import save_grouped
from cpv.integrations.plain import Versioning

CHECKPOINT_FILE = "model.ckpt"
#: With ``layout="grouped"``: the checkpoint dictionary without its ``state_dict``.
TRAINING_STATE_FILE = "training_state.ckpt"


class CpvLightningCallback(pl.Callback):
    """Versions Lightning checkpoints in the model repository at ``repo``.

    Args:
        repo: any directory inside the cpv model repository.
        strategy: ``every_save``, ``best_only`` or ``end``.
        monitor: the logged metric that ranks versions (e.g. ``val_loss``).
        mode: ``min`` or ``max``; default ``min`` for a ``*loss``, else ``max``.
        params: recorded with every version (the module's ``hparams`` are added).
        with_data: version ``data/`` too when it changed.
        push: push each version (in the background) and once more at the end.
        background: False tags inside the hook (training waits).
        keep_last: after each version, a local ``gc`` keeping the last N model versions
            (plus aliased, best and latest ones); None (default) keeps everything.
        layout: ``ckpt`` (default: ``model.ckpt``, what ``load_from_checkpoint`` and
            ``ckpt_path=`` read) or ``grouped`` (the weights as safetensors shards per
            module group, stored only when they changed; see the module's docstring).
        group_by: the grouping of ``grouped`` (a depth or a function of the tensor name).
    """

    def __init__(
        self,
        *,
        repo: StrPath = ".",
        strategy: str = "every_save",
        monitor: str | None = None,
        mode: str | None = None,
        params: Mapping[str, Any] | None = None,
        with_data: bool = False,
        push: bool = False,
        background: bool = True,
        max_pending: int = 0,
        keep_last: int | None = None,
        layout: str = "ckpt",
        group_by: Any = None,
    ) -> None:
        check_strategy(strategy)
        if layout not in ("ckpt", "grouped"):
            raise UsageError(
                f"layout must be 'ckpt' or 'grouped', not {layout!r}",
                hint="grouped: the weights as one safetensors shard per module group.",
            )
        self.layout = layout
        self.group_by = group_by
        if strategy == "best_only" and monitor is None:
            raise UsageError(
                "strategy 'best_only' needs a metric to rank checkpoints",
                hint="Pass monitor='val_loss' (or another logged metric).",
            )
        if mode not in (None, "min", "max"):
            raise UsageError(f"mode must be 'min' or 'max', not {mode!r}")
        self.repo = Path(repo)
        self.strategy = strategy
        greater = mode == "max" if mode else (monitor is not None and not monitor.endswith("loss"))
        self._best = BestTracker(monitor, greater=greater)
        self.params = dict(params or {})
        self.with_data = with_data
        self.push = push
        self.background = background
        self.max_pending = max_pending
        self.keep_last = keep_last
        self.outcomes: list[VersionOutcome] = []
        self.best_tag: str | None = None
        self._versioning: Versioning | None = None
        self._last_step: int | None = None
        self._logged: dict[str, Any] = {}  # the step metrics last recorded

    # -- hooks --------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or not is_main_process():
            return
        self._best.seed_from(self.repo)
        hparams = {k: v for k, v in dict(pl_module.hparams).items() if _is_plain(v)}
        self._versioning = Versioning(
            repo=self.repo,
            params={"max_epochs": trainer.max_epochs, **hparams, **self.params},
            with_data=self.with_data,
            push=self.push,
            background=self.background,
            max_pending=self.max_pending,
            keep_last=self.keep_last,
        )

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self._versioning is None or self.strategy == "end":
            return
        if trainer.global_step == self._last_step:
            return  # e.g. ModelCheckpoint's "last.ckpt": the same weights again
        metrics = self._metrics(trainer)
        is_best = self._best.update(metrics)
        if self.strategy == "best_only" and not is_best:
            return
        self._last_step = trainer.global_step
        self._version(checkpoint, metrics, is_best=is_best, what=f"epoch {trainer.current_epoch}")

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._versioning is not None and trainer.global_step % self._log_every(trainer) == 0:
            self._log_step(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._versioning is not None and not trainer.sanity_checking:
            self._log_step(trainer)  # before ModelCheckpoint saves (it runs last)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        versioning = self._versioning
        if versioning is None:
            return
        try:
            if self.strategy == "end":
                metrics = self._metrics(trainer)
                is_best = self._best.update(metrics)
                state = {
                    "state_dict": pl_module.state_dict(),
                    "epoch": trainer.current_epoch,
                    "global_step": trainer.global_step,
                }
                self._version(state, metrics, is_best=is_best, what="end of training")
        finally:
            self._versioning = None
            self.outcomes = versioning.close()  # raises VersioningError naming what failed
        best = [o.tag for o in self.outcomes if o.created and o.request.metrics.get("is_best") == 1]
        self.best_tag = best[-1] if best else None

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        versioning, self._versioning = self._versioning, None
        if versioning is not None:  # still version what was saved; the original error wins
            versioning.__exit__(type(exception), exception, None)

    # -- helpers ------------------------------------------------------------------------
    @staticmethod
    def _log_every(trainer: pl.Trainer) -> int:
        return max(int(getattr(trainer, "log_every_n_steps", 0) or 1), 1)

    def _log_step(self, trainer: pl.Trainer) -> None:
        """The logged metrics that changed since the last step recorded (a value logged
        once per epoch is recorded once, not at every step after it)."""
        assert self._versioning is not None
        now = clean_metrics(trainer.callback_metrics)
        fresh = {k: v for k, v in now.items() if self._logged.get(k) != v}
        self._logged.update(now)
        if fresh:
            self._versioning.log_metrics(fresh, step=trainer.global_step)

    def _metrics(self, trainer: pl.Trainer) -> dict[str, Any]:
        metrics: dict[str, Any] = clean_metrics(trainer.callback_metrics)
        metrics["epoch"] = trainer.current_epoch
        metrics["step"] = trainer.global_step
        return metrics

    def _version(
        self, checkpoint: Mapping[str, Any], metrics: dict[str, Any], *, is_best: bool, what: str
    ) -> None:
        assert self._versioning is not None
        target = self._versioning.checkpoint_dir()
        if target is None:
            return
        if self.layout == "grouped":  # the bytes of this save, now
            rest = {k: v for k, v in checkpoint.items() if k != "state_dict"}
            save_grouped(checkpoint.get("state_dict", {}), target, group_by=self.group_by)
            torch.save(rest, target / TRAINING_STATE_FILE)
        else:
            torch.save(dict(checkpoint), target / CHECKPOINT_FILE)
        message = f"Lightning {what}, step {metrics['step']}"
        if is_best:
            message += f" ({self._best.describe(metrics)})"
        self._versioning.log_checkpoint(target, metrics=metrics, message=message)


def _is_plain(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) or value is None
