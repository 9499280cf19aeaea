"""Which version is the best so far, by one metric, counting the repository's history."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BestTracker:
    """Tracks the best value of ``metric``; ``greater`` says which way is better."""

    def __init__(self, metric: str | None, *, greater: bool) -> None:
        self.metric = metric
        self.greater = greater
        self.best: float | None = None

    def seed_from(self, repo: Path) -> None:
        """Start from the best value among the repository's existing model versions."""
        if self.metric is None:
            return
        from cpv.api.managers import ModelCheckpoints

        values = [
            float(r.metrics[self.metric])
            for r in ModelCheckpoints(repo).list()
            if isinstance(r.metrics.get(self.metric), int | float)
        ]
        if values:
            self.best = max(values) if self.greater else min(values)

    def update(self, metrics: dict[str, Any]) -> bool:
        """Record ``is_best`` (1 or 0) in ``metrics``; True when the value beats the best."""
        if self.metric is None:
            return False
        value = metrics.get(self.metric)
        if not isinstance(value, int | float):
            metrics["is_best"] = 0
            return False
        improved = self.best is None or (value > self.best if self.greater else value < self.best)
        if improved:
            self.best = float(value)
        metrics["is_best"] = int(improved)
        return improved

    def describe(self, metrics: dict[str, Any]) -> str:
        return f"best {self.metric} so far: {metrics[self.metric]:.6g}" if self.metric else ""


#: When a callback versions: every checkpoint save, only saves that beat the best so far, or
#: once at the end of training.
STRATEGIES: tuple[str, ...] = ("every_save", "best_only", "end")


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        from cpv.domain.errors import UsageError

        raise UsageError(
            f"unknown versioning strategy {strategy!r}",
            hint=f"Use one of: {', '.join(STRATEGIES)}.",
        )
    return strategy
