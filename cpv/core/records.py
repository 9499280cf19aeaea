"""A model's version records as list and show give them: each with its aliases and its
removal marker, deleted ones left out unless asked for."""

from __future__ import annotations

from collections.abc import Sequence

from cpv.core.repo import ModelRepo
from cpv.domain.metadata import VersionRecord
from cpv.domain.versions import Kind


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
