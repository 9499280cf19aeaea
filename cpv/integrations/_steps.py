"""Per-step metrics of a training run, held until the run's next version.

Each version's commit writes them to ``metrics.log`` (``{"kind": "step", "run": …,
"step": …, "metrics": {…}}`` lines, then the version's own line naming the same ``run``),
so the curves travel with the versions and are never left uncommitted in the workspace.
``cpv compare --html`` draws them (:mod:`cpv.ops.compare`).

A long stretch between two saves keeps at most ``limit`` lines: when full, every other
line is dropped and from then on every other step is kept (twice as sparse, still even).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from cpv.integrations._outcomes import clean_metrics

STEP_LINES_MAX = 2000


class StepLog:
    """The steps of one run (``run``: a random id) not yet written with a version."""

    def __init__(self, *, limit: int = STEP_LINES_MAX) -> None:
        self.run = uuid.uuid4().hex[:12]
        self.limit = max(limit, 2)
        self._lines: list[dict[str, Any]] = []
        self._stride = 1
        self._seen = 0
        self._lock = threading.Lock()

    def add(self, step: int | float, metrics: Mapping[str, Any]) -> None:
        """Keep the finite numbers of ``metrics`` at ``step`` (text and NaN are left out)."""
        values = {
            k: v
            for k, v in clean_metrics(metrics).items()
            if isinstance(v, int | float) and math.isfinite(v)
        }
        if not values:
            return
        with self._lock:
            self._seen += 1
            if (self._seen - 1) % self._stride:
                return
            self._lines.append({"step": step, "metrics": values})
            if len(self._lines) >= self.limit:
                self._lines = self._lines[::2]
                self._stride *= 2

    def take(self) -> tuple[dict[str, Any], ...]:
        """The steps kept since the last take (then none are held)."""
        with self._lock:
            lines, self._lines = tuple(self._lines), []
            self._stride, self._seen = 1, 0
        return lines
