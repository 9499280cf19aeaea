"""What the training-state rule plans (``retention: training_state:``): the versions whose
optimizer, scheduler and RNG files would be dropped, the bytes that frees, and why the
others keep theirs. Returned by ``cpv gc`` as part of its result."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from cpv.domain.errors import InvalidObjectIdError
from cpv.domain.oids import check_oid, check_relpath


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
    #: versions a trim marker (here or on the remote) says dropped their state already
    trimmed: list[str] = Field(default_factory=list)
    applied: bool = False


class TrimMarker(BaseModel):
    """A ``trimmed/<kind>/<vX.Y>`` tag at a version's commit: these files of the version
    (paths inside its folder) were dropped on purpose, its other files stay; ``tree_hash``
    is the version's listing without them. Read from git, so every field is checked and
    bounded here, and a reader honours it only when it agrees with the version's listing
    (:func:`cpv.core.trims.honoured`)."""

    tag: str = Field(max_length=200)
    files: list[str] = Field(min_length=1, max_length=10_000)
    tree_hash: str
    by: str = Field(default="", max_length=300)
    at: str = Field(default="", max_length=40)
    why: str = Field(default="", max_length=2000)
    ref: str = ""  # the marker tag's name
    commit: str = ""

    @field_validator("files")
    @classmethod
    def _paths(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a file is named twice")
        try:
            return [check_relpath(p, where="a trimmed/ marker") for p in value]
        except InvalidObjectIdError as exc:  # pydantic reports only a ValueError as invalid
            raise ValueError(exc.message) from None

    @field_validator("tree_hash")
    @classmethod
    def _listing(cls, value: str) -> str:
        try:
            return check_oid(value, listing=True, where="a trimmed/ marker")
        except InvalidObjectIdError as exc:
            raise ValueError(exc.message) from None
