"""``cpv verify``: is every byte of these versions where it should be, and is it right?

For each chosen version, every object it needs (its pointer's hash and, for a folder, each
file of its ``.dir`` listing) is looked up in the local cache and, with ``remote``, in the
storage (one listing, sizes compared). ``deep`` re-hashes each local object, and with
``remote`` downloads each storage object to hash it (to a temporary file, then deleted).
``repair`` fixes what it can: a missing or corrupt local object is set aside (quarantined,
never deleted nor uploaded) and fetched again, verified on the way in; a missing or corrupt
storage object is uploaded again from a local copy whose bytes hash to its name (sizes that
differ are settled by hashing the local copy, and the upload hashes the bytes it sends).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from cpv._dvc import repo as _dvc
from cpv.core.refs import resolve_arg
from cpv.core.removal import removed_markers
from cpv.core.repo import ModelRepo
from cpv.domain.errors import (
    IntegrityError,
    InvalidObjectIdError,
    MissingDataError,
    RecipeError,
    UsageError,
    VersionNotFoundError,
)
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import VerifiedVersion, VerifyResult
from cpv.domain.versions import Kind
from cpv.objects.checkout import load_tree
from cpv.objects.compact import check_rebuilt
from cpv.objects.layout import cache_dir, file_md5, object_path
from cpv.objects.pointers import pointer_each
from cpv.objects.store import ObjectStore
from cpv.objects.transfer import ListingFn, Needed, Pointer, needed_objects, store_for


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
        records, note = _chosen(repo, versions, all_versions=all_versions, kinds=kinds)
        markers = removed_markers(repo)
        cache = cache_dir(repo.root)
        live = [r for r in records if r.tag not in markers]
        store = store_for(repo.root) if (remote or repair) and live else None
        present = store.sizes() if store is not None and remote else None
        result = VerifyResult(remote=remote, deep=deep, repair=repair, note=note)
        wants = [(r.tag, r.commit, repo.pointer_of(r.kind)) for r in live]
        found = dict(zip([r.tag for r in live], pointer_each(repo.root, wants), strict=True))
        for record in records:
            marker = markers.get(record.tag)
            if marker is not None:  # removed on purpose: its story, not a failure
                removed = marker.model_dump(mode="json", exclude={"tag"})
                result.versions.append(VerifiedVersion(version=record.tag, removed=removed))
                continue
            pointer = found[record.tag]  # all of them read by one git call
            pointers = [pointer] if pointer else []
            try:
                checked = _check(cache, store, present, pointers, deep=deep, repair=repair)
            except InvalidObjectIdError as exc:  # refused, untouched: the rest go on
                checked = VerifiedVersion(version=record.tag, refused=exc.message)
            if deep and record.compact is not None and checked.ok and not checked.not_fetched:
                _check_rebuilt(cache, record, checked)  # (not pulled here: nothing to rebuild)
            checked.version = record.tag
            result.versions.append(checked)
        return result


def _check_rebuilt(cache: Path, record: VersionRecord, checked: VerifiedVersion) -> None:
    """A compact version, deep: its files rebuilt from their checked segments (written
    nowhere) must hash to what was saved; a recipe that does not is a corrupt place."""
    try:
        tree = load_tree(cache, record.content_hash, where=record.tag)
        check_rebuilt(cache, tree, where=record.tag)
    except RecipeError as exc:
        checked.missing_local.append(exc.message)


def _chosen(
    repo: ModelRepo, names: Sequence[str], *, all_versions: bool, kinds: Sequence[Kind]
) -> tuple[list[VersionRecord], str | None]:
    """The versions to check, and a note when they are not what was asked for."""
    if all_versions and names:
        raise UsageError("name versions or pass --all-versions, not both")
    if names:
        return _named(repo, names, kinds), None
    records = [r for r in repo.records() if r.kind in kinds]
    if all_versions:
        return records, None
    return _at_head(repo, records, kinds)


def _named(repo: ModelRepo, names: Sequence[str], kinds: Sequence[Kind]) -> list[VersionRecord]:
    """The versions ``names`` name (a bare version: each kind's), each tag read alone."""
    chosen = []
    for name in names:
        kind, version = resolve_arg(repo, name, within=kinds, action="verify")
        found = []
        for each in (Kind.MODEL, Kind.DATA):  # the model's before the data's, as records()
            if each in kinds and kind in (None, each):
                with contextlib.suppress(VersionNotFoundError):
                    found.append(repo.find(each, version))
        if not found:
            repo.find(kind or kinds[0], version)  # raises VersionNotFoundError
        chosen += found
    return chosen


def _at_head(
    repo: ModelRepo, records: list[VersionRecord], kinds: Sequence[Kind]
) -> tuple[list[VersionRecord], str | None]:
    """The versions HEAD is; when HEAD is a commit that is no version (``train.py`` edited
    after tagging), the versions whose bytes its pointers hold, else each kind's latest;
    said in the note."""
    head = repo.git.head_commit()
    chosen = [r for r in records if r.commit == head]
    if chosen:
        return chosen, None
    if not records:
        raise UsageError("there is no version to verify", hint="Make one with `cpv tag`.")
    held, latest = [], []
    for kind in kinds:
        mine = [r for r in records if r.kind is kind]
        text = repo.git.show_file("HEAD", repo.pointer_of(kind)) if mine else None
        held_hash = (
            _dvc.parse_pointer(text, where=f"HEAD: {repo.pointer_of(kind)}").hash if text else ""
        )
        same = [r for r in mine if held_hash and r.content_hash == held_hash]
        held += same[-1:]
        latest += mine[-1:] if not same else []
    which = ", ".join(r.tag for r in [*held, *latest])
    note = f"HEAD ({(head or '')[:10]}) is not a version: checked {which}"
    if held:
        note += " (" + ", ".join(r.tag for r in held) + ": the bytes HEAD holds)"
    if latest:
        note += " (" + ", ".join(r.tag for r in latest) + ": the latest)"
    return [*held, *latest], note


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
        bad_local, bad_remote = _sides(store, present, oid, local, cache, deep=deep)
        if bad_local and repair and store is not None:
            fetched = _repair_local(store, cache, oid, checked)
            bad_local = fetched != "ok"
            if present is not None:  # a verified download tells how the storage's copy is
                bad_remote = fetched != "ok"
        if bad_remote and repair and not bad_local and store is not None:
            bad_remote = not _repair_remote(store, cache, oid, checked)
            bad_local = not local.is_file()
        if bad_local and not local.exists() and present is not None and not bad_remote:
            checked.not_fetched.append(where)  # in the storage, just not pulled here
        elif bad_local:
            checked.missing_local.append(where)
        if bad_remote:
            checked.missing_remote.append(where)
    checked.objects = len(places)
    _checked_listings(needed, checked)
    return checked


def _sides(
    store: ObjectStore | None,
    present: dict[str, int] | None,
    oid: str,
    local: Path,
    cache: Path,
    *,
    deep: bool,
) -> tuple[bool, bool]:
    """(the local copy is missing or corrupt, the storage's is). Sizes that differ are
    settled by hashing the local copy: a truncated local object must never pass for good
    and replace the storage's copy (nor a good one be blamed on the storage)."""
    bad_local = not local.is_file() or (deep and not _matches(local, oid))
    if present is None or store is None:
        return bad_local, False
    bad_remote = _bad_remote(store, present, oid, local, cache, deep=deep)
    if bad_remote and not bad_local and not deep and oid in present:
        bad_local = not _matches(local, oid)
        bad_remote = not bad_local  # (a storage copy sized unlike a corrupt one: unknown)
    return bad_local, bad_remote


def _repair_local(store: ObjectStore, cache: Path, oid: str, checked: VerifiedVersion) -> str:
    """Set a corrupt local object aside (:func:`quarantine`) and fetch the storage's copy,
    verified on the way in: ``ok``, ``missing`` (not in the storage) or ``corrupt`` (the
    storage's copy does not hash to its name either)."""
    local = object_path(cache, oid)
    if local.exists():
        checked.quarantined.append(str(quarantine(cache, oid)))
    state = _fetch(store, oid, local)
    checked.repaired_local += state == "ok"
    return state


def _repair_remote(store: ObjectStore, cache: Path, oid: str, checked: VerifiedVersion) -> bool:
    """Upload the local copy, which the upload hashes as it reads: bytes that do not hash
    to their name (changed since checked) are never sent, and are set aside instead."""
    try:
        store.upload(oid, object_path(cache, oid))
    except IntegrityError:
        checked.quarantined.append(str(quarantine(cache, oid)))
        return False
    checked.repaired_remote += 1
    return True


def quarantine(cache: Path, oid: str) -> Path:
    """Move the cache object ``oid`` aside, to ``<cache>/quarantine/<oid>.<UTC time>``: out
    of every command's way (never uploaded, never checked out), kept for whoever looks."""
    folder = cache / "quarantine"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{oid}.{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}"
    os.replace(object_path(cache, oid), dest)
    return dest


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
            _fetch(store, oid, path)  # unknown without it (small, verified on the way in)
        try:
            return list(json.loads(path.read_bytes()))
        except (OSError, ValueError):
            checked.unreadable.append(oid)
            return []

    return read


def _matches(path: Path, oid: str) -> bool:
    return file_md5(path)[0] == oid.removesuffix(".dir")


def _fetch(store: ObjectStore, oid: str, local: Path) -> str:
    """The storage's copy of ``oid`` at ``local`` (absent there now), verified: ``ok``,
    ``missing`` or ``corrupt``."""
    try:
        store.download(oid, local, size=None)
    except IntegrityError:
        return "corrupt"
    except MissingDataError:
        return "missing"
    return "ok"


def _remote_matches(store: ObjectStore, oid: str, cache: Path) -> bool:
    """Download the storage's copy to a temporary file and hash it."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        try:
            store.download(oid, Path(tmp) / "object", size=None)
            return True
        except (MissingDataError, IntegrityError):
            return False
