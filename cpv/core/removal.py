"""Removal markers: the record that a version's bytes were removed on purpose.

A **removal marker** is an annotated tag ``removed/<kind>/<vX.Y>`` at the version's commit,
its message ``removed model/v0.2`` then ``cpv-removed: {json}`` (who, when, why, whether
the storage's copy went too, the bytes freed). ``cpv push`` publishes markers with the
versions (``gc --remote`` and ``delete --remote`` publish theirs before deleting anything:
see :mod:`cpv.core.fence`) and ``cpv pull``/``clone`` bring them, so a removed version is
removed for everyone. The version's own tag and metadata are never touched.
"""

from __future__ import annotations

from cpv._git.repo import TagRef
from cpv.core.repo import ModelRepo
from cpv.domain.metadata import VersionRecord, decode_record, tag_message
from cpv.domain.results import RemovalMarker

REMOVED_PREFIX = "removed"
_MARKER = "cpv-removed:"


def marker_ref(tag: str) -> str:
    return f"{REMOVED_PREFIX}/{tag}"


def encode_marker(marker: RemovalMarker) -> str:
    body = marker.model_dump(mode="json", exclude={"ref", "commit"})
    return tag_message(f"removed {marker.tag}", _MARKER, body)


def decode_marker(text: str, *, ref: str, commit: str) -> RemovalMarker | None:
    return decode_record(RemovalMarker, text, _MARKER, ref=ref, commit=commit)


def markers_of(tags: list[TagRef]) -> dict[str, RemovalMarker]:
    """Version tag -> its marker, from ``removed/…`` tags; a tag without a readable marker
    message, or whose name does not match the version it names, is ignored."""
    found: dict[str, RemovalMarker] = {}
    for t in tags:
        marker = decode_marker(t.contents, ref=t.name, commit=t.commit)
        if marker is not None and t.name == marker_ref(marker.tag):
            found[marker.tag] = marker
    return found


def removed_markers(repo: ModelRepo) -> dict[str, RemovalMarker]:
    """Version tag -> its removal marker in this clone (one git call)."""
    return markers_of(repo.git.list_tags(REMOVED_PREFIX))


def new_marker(repo: ModelRepo, record: VersionRecord, **fields: object) -> RemovalMarker:
    return RemovalMarker.model_validate(
        {"tag": record.tag, "by": repo.git.identity(), "at": _now(), **fields}
    )


def write_marker(repo: ModelRepo, record: VersionRecord, **fields: object) -> str:
    """Tag ``removed/<tag>`` at the version's commit; returns the marker's name."""
    marker = new_marker(repo, record, **fields)
    repo.git.create_tag(marker_ref(record.tag), encode_marker(marker), record.commit)
    return marker_ref(record.tag)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")
