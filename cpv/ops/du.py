"""``cpv du``: the bytes each version holds in the local cache, the cache and storage
totals, and what the configured retention would free; with the object accounting ``gc``
and ``delete`` share (which objects each version, and each branch tip, needs).

A version needs its pointer's object and, for a folder, its ``.dir`` listing and every
file the listing names (:func:`cpv.objects.transfer.needed_objects`). An object is *unique* to a
version when no other version needs it, *shared* otherwise; shared objects are counted
once in the totals, so ``unique_bytes + shared_bytes == versions_bytes``.

The savings: a version's *logical* size is its files counted whole (the size its tag
records); its *stored* size is the bytes of the objects no earlier version needed (an
object's size from the local cache, else from the storage's listing). Over the versions
whose bytes are kept, ``stored_bytes`` counts each object once and ``ratio`` is
``stored_bytes / logical_bytes``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from cpv.core.accounting import Listings, local_size, objects_of_each
from cpv.core.repo import ModelRepo
from cpv.domain.errors import CpvError
from cpv.domain.metadata import VersionRecord
from cpv.domain.usage import DuResult, VersionUsage
from cpv.objects.layout import cache_dir
from cpv.objects.store import ObjectStore
from cpv.objects.transfer import store_for


def du(path: str | Path = ".") -> DuResult:
    """The bytes of every version in the local cache (unique and shared), the cache's and
    the storage's totals (the storage unreachable: ``storage_note`` says why), and what the
    retention in ``cpv.yaml`` would free (a local ``gc`` dry run)."""
    from cpv.core.removal import removed_markers

    repo = ModelRepo.open(path)
    cache = cache_dir(repo.root)
    records = repo.records()
    result = DuResult()
    store, listed = _storage_total(repo, result)
    needs = _needs(repo, records, Listings(cache, store=store))
    users: dict[str, int] = {}
    for oids in needs.values():
        for oid in oids:
            users[oid] = users.get(oid, 0) + 1
    sizes = {oid: local_size(cache, oid) for oid in users}
    removed = removed_markers(repo)
    for r in records:
        usage = VersionUsage(tag=r.tag, objects=len(needs[r.tag]), removed=r.tag in removed)
        for oid in needs[r.tag]:
            size = sizes[oid]
            if size is None:
                usage.missing += 1
            elif users[oid] == 1:
                usage.unique_bytes += size
            else:
                usage.shared_bytes += size
        result.versions.append(usage)
    present = {oid: s for oid, s in sizes.items() if s is not None}
    result.versions_bytes = sum(present.values())
    result.unique_bytes = sum(s for oid, s in present.items() if users[oid] == 1)
    result.shared_bytes = result.versions_bytes - result.unique_bytes
    result.cache_objects, result.cache_bytes = _folder_total(cache / "files" / "md5")
    _savings(records, needs, {**listed, **present}, removed, result)
    return result


def _savings(
    records: Sequence[VersionRecord],
    needs: dict[str, set[str]],
    sizes: dict[str, int],
    removed: Iterable[str],
    result: DuResult,
) -> None:
    """Each version's logical and stored bytes (its objects no earlier version needed),
    and the totals over the versions not removed."""
    gone = set(removed)
    seen: set[str] = set()
    unsized: set[str] = set()
    for r, usage in zip(records, result.versions, strict=True):
        usage.logical_bytes = r.size_bytes
        if r.tag in gone:
            continue
        new = needs[r.tag] - seen
        seen |= new
        unsized |= {oid for oid in new if oid not in sizes}
        usage.stored_bytes = sum(sizes.get(oid, 0) for oid in new)
        usage.ratio = _ratio(usage.stored_bytes, usage.logical_bytes)
        result.logical_bytes += usage.logical_bytes
        result.stored_bytes += usage.stored_bytes
    result.ratio = _ratio(result.stored_bytes, result.logical_bytes)
    result.unsized_objects = len(unsized)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _folder_total(folder: Path) -> tuple[int, int]:
    sizes = [p.stat().st_size for p in _files(folder.glob("??/*")) if not p.name.startswith(".")]
    return len(sizes), sum(sizes)


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    return (p for p in paths if p.is_file())


def _storage_total(repo: ModelRepo, result: DuResult) -> tuple[ObjectStore | None, dict[str, int]]:
    """The storage and one listing of it (object id -> size); when it cannot be listed, a
    note instead of a failure (du is about this disk first), no storage and nothing."""
    from cpv.settings.credentials import applied_env

    try:
        store = store_for(repo.root)
        with applied_env(store.env()):
            listed = store.sizes()
    except CpvError as exc:
        result.storage_note = f"storage not listed: {exc.message}"
        return None, {}
    result.storage_objects, result.storage_bytes = len(listed), sum(listed.values())
    return store, listed


def _needs(
    repo: ModelRepo, records: Sequence[VersionRecord], listings: Listings
) -> dict[str, set[str]]:
    """Tag -> the objects it needs. A listing gone from the local cache (a local gc) is
    read from the storage into a scratch folder (du changes nothing): the versions'
    objects, hence the savings, stay exact."""
    from cpv.settings.credentials import applied_env

    env = listings.store.env() if listings.store is not None else {}
    with tempfile.TemporaryDirectory(prefix="cpv-du-") as scratch, applied_env(env):
        listings.into = Path(scratch)
        try:
            needs = objects_of_each(repo, records, listings)
            return dict(zip([r.tag for r in records], needs, strict=True))
        finally:
            listings.into = None
