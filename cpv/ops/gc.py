"""``cpv gc``: free the bytes of versions a retention policy no longer keeps.

The policy (``--keep-last N``, ``--keep-days D``, default ``retention:`` in ``cpv.yaml``)
keeps, **per kind**, the last N versions and those made in the last D days (both given:
a version either rule keeps is kept). Always kept, whatever the policy: a version an alias
points at, ``best`` (when ``cpv.yaml`` declares it), the latest version of each kind, and
the versions HEAD and each local branch tip hold; and every object any of these (or any
branch tip's pointer) needs, so a collected version's shared files stay.

Local gc removes objects from the local cache only and writes no marker: the storage still
has them, and ``cpv pull VERSION`` brings them back. With ``remote`` the remote's tags
and aliases are fetched first (another clone's alias protects its version), the storage's
copies go too, and each collected version gets a ``removed/...`` marker (see
:mod:`cpv.ops.delete`) that ``cpv push`` publishes. Versions already marked removed are
neither kept nor collected again. The repository lock is held throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cpv.config import GIT_REMOTE_NAME
from cpv.errors import UsageError
from cpv.metadata import VersionRecord
from cpv.objects import cache_dir
from cpv.ops.delete import (
    protected_objects,
    refuse_unknown,
    remove_local,
    remove_remote,
    removed_markers,
    restore_published,
    write_marker,
)
from cpv.ops.du import Listings, branch_tips, local_size, objects_of
from cpv.refs import aliases_of, best
from cpv.repo import ModelRepo
from cpv.results import CollectedVersion, GcResult, KeptVersion
from cpv.storage import ObjectStore
from cpv.transfer import store_for
from cpv.versions import Kind


def gc(
    path: str | Path = ".",
    *,
    keep_last: int | None = None,
    keep_days: int | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    remote: bool = False,
    dry_run: bool = False,
) -> GcResult:
    """Collect the versions of ``kinds`` the policy does not keep (see the module docstring).

    Raises:
        UsageError: no policy given nor configured, or a negative value.
        MissingDataError: (``remote``) a kept version's listing is nowhere, so what it needs
            is unknown: nothing is deleted.
        StorageError, RemoteError, LockTimeoutError.
    """
    repo = ModelRepo.open(path)
    keep_last, keep_days = _policy(repo, keep_last, keep_days)
    with repo.locked():
        if remote and repo.git.remote_url(GIT_REMOTE_NAME):
            from cpv.ops.pull import _fetch_refs

            _fetch_refs(repo)
        markers = removed_markers(repo)
        known = {r.tag for r in repo.records()}
        live = [r for r in repo.records() if r.tag not in markers]
        reasons = kept_reasons(repo, live, keep_last=keep_last, keep_days=keep_days, kinds=kinds)
        collected = [r for r in live if r.tag not in reasons]
        result = GcResult(keep_last=keep_last, keep_days=keep_days, remote=remote, dry_run=dry_run)
        result.kept = [KeptVersion(tag=t, reasons=why) for t, why in reasons.items()]
        if not collected:
            return result
        store = store_for(repo.root) if remote else None
        listings = Listings(cache_dir(repo.root), store)
        kept = [r for r in live if r.tag in reasons]
        keep = protected_objects(repo, kept, listings, remote=remote)
        owner = _owners(repo, collected, listings, keep)
        if remote:
            refuse_unknown(listings, "gc")
        _account(result, collected, owner, listings.cache)
        if store is not None:
            _collect_remote(repo, store, owner, result, known=known, listings=listings)
        if dry_run:
            return result
        result.objects_local, result.freed_local = remove_local(listings.cache, owner)
        if remote:
            result.markers = _mark(repo, collected, result)
        return result


def _collect_remote(
    repo: ModelRepo,
    store: ObjectStore,
    owner: dict[str, str],
    result: GcResult,
    *,
    known: set[str],
    listings: Listings,
) -> None:
    """Delete the collected objects from the storage; put back any a version published
    meanwhile needs (:func:`restore_published`), and keep those in the local cache too."""
    there = remove_remote(store, owner, dry_run=result.dry_run)
    if not result.dry_run:
        back, result.warning = restore_published(repo, store, there, known=known, listings=listings)
        result.restored = len(back)
        for oid in back:
            del there[oid], owner[oid]
    result.objects_remote, result.freed_remote = len(there), sum(there.values())
    per = {c.tag: c for c in result.collected}
    for oid, size in there.items():
        per[owner[oid]].remote_bytes += size


def _policy(
    repo: ModelRepo, keep_last: int | None, keep_days: int | None
) -> tuple[int | None, int | None]:
    if keep_last is None and keep_days is None and repo.config.retention is not None:
        keep_last, keep_days = repo.config.retention.keep_last, repo.config.retention.keep_days
    if keep_last is None and keep_days is None:
        raise UsageError(
            "no retention policy: say what to keep",
            hint="Pass --keep-last N and/or --keep-days D, or add `retention: {keep_last: 5}` "
            "to cpv.yaml.",
        )
    if (keep_last is not None and keep_last < 1) or (keep_days is not None and keep_days < 0):
        raise UsageError(
            "--keep-last must be at least 1 and --keep-days at least 0",
            hint="The latest version of each kind is always kept.",
        )
    return keep_last, keep_days


def kept_reasons(
    repo: ModelRepo,
    live: Sequence[VersionRecord],
    *,
    keep_last: int | None,
    keep_days: int | None,
    kinds: Sequence[Kind],
) -> dict[str, list[str]]:
    """Version tag -> why it is kept, for every live version kept (versions of kinds outside
    ``kinds`` are kept as ``other kind``)."""
    reasons: dict[str, list[str]] = {}

    def keep(record: VersionRecord, why: str) -> None:
        reasons.setdefault(record.tag, []).append(why)

    aliased = aliases_of(repo)
    tips = branch_tips(repo)
    held = [
        (kind, text, name)
        for name, sha in tips.items()
        for kind in Kind
        if (text := repo.git.show_file(sha, repo.pointer_of(kind)))
    ]
    cutoff = datetime.now(timezone.utc) - timedelta(days=keep_days or 0)
    for record in live:
        for name in sorted(aliased.get(record.tag, [])):
            keep(record, f"alias {name}")
    for kind in Kind:
        mine = [r for r in live if r.kind is kind]
        if not mine:
            continue
        if repo.config.best is not None:
            top = best(mine, metric=repo.config.best.metric, mode=repo.config.best.mode)
            if top is not None:
                keep(top, "best")
        keep(mine[-1], "latest")
        for record in mine:
            for k, text, name in held:
                if k is kind and record.content_hash in text:
                    keep(record, name)
            if kind not in kinds:
                keep(record, "other kind")
        for record in mine[-keep_last:] if keep_last else []:
            keep(record, "keep-last")
        for record in mine if keep_days is not None else []:
            if _made(record) >= cutoff:
                keep(record, "keep-days")
    return {r.tag: reasons[r.tag] for r in live if r.tag in reasons}


def _made(record: VersionRecord) -> datetime:
    made = record.timestamp
    return made if made.tzinfo else made.replace(tzinfo=timezone.utc)


def _owners(
    repo: ModelRepo, collected: Sequence[VersionRecord], listings: Listings, keep: set[str]
) -> dict[str, str]:
    """Object id -> the oldest collected version needing it, for objects no kept version
    (nor branch tip) needs: what gc removes."""
    owner: dict[str, str] = {}
    for record in collected:
        for oid in sorted(objects_of(repo, record, listings) - keep):
            owner.setdefault(oid, record.tag)
    return owner


def _account(
    result: GcResult, collected: Sequence[VersionRecord], owner: dict[str, str], cache: Path
) -> None:
    per = {r.tag: CollectedVersion(tag=r.tag) for r in collected}
    for oid, tag in owner.items():
        per[tag].local_bytes += local_size(cache, oid) or 0
    result.collected = list(per.values())
    present = [s for s in (local_size(cache, o) for o in owner) if s is not None]
    result.objects_local, result.freed_local = len(present), sum(present)


def _mark(repo: ModelRepo, collected: Sequence[VersionRecord], result: GcResult) -> list[str]:
    per = {c.tag: c for c in result.collected}
    why = " ".join(
        part
        for part in (
            f"keep-last {result.keep_last}" if result.keep_last else "",
            f"keep-days {result.keep_days}" if result.keep_days is not None else "",
        )
        if part
    )
    return [
        write_marker(
            repo,
            record,
            action="gc",
            remote=True,
            freed_bytes=per[record.tag].remote_bytes or per[record.tag].local_bytes,
            why=f"gc: {why}",
        )
        for record in collected
    ]
