"""The managers' methods for the end of a version's life: retention (gc), deletion and
space accounting (see :mod:`cpv.managers`)."""

from __future__ import annotations


class RetentionMethods:
    """Mixed into :class:`cpv.managers.CheckpointManager`."""
