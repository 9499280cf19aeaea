"""``cpv verify``: is every byte of these versions where it should be, and is it right?

For each chosen version, every object it needs (its pointer's hash and, for a folder, each
file of its ``.dir`` listing) is looked up in the local cache and, with ``remote``, in the
storage (one listing, sizes compared). ``deep`` re-hashes each local object, and with
``remote`` downloads each storage object to hash it (to a temporary file, then deleted).
``repair`` fixes what it can: a missing or corrupt local object is fetched again (verified on
the way in), a missing or corrupt storage object is uploaded again from a good local copy.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cpv.errors import IntegrityError, InvalidObjectIdError, MissingDataError, UsageError
from cpv.metadata import VersionRecord
from cpv.objects import cache_dir, file_md5, object_path
from cpv.refs import resolve_arg
from cpv.repo import ModelRepo
from cpv.results import VerifiedVersion, VerifyResult
from cpv.storage import ObjectStore
from cpv.transfer import ListingFn, Needed, Pointer, needed_objects, pointers_at, store_for
from cpv.versions import Kind


def verify(
    path: str | Path = ".",
    *,
    versions: Sequence[str] = (),
    all_versions: bool = False,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    remote: bool = False,
    deep: bool = False,
    repair: bool = False,
) -> VerifyResult:
    """Check (and with ``repair``, fix) the objects of ``versions`` (default: the versions
    HEAD points at; ``all_versions``: every version) locally and, with ``remote``, in storage."""
    repo = ModelRepo.open(path)
    with repo.locked():
        records = _chosen(repo, versions, all_versions=all_versions, kinds=kinds)
        cache = cache_dir(repo.root)
        store = store_for(repo.root) if remote or repair else None
        present = store.sizes() if store is not None and remote else None
        result = VerifyResult(remote=remote, deep=deep, repair=repair)
        for record in records:
            pointers = pointers_at(
                repo.root, record.commit, label=record.tag, only=[repo.pointer_of(record.kind)]
            )
            try:
                checked = _check(cache, store, present, pointers, deep=deep, repair=repair)
            except InvalidObjectIdError as exc:  # refused, untouched: the rest go on
                checked = VerifiedVersion(version=record.tag, refused=exc.message)
            checked.version = record.tag
            result.versions.append(checked)
        return result


def _chosen(
    repo: ModelRepo, names: Sequence[str], *, all_versions: bool, kinds: Sequence[Kind]
) -> list[VersionRecord]:
    if all_versions and names:
        raise UsageError("name versions or pass --all-versions, not both")
    records = [r for r in repo.records() if r.kind in kinds]
    if all_versions:
        return records
    if not names:
        head = repo.git.head_commit()
        chosen = [r for r in records if r.commit == head]
        if not chosen:
            raise UsageError(
                "HEAD is not a version", hint="Name the versions to verify, or pass --all-versions."
            )
        return chosen
    chosen = []
    for name in names:
        kind, version = resolve_arg(repo, name, within=kinds, action="verify")
        found = [r for r in records if r.parsed_version == version and kind in (None, r.kind)]
        if not found:
            repo.find(kind or kinds[0], version)  # raises VersionNotFoundError
        chosen += found
    return chosen


def _check(
    cache: Path,
    store: ObjectStore | None,
    present: dict[str, int] | None,
    pointers: list[Pointer],
    *,
    deep: bool,
    repair: bool,
) -> VerifiedVersion:
    checked = VerifiedVersion(version="")
    needed = needed_objects(pointers, _listing(cache, store, checked, repair=repair))
    places = {**needed.listings, **needed.files}
    for oid, where in places.items():
        local = object_path(cache, oid)
        bad_local = not local.is_file() or (deep and not _matches(local, oid))
        if bad_local and repair and store is not None:
            bad_local = not _refetch(store, oid, local)
            checked.repaired_local += 0 if bad_local else 1
        bad_remote = False
        if present is not None and store is not None:
            bad_remote = _bad_remote(store, present, oid, local, cache, deep=deep)
            if bad_remote and repair and not bad_local:
                store.upload(oid, local)
                checked.repaired_remote += 1
                bad_remote = False
        if bad_local and not local.exists() and present is not None and not bad_remote:
            checked.not_fetched.append(where)  # in the storage, just not pulled here
        elif bad_local:
            checked.missing_local.append(where)
        if bad_remote:
            checked.missing_remote.append(where)
    checked.objects = len(places)
    _checked_listings(needed, checked)
    return checked


def _bad_remote(
    store: ObjectStore, present: dict[str, int], oid: str, local: Path, cache: Path, *, deep: bool
) -> bool:
    """Whether the storage lacks ``oid``, holds another size than the local copy, or (deep)
    holds bytes that do not hash to it."""
    if oid not in present or (local.is_file() and present[oid] != local.stat().st_size):
        return True
    return deep and not _remote_matches(store, oid, cache)


def _checked_listings(needed: Needed, checked: VerifiedVersion) -> None:
    """A listing that could not be read leaves its files unknown: say so."""
    for oid, where in needed.listings.items():
        if oid in checked.unreadable and where not in checked.missing_local:
            checked.missing_local.append(where)


def _listing(
    cache: Path, store: ObjectStore | None, checked: VerifiedVersion, *, repair: bool
) -> ListingFn:
    def read(oid: str, p: Pointer) -> list[dict[str, str]]:
        path = object_path(cache, oid)
        if not path.is_file() and store is not None:  # --remote or --repair: its files are
            _refetch(store, oid, path)  # unknown without it (small, verified on the way in)
        try:
            return list(json.loads(path.read_bytes()))
        except (OSError, ValueError):
            checked.unreadable.append(oid)
            return []

    return read


def _matches(path: Path, oid: str) -> bool:
    return file_md5(path)[0] == oid.removesuffix(".dir")


def _refetch(store: ObjectStore, oid: str, local: Path) -> bool:
    """Replace a missing or corrupt local object with the storage's verified copy."""
    if local.exists():
        os.chmod(local, 0o644)
        local.unlink()
    try:
        store.download(oid, local, size=None)
        return True
    except (MissingDataError, IntegrityError):
        return False


def _remote_matches(store: ObjectStore, oid: str, cache: Path) -> bool:
    """Download the storage's copy to a temporary file and hash it."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            store.download(oid, Path(tmp) / "object", size=None)
            return True
        except (MissingDataError, IntegrityError):
            return False
