"""``cpv delete``, and the removal markers it and ``gc --remote`` leave.

A **removal marker** is an annotated tag ``removed/<kind>/<vX.Y>`` at the version's commit,
its message ``removed model/v0.2`` then ``cpv-removed: {json}`` (who, when, why, whether
the storage's copy went too, the bytes freed). ``cpv push`` publishes markers with the
versions and ``cpv pull``/``clone`` bring them, so a removed version is removed for
everyone: pulling, reverting to or cloning it fails naming who removed it and when. The
version's own tag and metadata are never touched (``cpv show`` still tells its story).

``delete`` marks one version and removes the objects no other version (and no branch tip)
needs: from the local cache, and with ``remote`` from the storage. It is refused while an
alias points at the version, and for the version HEAD holds (tag or revert first).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from cpv.config import GIT_REMOTE_NAME
from cpv.credentials import applied_env
from cpv.errors import CpvError, MissingDataError, UsageError
from cpv.metadata import VersionRecord, decode_record, tag_message
from cpv.objects import cache_dir, object_path
from cpv.ops.du import Listings, branch_tips, local_size, objects_at, objects_of
from cpv.refs import aliases_of, now, resolve_arg
from cpv.repo import ModelRepo
from cpv.results import DeleteResult, RemovalMarker
from cpv.storage import ObjectStore
from cpv.transfer import store_for, upload_objects
from cpv.versions import Kind

REMOVED_PREFIX = "removed"
_MARKER = "cpv-removed:"


def marker_ref(tag: str) -> str:
    return f"{REMOVED_PREFIX}/{tag}"


def encode_marker(marker: RemovalMarker) -> str:
    body = marker.model_dump(mode="json", exclude={"ref", "commit"})
    return tag_message(f"removed {marker.tag}", _MARKER, body)


def decode_marker(text: str, *, ref: str, commit: str) -> RemovalMarker | None:
    return decode_record(RemovalMarker, text, _MARKER, ref=ref, commit=commit)


def removed_markers(repo: ModelRepo) -> dict[str, RemovalMarker]:
    """Version tag -> its removal marker (one git call); tags without a readable marker
    message, or whose name does not match the version they name, are ignored."""
    found: dict[str, RemovalMarker] = {}
    for t in repo.git.list_tags(REMOVED_PREFIX):
        marker = decode_marker(t.contents, ref=t.name, commit=t.commit)
        if marker is not None and t.name == marker_ref(marker.tag):
            found[marker.tag] = marker
    return found


def write_marker(repo: ModelRepo, record: VersionRecord, **fields: object) -> str:
    """Tag ``removed/<tag>`` at the version's commit; returns the marker's name."""
    marker = RemovalMarker.model_validate(
        {"tag": record.tag, "by": repo.git.identity(), "at": now(), **fields}
    )
    repo.git.create_tag(marker_ref(record.tag), encode_marker(marker), record.commit)
    return marker_ref(record.tag)


def remove_local(cache: Path, oids: Iterable[str]) -> tuple[int, int]:
    """Unlink ``oids`` from the cache (read-only files: made writable first), listings first
    so that a half-removed version reads as one whose listing is gone. (count, bytes)."""
    count = freed = 0
    for oid in sorted(oids, key=lambda o: not o.endswith(".dir")):
        path = object_path(cache, oid)
        size = local_size(cache, oid)
        if size is None:
            continue
        os.chmod(path, 0o644)
        path.unlink(missing_ok=True)
        count, freed = count + 1, freed + size
    return count, freed


def remove_remote(store: ObjectStore, oids: Iterable[str], *, dry_run: bool) -> dict[str, int]:
    """Delete from the storage those of ``oids`` it holds (one listing); their sizes."""
    with applied_env(store.env()):
        present = store.sizes()
        there = {o: present[o] for o in sorted(oids) if o in present}
        if there and not dry_run:
            store.delete(list(there))
    return there


def restore_published(
    repo: ModelRepo,
    store: ObjectStore,
    removed: dict[str, int],
    *,
    known: set[str],
    listings: Listings,
) -> tuple[dict[str, int], str | None]:
    """After ``removed`` left the storage: a version another clone published meanwhile (a
    tag not in ``known``) may need some of them, its push having seen them there. Those
    are uploaded again from the local cache (:func:`~cpv.transfer.upload_objects`).
    Returns what was put back ({oid: size}) and a warning naming what could not be (not in
    this cache)."""
    from cpv.ops.pull import _fetch_refs

    if not removed or not repo.git.remote_url(GIT_REMOTE_NAME):
        return {}, None
    try:  # the deletion is done: a failure here is a warning, never a half-finished gc
        _fetch_refs(repo)
        new = [r for r in repo.records() if r.tag not in known]
        wanted: set[str] = set()
        for record in new:
            wanted |= objects_of(repo, record, listings) & removed.keys()
        back = {o: removed[o] for o in wanted if object_path(listings.cache, o).is_file()}
        with applied_env(store.env()):
            upload_objects(store, listings.cache, sorted(back))
    except CpvError as exc:
        return {}, (
            f"could not look again for versions published while this ran ({exc.message}); "
            "`cpv verify --remote --all-versions` after a `cpv pull` tells whether one misses objects"
        )
    lost = len(wanted) - len(back)
    if not lost:
        return back, None
    tags = ", ".join(r.tag for r in new)
    return back, (
        f"{lost} object(s) that {tags} (published by another clone while this ran) need "
        "were deleted and are not in this clone's cache; run `cpv verify --remote --repair` "
        "in the clone that pushed it"
    )


def refuse_unknown(listings: Listings, what: str) -> None:
    """Deleting from the storage without knowing everything a kept version needs could
    delete its bytes: refuse, naming the version."""
    if listings.unknown:
        where = ", ".join(sorted(listings.unknown.values())[:3])
        raise MissingDataError(
            f"cannot tell which objects {where} needs: its listing is in neither the local "
            "cache nor the storage",
            hint=f"Nothing was deleted. Repair it (`cpv verify --remote --repair`), or {what} "
            "without --remote.",
        )


def protected_objects(
    repo: ModelRepo, others: Sequence[VersionRecord], listings: Listings, *, remote: bool
) -> set[str]:
    """Objects ``others`` and every branch tip (HEAD, local branches; with ``remote`` the
    remote-tracking ones too) need."""
    keep: set[str] = set()
    for record in others:
        keep |= objects_of(repo, record, listings)
    for sha in set(branch_tips(repo, remote_tracking=remote).values()):
        keep |= objects_at(repo, sha, listings)
    return keep


def delete(
    path: str | Path = ".",
    *,
    version: str,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    remote: bool = False,
    dry_run: bool = False,
    why: str = "",
) -> DeleteResult:
    """Mark ``version`` removed and remove its objects that no other version needs
    (locally; with ``remote`` on the storage too, after fetching the remote's tags)."""
    repo = ModelRepo.open(path)
    with repo.locked():
        if remote and repo.git.remote_url(GIT_REMOTE_NAME):
            from cpv.ops.pull import _fetch_refs

            _fetch_refs(repo)  # another clone's alias, marker or version counts too
        record = _one(repo, version, kinds)
        _refuse(repo, record)
        known = {r.tag for r in repo.records()}
        markers = removed_markers(repo)
        others = [r for r in repo.records() if r.tag != record.tag and r.tag not in markers]
        store = store_for(repo.root) if remote else None
        listings = Listings(cache_dir(repo.root), store)
        mine = objects_of(repo, record, listings)
        keep = protected_objects(repo, others, listings, remote=remote)
        if remote:
            refuse_unknown(listings, "delete")
        gone = mine - keep
        result = DeleteResult(
            tag=record.tag, remote=remote, dry_run=dry_run, shared_objects=len(mine & keep)
        )
        if store is not None:
            there = remove_remote(store, gone, dry_run=dry_run)
            if not dry_run:  # a version published meanwhile gets back what it needs
                back, result.warning = restore_published(
                    repo, store, there, known=known, listings=listings
                )
                result.restored, gone = len(back), gone - back.keys()
                there = {o: n for o, n in there.items() if o not in back}
            result.objects_remote, result.freed_remote = len(there), sum(there.values())
        if dry_run:
            cached = [s for s in (local_size(listings.cache, o) for o in gone) if s is not None]
            result.objects_local, result.freed_local = len(cached), sum(cached)
            return result
        result.objects_local, result.freed_local = remove_local(listings.cache, gone)
        result.marker = write_marker(
            repo,
            record,
            action="delete",
            remote=remote,
            freed_bytes=max(result.freed_local, result.freed_remote),
            why=why,
        )
        return result


def _one(repo: ModelRepo, text: str, kinds: Sequence[Kind]) -> VersionRecord:
    kind, version = resolve_arg(repo, text, within=kinds, action="delete")
    found = [r for r in repo.records() if r.parsed_version == version and kind in (None, r.kind)]
    found = [r for r in found if r.kind in kinds]
    if not found:
        repo.find(kind or kinds[0], version)  # raises VersionNotFoundError
    if len(found) > 1:
        raise UsageError(
            f"{text} names {' and '.join(r.tag for r in found)}",
            hint=f"Name one: cpv delete {found[0].tag}.",
        )
    return found[0]


def _refuse(repo: ModelRepo, record: VersionRecord) -> None:
    """Refused (nothing changed): already removed, aliased, or what HEAD holds."""
    marker = removed_markers(repo).get(record.tag)
    if marker is not None:
        raise UsageError(
            f"{record.tag} was already removed ({marker.action}) by {marker.by} at {marker.at}",
            hint="Nothing to do.",
        )
    names = aliases_of(repo).get(record.tag)
    if names:
        raise UsageError(
            f"{record.tag} is aliased as {', '.join(sorted(names))}: it cannot be deleted",
            hint=f"Demote it first (`cpv demote {sorted(names)[0]}`), or promote another "
            "version to that alias.",
        )
    head_text = repo.git.show_file("HEAD", repo.pointer_of(record.kind)) or ""
    if repo.git.head_commit() == record.commit or record.content_hash in head_text:
        raise UsageError(
            f"{record.tag} is what HEAD holds: it cannot be deleted",
            hint="Tag a newer version first, or `cpv revert` to another version.",
        )
