"""Trim markers: the record that a version's training-state files were dropped on purpose
while its weights stay (the training-state rule, :mod:`cpv.core.training_state`).

A **trim marker** is an annotated tag ``trimmed/<kind>/<vX.Y>`` at the version's commit, its
message ``trimmed model/v0.2`` then ``cpv-trimmed: {json}``: the files dropped (paths inside
the version's folder), ``tree_hash`` (the version's listing without them), who, when, why.
Like removal markers (:mod:`cpv.core.removal`), they travel with the repository's tags and
:mod:`cpv.core.remote_view` reads the remote's.

A marker is read from git, so it is honoured only when it agrees with the version it names
(:func:`honoured`): at the version's commit, naming files the version's listing holds, and
with ``tree_hash`` the listing without exactly those files. In this release no command
writes one (the rule is planned, not applied): a marker found was made by hand, and only the
plan counts it (a trimmed version is not planned again, and its dropped files need no
bytes); deletions and readers ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpv._git.repo import TagRef
from cpv.core.refs import now
from cpv.core.repo import ModelRepo
from cpv.domain.metadata import VersionRecord, decode_record, tag_message
from cpv.domain.training_state import TrimMarker
from cpv.objects.layout import FileEntry, Tree

TRIMMED_PREFIX = "trimmed"
_MARKER = "cpv-trimmed:"


def trim_ref(tag: str) -> str:
    return f"{TRIMMED_PREFIX}/{tag}"


def encode_trim(marker: TrimMarker) -> str:
    body = marker.model_dump(mode="json", exclude={"ref", "commit"})
    return tag_message(f"trimmed {marker.tag}", _MARKER, body)


def trims_of(tags: list[TagRef]) -> dict[str, TrimMarker]:
    """Version tag -> its trim marker, from ``trimmed/…`` tags; a tag whose message does not
    read as a marker, or whose name does not match the version it names, is ignored."""
    found: dict[str, TrimMarker] = {}
    for t in tags:
        marker = decode_record(TrimMarker, t.contents, _MARKER, ref=t.name, commit=t.commit)
        if marker is not None and t.name == trim_ref(marker.tag):
            found[marker.tag] = marker
    return found


def trim_markers(repo: ModelRepo) -> dict[str, TrimMarker]:
    """Version tag -> its trim marker in this clone (one git call)."""
    return trims_of(repo.git.list_tags(TRIMMED_PREFIX))


def trimmed_tree(entries: Sequence[tuple[str, str]], files: Sequence[str]) -> str:
    """The ``.dir`` hash of a listing's ``entries`` (md5, relpath) without ``files``."""
    dropped = set(files)
    kept = sorted((rel, md5) for md5, rel in entries if rel not in dropped)
    return Tree(tuple(FileEntry(rel, md5, 0) for rel, md5 in kept)).hash


def honoured(marker: TrimMarker, record: VersionRecord, entries: Sequence[tuple[str, str]]) -> bool:
    """Whether ``marker`` agrees with ``record`` and its listing ``entries`` (see the module
    docstring): anything else is a forged or stale marker, and the version keeps needing
    all of its files."""
    paths = {rel for _, rel in entries}
    return (
        marker.tag == record.tag
        and marker.commit == record.commit
        and set(marker.files) <= paths
        and marker.tree_hash == trimmed_tree(entries, marker.files)
    )


def new_trim(
    repo: ModelRepo, record: VersionRecord, entries: Sequence[tuple[str, str]], files: list[str]
) -> TrimMarker:
    """The marker dropping ``files`` from ``record`` (``entries``: its listing)."""
    return TrimMarker(
        tag=record.tag,
        files=sorted(files),
        tree_hash=trimmed_tree(entries, files),
        by=repo.git.identity(),
        at=now(),
        why="training state: retention",
        commit=record.commit,
    )


def write_trim(repo: ModelRepo, record: VersionRecord, marker: TrimMarker) -> str:
    """Tag ``trimmed/<tag>`` at the version's commit; returns the marker's name."""
    repo.git.create_tag(trim_ref(record.tag), encode_trim(marker), record.commit)
    return trim_ref(record.tag)
