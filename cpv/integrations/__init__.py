"""Versioning from training code: plain loops, Hugging Face ``Trainer``, Lightning.

* :func:`versioning` / :class:`Versioning` and :func:`log_checkpoint` for plain loops
  (:mod:`cpv.integrations.plain`);
* ``cpv.integrations.transformers.CpvCallback`` for ``transformers.Trainer``;
* ``cpv.integrations.lightning.CpvLightningCallback`` for Lightning.

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

__all__ = [
    "Versioning",
    "VersionOutcome",
    "VersioningError",
    "VersioningReport",
    "clean_metrics",
    "global_rank",
    "is_main_process",
    "log_checkpoint",
    "versioning",
]
