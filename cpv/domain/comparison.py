"""What ``cpv compare`` returns: N versions side by side (metrics with deltas and the best,
params, training curves), for the CLI and the HTML report to draw."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from cpv.domain.metadata import VersionRecord

Direction = Literal["min", "max"]
Against = Literal["first", "best"]

#: Counters the integrations record: no version is "best" by these, they are listed after
#: the metrics and never charted as metrics.
COUNTERS = frozenset({"step", "epoch", "is_best", "global_step"})


class MetricRow(BaseModel):
    """One metric across the compared versions (lists in version order)."""

    name: str
    direction: Direction | None = None
    values: list[float | int | str | None]
    #: value minus the baseline's (None: either is missing or not a number)
    deltas: list[float | None]
    #: the tag of the version the deltas are against (None: no baseline value)
    baseline: str | None = None
    #: the tag of the best version (None: no direction, or no number)
    best: str | None = None


class ParamRow(BaseModel):
    """One parameter (nested ones as ``a.b``) across the compared versions."""

    name: str
    values: list[Any]
    differs: bool


class Curve(BaseModel):
    """The steps a version's training run logged for one metric, up to that version."""

    tag: str
    metric: str
    steps: list[float]
    values: list[float]


class Comparison(BaseModel):
    """What :func:`compare` returns (``.model_dump(mode="json")`` is ``--json``)."""

    team: str
    model: str
    against: Against = "first"
    versions: list[VersionRecord]
    metrics: list[MetricRow] = Field(default_factory=list)
    params: list[ParamRow] = Field(default_factory=list)
    #: size in bytes minus the first version's
    size_deltas: list[int] = Field(default_factory=list)
    curves: list[Curve] = Field(default_factory=list)

    @property
    def tags(self) -> list[str]:
        return [v.tag for v in self.versions]
