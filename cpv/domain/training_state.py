"""What the training-state rule plans (``retention: training_state:``): the versions whose
optimizer, scheduler and RNG files would be dropped, the bytes that frees, and why the
others keep theirs. Returned by ``cpv gc`` as part of its result."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StateKept(BaseModel):
    """A model version whose training state is kept, and every reason (``keep-last``,
    ``alias NAME``, ``best``, ``latest``, ``head``, ``branch NAME``, ``unpublished``)."""

    tag: str
    reasons: list[str] = Field(default_factory=list)


class StateDrop(BaseModel):
    """A version whose training-state files the rule drops (its weights stay)."""

    tag: str
    files: list[str] = Field(default_factory=list)  # paths inside the version's folder
    #: bytes of the dropped files' objects no kept version nor branch tip needs
    freed_bytes: int = 0
    objects: int = 0
    #: dropped files whose bytes stay because another version or a branch tip needs them
    shared: list[str] = Field(default_factory=list)


class TrainingStatePlan(BaseModel):
    """The rule's plan. ``applied`` is False: this release plans and reports, and drops
    nothing (see docs/retention.md)."""

    keep_last: int
    files: list[str] = Field(default_factory=list)  # the rule's names and globs
    kept: list[StateKept] = Field(default_factory=list)
    dropped: list[StateDrop] = Field(default_factory=list)
    freed_bytes: int = 0
    objects: int = 0
    #: versions whose listing is in neither the cache nor the storage: what they need is
    #: unknown, so nothing is planned (``dropped`` is empty)
    unknown: list[str] = Field(default_factory=list)
    applied: bool = False
