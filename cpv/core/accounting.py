"""What objects each version, branch tip and listing holds, and their sizes on disk: the
accounting du, gc, delete and the liveness of a removal share."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cpv.core.repo import ModelRepo
from cpv.domain.errors import MissingDataError
from cpv.domain.metadata import VersionRecord
from cpv.objects.layout import object_path
from cpv.objects.pointers import pointer_each
from cpv.objects.store import ObjectStore
from cpv.objects.transfer import Pointer, needed_objects, pointers_at


@dataclass
class Listings:
    """Reads ``.dir`` listings from the local cache (and, given a ``store``, fetches a
    missing one into it, verified); ``unknown`` holds the listings found nowhere."""

    cache: Path
    store: ObjectStore | None = None
    unknown: dict[str, str] = field(default_factory=dict)  # listing oid -> who needs it
    #: where a listing fetched from the store goes (None: into the cache; a dry run passes
    #: a scratch folder, so that it changes nothing)
    into: Path | None = None

    def __call__(self, oid: str, p: Pointer) -> list[dict[str, str]]:
        path = object_path(self.cache, oid)
        if not path.is_file() and self.into is not None:
            path = object_path(self.into, oid)
        if not path.is_file() and self.store is not None:
            try:
                self.store.download(oid, path, size=None)
            except MissingDataError:
                pass
        try:
            return list(json.loads(path.read_bytes()))
        except (OSError, ValueError):
            self.unknown.setdefault(oid, f"{p.label}: {p.out}/")
            return []


def objects_of(repo: ModelRepo, record: VersionRecord, listings: Listings) -> set[str]:
    """Every object ``record`` needs: its pointer's hash, its listing and the listing's files."""
    pointers = pointers_at(
        repo.root, record.commit, label=record.tag, only=[repo.pointer_of(record.kind)]
    )
    return _ids(pointers, listings)


def objects_of_each(
    repo: ModelRepo, records: Sequence[VersionRecord], listings: Listings
) -> list[set[str]]:
    """:func:`objects_of` of each of ``records``, their pointers read by one git call."""
    wants = [(r.tag, r.commit, repo.pointer_of(r.kind)) for r in records]
    return [_ids([p] if p else [], listings) for p in pointer_each(repo.root, wants)]


def objects_at(repo: ModelRepo, rev: str, listings: Listings) -> set[str]:
    """Every object the pointer files of commit ``rev`` need (a branch tip, HEAD)."""
    return _ids(pointers_at(repo.root, rev, label=rev[:10]), listings)


def _ids(pointers: Sequence[Pointer], listings: Listings) -> set[str]:
    needed = needed_objects(pointers, listings)
    return {*needed.files, *needed.listings}


def local_size(cache: Path, oid: str) -> int | None:
    """Bytes of a cached object, None when it is not in the cache."""
    try:
        return object_path(cache, oid).stat().st_size
    except OSError:
        return None


def branch_tips(repo: ModelRepo, *, remote_tracking: bool = False) -> dict[str, str]:
    """Name (``head``, ``branch NAME``) -> commit of HEAD and every local branch tip (and,
    with ``remote_tracking``, every remote-tracking branch)."""
    tips: dict[str, str] = {}
    head = repo.git.head_commit()
    if head:
        tips["head"] = head
    spaces = ["refs/heads", *(["refs/remotes"] if remote_tracking else [])]
    out = repo.git.run("for-each-ref", "--format=%(refname:short) %(objectname)", *spaces)
    for line in out.splitlines():
        name, _, sha = line.rpartition(" ")
        if name and sha and not name.endswith("/HEAD"):
            tips.setdefault(f"branch {name}", sha)
    return tips
