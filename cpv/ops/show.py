"""``cpv show`` and ``cpv diff``: one version's record, two versions side by side.

The managers turn what the user named (``v0.3``, ``model/v0.3``) into a kind and a version.
"""

from __future__ import annotations

from cpv.core.records import annotate  # MOVED
from cpv.core.repo import ModelRepo
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import DiffEntry, DiffResult
from cpv.domain.versions import Kind, Version


def show(repo: ModelRepo, kind: Kind, version: Version) -> VersionRecord:
    """The record of ``kind``'s ``version``, with its aliases and removal marker.

    Raises:
        VersionNotFoundError: there is no such version.
    """
    return annotate(repo, [repo.find(kind, version)])[0]


def diff(ra: VersionRecord, rb: VersionRecord) -> DiffResult:
    """Two versions side by side: every metric (with the change when both are numbers), then
    sizes and metadata."""
    metrics = []
    for key in sorted(set(ra.metrics) | set(rb.metrics)):
        va, vb = ra.metrics.get(key), rb.metrics.get(key)
        delta = vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        metrics.append(DiffEntry(key=key, a=va, b=vb, delta=delta))
    fields = []
    for key in (
        "size_bytes",
        "file_count",
        "content_hash",
        "data_version",
        "created_at",
        "author",
        "message",
    ):
        va, vb = getattr(ra, key), getattr(rb, key)
        delta = float(vb - va) if isinstance(va, int) and isinstance(vb, int) else None
        fields.append(DiffEntry(key=key, a=va, b=vb, delta=delta))
    return DiffResult(a=ra, b=rb, metrics=metrics, fields=fields)
