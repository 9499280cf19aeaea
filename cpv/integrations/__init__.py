"""Versioning from training code: plain loops, Hugging Face ``Trainer``, Lightning.

* :func:`versioning` / :class:`Versioning` and :func:`log_checkpoint` for plain loops
  (:mod:`cpv.integrations.plain`);
* ``cpv.integrations.transformers.CpvCallback`` for ``transformers.Trainer``;
* ``cpv.integrations.lightning.CpvLightningCallback`` for Lightning;
* :func:`save_grouped` / :func:`load_grouped`: weights as one safetensors shard per module
  group, so a new version stores only the groups that changed
  (:mod:`cpv.integrations.grouped`, which needs torch and safetensors).

Tagging and pushing run on a background worker that snapshots each save when it is
made, never drops one, and reports failures loudly at the end of training. Only the
global rank 0 process versions. Nothing here imports torch or transformers.
"""

from __future__ import annotations

from cpv.integrations._outcomes import (
    VersioningError,
    VersioningReport,
    VersionOutcome,
    clean_metrics,
)
from cpv.integrations._rank import global_rank, is_main_process
from cpv.integrations.plain import Versioning, log_checkpoint, versioning

_GROUPED = ("GroupedSave", "load_grouped", "regroup", "save_grouped")


def __getattr__(name: str) -> object:
    """The grouped-weights functions, imported on first use (they import torch)."""
    if name in _GROUPED:
        from cpv.integrations import grouped

        return getattr(grouped, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # noqa: F822 (the grouped names are resolved by __getattr__)
    "GroupedSave",
    "Versioning",
    "VersionOutcome",
    "VersioningError",
    "VersioningReport",
    "clean_metrics",
    "global_rank",
    "is_main_process",
    "load_grouped",
    "log_checkpoint",
    "regroup",
    "save_grouped",
    "versioning",
]
