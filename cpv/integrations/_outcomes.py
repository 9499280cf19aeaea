"""What became of each save: requests, outcomes, the end-of-training report, the error."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpv.domain.errors import VersioningError

MetricValue = float | int | str


@dataclass(frozen=True)
class VersionRequest:
    """One save to version: the private snapshot of its bytes and what to record with it."""

    source: Path
    message: str = ""
    metrics: dict[str, MetricValue] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    #: also version ``data/`` first, when its content changed since its latest version
    with_data: bool = False
    label: str = ""
    #: bytes the snapshot holds (counted against the queue's bound until it is versioned)
    size: int = 0
    #: the save's number in its run (reports list saves in this order)
    index: int = 0
    #: the private bytes (a cpv.objects.layout.Snapshot); None: ``source`` is a staging folder
    snapshot: Any = None
    #: the training run, and its steps' metrics since its previous save (see _steps.py)
    run: str | None = None
    steps: tuple[dict[str, Any], ...] = ()
    #: a save by many ranks (an ``_shards.ShardJob``), and why this rank has no snapshot of it
    job: Any = None
    failure: BaseException | None = None


@dataclass
class VersionOutcome:
    """What became of one save: ``status`` is "versioned", "unchanged" or "failed"."""

    request: VersionRequest
    #: the new version's tag, or (unchanged) the tag of the version with the same bytes
    tag: str | None = None
    created: bool = False
    data_tag: str | None = None
    error: BaseException | None = None
    #: None: no push asked for; True/False: the push that covered this version succeeded
    pushed: bool | None = None
    push_error: BaseException | None = None
    #: where the bytes of a save that could not be versioned are kept, if anywhere
    kept: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.pushed is not False

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        return "versioned" if self.created else "unchanged"

    def describe(self) -> str:
        label = self.request.label or "checkpoint"
        if self.error is not None:
            return f"{label}: failed ({self.error})"
        if not self.created:
            return f"{label}: unchanged, same bytes as {self.tag}"
        pushed = {None: "", True: ", pushed", False: ", NOT pushed"}[self.pushed]
        return f"{label}: {self.tag}{pushed}"


@dataclass(frozen=True)
class VersioningReport:
    """Every save of a run, accounted for."""

    outcomes: tuple[VersionOutcome, ...]

    @property
    def versioned(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if o.status == "versioned"]

    @property
    def unchanged(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if o.status == "unchanged"]

    @property
    def failed(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def unpushed(self) -> list[VersionOutcome]:
        return [o for o in self.outcomes if o.pushed is False]

    def __str__(self) -> str:
        tags = [o.tag for o in self.versioned if o.tag]
        span = f" ({tags[0]} … {tags[-1]})" if len(tags) > 1 else (f" ({tags[0]})" if tags else "")
        text = (
            f"{len(self.outcomes)} save(s): {len(self.versioned)} versioned{span}, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
        )
        if self.unpushed:
            text += f", {len(self.unpushed)} not pushed"
        details = [o.describe() for o in self.outcomes if o.status != "versioned" or not o.ok]
        return "\n".join([text, *(f"  {line}" for line in details)])


def failure_error(
    outcomes: list[VersionOutcome], failures: list[VersionOutcome]
) -> VersioningError:
    untagged = [o for o in failures if o.error is not None]
    unpushed = [o for o in failures if o.error is None]
    parts = []
    if untagged:
        first = untagged[0]
        where = f"; its bytes are kept in {first.kept}" if first.kept else ""
        parts.append(
            f"{len(untagged)} checkpoint(s) could not be versioned "
            f"({first.request.label or 'first'}: {first.error}{where})"
        )
    if unpushed:
        tags = ", ".join(o.tag or "?" for o in unpushed)
        parts.append(f"tagged locally but not pushed: {tags} ({unpushed[-1].push_error})")
    tagged = sum(1 for o in outcomes if o.error is None and o.created)
    hint = (
        f"{tagged} version(s) are tagged locally and intact (`cpv list`). "
        "Run `cpv push` when the remote is reachable (`cpv doctor` checks it)."
    )
    return VersioningError(
        "; ".join(parts), outcomes=outcomes, report=VersioningReport(tuple(outcomes)), hint=hint
    )


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
