"""How ``gc`` and ``delete`` remove bytes: decide from this clone *and* the remote
(:class:`cpv.core.liveness.World`), then delete — from the storage under the deletion lease
(:mod:`cpv.core.fence`), markers published first — and from the local cache.

The command supplies ``decide`` (the versions to remove, or a refusal); everything else is
here, so the two commands cannot drift apart. A dry run reads the remote and the storage and
changes nothing: no ref, no marker, no cache file (listings it needs are read into a
scratch folder), no storage object.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cpv.core.accounting import Listings, local_size
from cpv.core.fence import Journal, acquire, delete_under_lease, lease_seconds, now_iso, settle
from cpv.core.liveness import World, plan
from cpv.core.remote_view import RemoteView, has_remote, remote_view
from cpv.core.removal import marker_ref, write_marker
from cpv.core.repo import ModelRepo
from cpv.domain.errors import MissingDataError, PushRejectedError
from cpv.domain.metadata import VersionRecord
from cpv.objects.layout import cache_dir, object_path
from cpv.objects.store import ObjectStore
from cpv.objects.transfer import store_for
from cpv.settings.config import lock_timeout
from cpv.settings.credentials import applied_env

_ATTEMPTS = 5


@dataclass
class Removal:
    """What is asked: ``action`` (``gc`` or ``delete``), the reason recorded in markers."""

    action: str
    why: str = ""
    remote: bool = False
    dry_run: bool = False
    #: versions never published are removed too (their only copy: a local marker says so,
    #: published with the version by the next push) instead of kept or refused
    include_unpublished: bool = False


@dataclass
class RemovalDone:
    cache: Path
    collected: list[str] = field(default_factory=list)  # version tags removed
    owner: dict[str, str] = field(default_factory=dict)  # object -> version removed with
    there: dict[str, int] = field(default_factory=dict)  # storage objects deleted: sizes
    objects_local: int = 0
    freed_local: int = 0
    markers: list[str] = field(default_factory=list)
    unpublished: set[str] = field(default_factory=set)  # removed versions never published
    unpushed: list[str] = field(default_factory=list)  # never-pushed versions removed
    local_bytes: dict[str, int] = field(default_factory=dict)  # version -> cache bytes it frees
    warning: str | None = None


def run_removal(
    repo: ModelRepo, removal: Removal, decide: Callable[[World], list[VersionRecord]]
) -> RemovalDone:
    """Remove what ``decide`` picks (see the module docstring); the caller holds the lock.

    Raises:
        MissingDataError: (remote) what a kept version needs cannot be known.
        DeletionInProgressError, PushRejectedError, StorageError, RemoteError.
    """
    store = store_for(repo.root) if removal.remote else None
    with tempfile.TemporaryDirectory(prefix="cpv-gc-") as scratch:
        for _attempt in range(_ATTEMPTS):
            with _view(repo) as view:
                if view is not None and view.journal and not removal.dry_run:
                    settle(repo, view.url, store=store, wait=lock_timeout())
                    continue
                taken = _plan_and_take(repo, removal, decide, view, store, Path(scratch))
                if taken is None:
                    continue  # someone published meanwhile: read the remote again
            done, lease = taken
            if removal.dry_run:
                return done
            if store is not None and lease is not None:
                started = time.monotonic()
                with applied_env(store.env()):
                    _, done.warning = delete_under_lease(
                        repo, store, sha=lease[0], journal=lease[1], started=started
                    )
            elif store is not None and done.there:  # no git remote: nobody to coordinate with
                with applied_env(store.env()):
                    store.delete(sorted(done.there))
            done.objects_local, done.freed_local = remove_local(done.cache, done.owner)
            _finish_local(repo, removal, done)
            return done
    raise PushRejectedError(
        "the git remote kept changing while planning the removal",
        hint="Others are publishing right now: run the command again.",
    )


@contextmanager
def _view(repo: ModelRepo) -> Iterator[RemoteView | None]:
    if not has_remote(repo):
        yield None
        return
    with remote_view(repo) as view:
        yield view


def _plan_and_take(
    repo: ModelRepo,
    removal: Removal,
    decide: Callable[[World], list[VersionRecord]],
    view: RemoteView | None,
    store: ObjectStore | None,
    scratch: Path,
) -> tuple[RemovalDone, tuple[str, Journal] | None] | None:
    """Plan from ``view``; for a remote removal, publish the markers and take the lease
    (returned: the journal's sha and the journal). None when the lease could not be taken
    because the remote moved."""
    world = World.of(repo, view)
    collect = decide(world)
    cache = cache_dir(repo.root)
    into = scratch if removal.dry_run else None
    listings = Listings(cache, store, into=into)
    leftovers = Listings(cache, store, into=into)
    owner = plan(world, listings, collect=collect, removed_listings=leftovers)
    if removal.remote:
        refuse_unknown(listings, removal.action)
    done = RemovalDone(cache=cache, collected=[r.tag for r in collect], owner=owner)
    done.unpublished = {r.tag for r in collect if not world.published(r)}
    for oid, tag in owner.items():
        done.local_bytes[tag] = done.local_bytes.get(tag, 0) + (local_size(cache, oid) or 0)
    if store is not None:
        with applied_env(store.env()):
            present = store.sizes()
        done.there = {o: present[o] for o in sorted(owner) if o in present}
    if removal.dry_run:
        cached = [s for s in (local_size(cache, o) for o in owner) if s is not None]
        done.objects_local, done.freed_local = len(cached), sum(cached)
        return done, None
    if store is None or view is None:
        return done, None
    made = _write_markers(repo, removal, world, collect, done)
    unpublished = [
        marker_ref(r.tag)
        for r in world.removed
        if r.tag not in view.markers and world.published(r) and r.tag in owner.values()
    ]
    journal = Journal(
        action=removal.action,
        by=repo.git.identity(),
        at=now_iso(),
        lease_seconds=lease_seconds(),
        storage=store.url,
        objects=sorted(done.there),
        markers=[*made, *unpublished],
    )
    try:
        sha = acquire(repo, fence=view.fence, journal=journal, tags=journal.markers)
    except PushRejectedError:
        for name in made:
            repo.git.delete_tag(name)
        return None
    done.markers = made
    return done, (sha, journal)


def _write_markers(
    repo: ModelRepo,
    removal: Removal,
    world: World,
    collect: list[VersionRecord],
    done: RemovalDone,
) -> list[str]:
    """Markers for the published versions removed (remote removal: published with the
    lease, before any byte is deleted)."""
    made = []
    for record in collect:
        if not world.published(record):
            continue
        freed = sum(n for o, n in done.there.items() if done.owner[o] == record.tag)
        made.append(
            write_marker(
                repo,
                record,
                action=removal.action,
                remote=True,
                freed_bytes=freed,
                why=removal.why,
            )
        )
    return made


def _finish_local(repo: ModelRepo, removal: Removal, done: RemovalDone) -> None:
    """After the bytes went: a local ``delete`` writes its marker (``cpv push`` publishes
    it). A version never published whose only copy went gets a local marker too, which the
    next push publishes with the version: its record stays, and it never blocks a push."""
    records = {r.tag: r for r in repo.records()}
    for tag in done.collected:
        record = records.get(tag)
        never_pushed = removal.include_unpublished and tag in done.unpublished
        if record is None or not (
            never_pushed or (removal.action == "delete" and not removal.remote)
        ):
            continue
        if never_pushed:
            done.unpushed.append(tag)
        why = f"{removal.why} (never pushed)" if never_pushed else removal.why
        done.markers.append(
            write_marker(
                repo,
                record,
                action=removal.action,
                remote=False,
                freed_bytes=done.local_bytes.get(tag, 0),
                why=why.strip(),
            )
        )


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
