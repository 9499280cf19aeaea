"""The training-state rule (``retention: training_state:`` in ``cpv.yaml``): which files of a
version are optimizer, scheduler and RNG state, and for how many of the latest versions they
are worth keeping. Validated here; :mod:`cpv.core.training_state` plans with it."""

from __future__ import annotations

import fnmatch
import posixpath

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: What the training integrations save besides the weights: the Trainer's optimizer,
#: scheduler, AMP scaler and RNG files, and the Lightning callback's training_state.ckpt.
DEFAULT_FILES = (
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "training_state.ckpt",
)
_KEEP_MAX = 10_000
_FILES_MAX = 50
_PATTERN_MAX = 200


class TrainingStateRule(BaseModel):
    """``retention: training_state: {keep_last: N, files: [...]}``: keep the files ``files``
    names in the latest N model versions (and in every aliased, best, latest and branch-held
    one); older versions may drop them, their weights stay."""

    model_config = ConfigDict(extra="forbid")

    keep_last: int = Field(ge=1, le=_KEEP_MAX)
    files: list[str] = Field(default_factory=lambda: list(DEFAULT_FILES), max_length=_FILES_MAX)

    @field_validator("files")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            check_pattern(pattern)
        if not value:
            raise ValueError("name at least one file (a name or a glob, e.g. optimizer.pt)")
        return value

    def matches(self, relpath: str) -> bool:
        """Whether a version's file (a posix path inside its folder) is training state: a
        pattern with a ``/`` matches the whole path, one without matches the file's name
        (so ``optimizer.pt`` also matches ``checkpoint-500/optimizer.pt``)."""
        name = relpath.rpartition("/")[2]
        return any(fnmatch.fnmatchcase(relpath if "/" in p else name, p) for p in self.files)


def check_pattern(pattern: str) -> str:
    """A file name or glob, relative, inside the version's folder."""
    normal = posixpath.normpath(pattern) if pattern else ""
    if (
        not pattern
        or len(pattern) > _PATTERN_MAX
        or "\\" in pattern
        or pattern.startswith("/")
        or normal != pattern
        or normal in (".", "..")
        or normal.startswith("../")
        or any(ord(c) < 32 for c in pattern)
    ):
        raise ValueError(
            f"{pattern[:_PATTERN_MAX]!r} is not a file name or glob inside the version's folder"
        )
    return pattern
