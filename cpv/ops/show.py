"""``cpv show`` and ``cpv diff``: one version's record, two versions side by side.

The managers turn what the user named (``v0.3``, ``model/v0.3``) into a kind and a version.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def listing(
    repo: ModelRepo, kinds: Sequence[Kind], *, all_versions: bool = False
) -> list[VersionRecord]:
    """The versions of ``kinds``, oldest first, annotated; deleted ones only with
    ``all_versions`` (versions whose bytes gc removed stay, marked)."""
    records = annotate(repo, [r for r in repo.records() if r.kind in kinds])
    if all_versions:
        return records
    return [r for r in records if not (r.removed and r.removed.get("action") == "delete")]


def annotate(repo: ModelRepo, records: list[VersionRecord]) -> list[VersionRecord]:
    """Set each record's ``aliases`` and ``removed`` (read from the alias and removal tags)."""
    from cpv.core.refs import aliases_of
    from cpv.core.removal import removed_markers

    named, markers = aliases_of(repo), removed_markers(repo)
    for record in records:
        record.aliases = sorted(named.get(record.tag, []))
        marker = markers.get(record.tag)
        record.removed = marker.model_dump(exclude={"ref", "commit", "tag"}) if marker else None
    return records


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
