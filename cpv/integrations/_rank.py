"""Which process of a distributed run this is.

Only the global rank 0 process versions and pushes; every other rank does nothing.
``torch.distributed`` is asked only when the training script has already imported and
initialised it (so this module never imports torch); otherwise the ``RANK`` variable
that ``torchrun``, Accelerate and DeepSpeed set, then Slurm's ``SLURM_PROCID``.
"""

from __future__ import annotations

import os
import sys

_RANK_VARIABLES = ("RANK", "SLURM_PROCID")


def global_rank() -> int:
    """The global rank of this process; 0 when it is not part of a distributed run."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None:
        try:
            if dist.is_available() and dist.is_initialized():
                return int(dist.get_rank())
        except (RuntimeError, ValueError):
            pass  # a half-torn-down process group: fall back to the environment
    for name in _RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                continue
    return 0


def is_main_process() -> bool:
    """True on the one process (global rank 0) that versions and pushes."""
    return global_rank() == 0
