"""``CpvCallback``: every Hugging Face ``Trainer`` checkpoint becomes a cpv version.

::

    from cpv.integrations.transformers import CpvCallback

    trainer = Trainer(..., callbacks=[CpvCallback(strategy="every_save",
                                                  metric_for_best_model="eval_loss")])
    trainer.train()      # returns once every version is tagged; raises VersioningError if not

Strategies:

* ``every_save`` (default): a version at each ``on_save``, with the evaluation metrics
  of that step;
* ``best_only``: a version at a save only when the tracked metric improved;
* ``end``: one version of the final model at the end of training.

With a metric to track (``metric_for_best_model`` here or in ``TrainingArguments``),
each version records ``is_best`` (1 when it beats every earlier version of the
repository, 0 otherwise) and its message says so.
The checkpoint directory is copied at save time (weights and config; optimizer, scheduler
and RNG state are left out unless ``include_training_state``), so ``save_total_limit``
may delete it while the worker is still busy.

With ``layout="grouped"`` (the default) the copy holds the weights as one safetensors
shard per module group plus ``model.safetensors.index.json`` (the sharded format
``from_pretrained`` and ``resume_from_checkpoint`` read), so a version stores only the
groups whose tensors changed: in a fine-tune with frozen layers, most of the weights are
not stored again. ``layout="as_saved"`` keeps the Trainer's files as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from cpv.domain.errors import UsageError
from cpv.domain.paths import StrPath
from cpv.integrations._best import BestTracker, check_strategy
from cpv.integrations._outcomes import VersionOutcome
from cpv.integrations._rank import is_main_process
from cpv.integrations.grouped import copy_regrouped, has_weights, regroup
from cpv.integrations.plain import Versioning

Strategy = Literal["every_save", "best_only", "end"]
Layout = Literal["grouped", "as_saved"]
#: Training state a version does not need: it is large and only resumes a run.
TRAINING_STATE_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth")
#: Per-evaluation timings: noise in a version's metrics.
_TIMING_SUFFIXES = ("_runtime", "_per_second")
#: Logged values that are no training curve.
_NOT_CURVES = (*_TIMING_SUFFIXES, "total_flos", "epoch")
_RECORDED_ARGS = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_steps",
    "seed",
)


class CpvCallback(TrainerCallback):
    """Versions ``Trainer`` checkpoints in the model repository at ``repo``.

    Args:
        repo: any directory inside the cpv model repository.
        strategy: ``every_save``, ``best_only`` or ``end``.
        metric_for_best_model: the metric that ranks versions (``eval_`` is prepended
            when missing, as ``Trainer`` does); default: ``TrainingArguments``'.
        greater_is_better: default: the arguments' setting, else False for a ``*loss``.
        params: recorded with every version, over a few ``TrainingArguments`` values.
        with_data: version ``data/`` too when it changed.
        push: push each version (in the background) and once more at the end.
        background: False tags inside ``on_save`` (training waits).
        include_training_state: keep optimizer/scheduler/RNG files in the versions.
        keep_last: after each version, a local ``gc`` keeping the last N model versions
            (plus aliased, best and latest ones); None (default) keeps everything.
        layout: ``grouped`` (default): the weights as one safetensors shard per module
            group (see :mod:`cpv.integrations.grouped`); ``as_saved``: the Trainer's files.
            A checkpoint without safetensors weights (``safe_serialization=False``, an
            adapter) is versioned as saved.
        group_by: the grouping of ``grouped`` (a depth or a function of the tensor name).
    """

    def __init__(
        self,
        *,
        repo: StrPath = ".",
        strategy: Strategy = "every_save",
        metric_for_best_model: str | None = None,
        greater_is_better: bool | None = None,
        params: Mapping[str, Any] | None = None,
        with_data: bool = False,
        push: bool = False,
        background: bool = True,
        include_training_state: bool = False,
        max_pending: int = 0,
        keep_last: int | None = None,
        layout: Layout = "grouped",
        group_by: Any = None,
    ) -> None:
        check_strategy(strategy)
        if layout not in ("grouped", "as_saved"):
            raise UsageError(
                f"layout must be 'grouped' or 'as_saved', not {layout!r}",
                hint="grouped: one safetensors shard per module group (the default).",
            )
        self.layout = layout
        self.group_by = group_by
        self.repo = Path(repo)
        self.strategy = strategy
        self.metric_for_best_model = metric_for_best_model
        self.greater_is_better = greater_is_better
        self.params = dict(params or {})
        self.with_data = with_data
        self.push = push
        self.background = background
        self.include_training_state = include_training_state
        self.max_pending = max_pending
        self.keep_last = keep_last
        self.outcomes: list[VersionOutcome] = []
        self.best_tag: str | None = None
        self._versioning: Versioning | None = None
        self._best = BestTracker(None, greater=False)
        self._eval: dict[int, dict[str, Any]] = {}
        self._last_eval: dict[str, Any] = {}
        self._train_loss: float | None = None

    # -- hooks --------------------------------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        metric = self.metric_for_best_model or args.metric_for_best_model
        if metric is not None and not metric.startswith("eval_"):
            metric = f"eval_{metric}"
        if self.strategy == "best_only" and metric is None:
            raise UsageError(
                "strategy 'best_only' needs a metric to rank checkpoints",
                hint="Pass metric_for_best_model= to CpvCallback or to TrainingArguments.",
            )
        if self.greater_is_better is not None:
            greater = self.greater_is_better
        elif args.greater_is_better is not None and metric is not None:
            greater = bool(args.greater_is_better)
        else:
            greater = metric is not None and not metric.endswith("loss")
        self._best = BestTracker(metric, greater=greater)
        if not state.is_world_process_zero or not is_main_process():
            return
        self._best.seed_from(self.repo)
        recorded = {name: getattr(args, name) for name in _RECORDED_ARGS if hasattr(args, name)}
        self._versioning = Versioning(
            repo=self.repo,
            params={**recorded, **self.params},
            with_data=self.with_data,
            push=self.push,
            background=self.background,
            max_pending=self.max_pending,
            keep_last=self.keep_last,
        )

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        metrics: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if metrics:
            self._eval[state.global_step] = dict(metrics)
            self._last_eval = dict(metrics)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs and "loss" in logs:
            self._train_loss = float(logs["loss"])
        if logs and self._versioning is not None:  # the training curves of compare --html
            kept = {k: v for k, v in logs.items() if not k.endswith(_NOT_CURVES)}
            self._versioning.log_metrics(kept, step=state.global_step)

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._versioning is None or self.strategy == "end":
            return
        step = state.global_step
        metrics = self._metrics(state, self._eval.get(step, {}))
        is_best = self._best.update(metrics)
        if self.strategy == "best_only" and not is_best:
            return
        checkpoint = Path(str(args.output_dir)) / f"checkpoint-{step}"
        if not checkpoint.is_dir():
            raise UsageError(
                f"Trainer checkpoint not found at {checkpoint}",
                hint="CpvCallback expects Trainer's checkpoint-<step> folders in output_dir.",
            )
        ignore = () if self.include_training_state else TRAINING_STATE_FILES
        self._log(checkpoint, metrics, is_best=is_best, ignore=ignore, what=f"step {step}")

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        versioning, self._versioning = self._versioning, None
        if versioning is None:
            return
        try:
            if self.strategy == "end":
                self._version_final_model(versioning, state, kwargs.get("model"))
        finally:
            # Wait for every queued version; raises VersioningError naming what failed.
            self.outcomes = versioning.close()
        self.best_tag = self._find_best_tag()

    # -- helpers ------------------------------------------------------------------------
    def _metrics(self, state: TrainerState, evaluated: Mapping[str, Any]) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            k: v
            for k, v in evaluated.items()
            if isinstance(v, int | float) and k != "epoch" and not k.endswith(_TIMING_SUFFIXES)
        }
        metrics["step"] = state.global_step
        if state.epoch is not None:
            metrics["epoch"] = round(float(state.epoch), 4)
        if self._train_loss is not None:
            metrics["train_loss"] = self._train_loss
        return metrics

    def _log(
        self,
        checkpoint: Path,
        metrics: dict[str, Any],
        *,
        is_best: bool,
        ignore: tuple[str, ...],
        what: str,
    ) -> None:
        assert self._versioning is not None
        message = f"Trainer {what}"
        if is_best:
            message += f" ({self._best.describe(metrics)})"
        if self.layout == "grouped" and has_weights(checkpoint):
            target = self._versioning.checkpoint_dir()
            if target is None:
                return
            copy_regrouped(checkpoint, target, ignore=ignore, group_by=self.group_by)
            self._versioning.log_checkpoint(target, metrics=metrics, message=message)
            return
        self._versioning.log_checkpoint(checkpoint, metrics=metrics, message=message, ignore=ignore)

    def _version_final_model(self, versioning: Versioning, state: TrainerState, model: Any) -> None:
        if model is None or not hasattr(model, "save_pretrained"):
            raise UsageError(
                "strategy 'end' needs the Trainer's model (a PreTrainedModel)",
                hint="Use strategy='every_save' for other models.",
            )
        target = versioning.checkpoint_dir()
        if target is None:
            return
        model.save_pretrained(str(target), safe_serialization=True)
        if self.layout == "grouped" and has_weights(target):
            regroup(target, group_by=self.group_by)
        metrics = self._metrics(state, self._last_eval)
        is_best = self._best.update(metrics)
        message = f"Trainer end of training, step {state.global_step}"
        if is_best:
            message += f" ({self._best.describe(metrics)})"
        versioning.log_checkpoint(target, metrics=metrics, message=message)

    def _find_best_tag(self) -> str | None:
        best = None
        for outcome in self.outcomes:
            if outcome.tag and outcome.created and outcome.request.metrics.get("is_best") == 1:
                best = outcome.tag
        return best
