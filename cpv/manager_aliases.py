"""The managers' methods that name versions: aliases (promote, demote) and references
(see :mod:`cpv.managers` and :mod:`cpv.refs`)."""

from __future__ import annotations


class AliasMethods:
    """Mixed into :class:`cpv.managers.CheckpointManager`."""
