"""``cpv delete``: remove one version's bytes on purpose, leaving a removal marker
(:mod:`cpv.core.removal`) so that it is removed for everyone.

``delete`` removes the objects no other version (and no branch tip) needs — here or on the
git remote, read afresh (:class:`cpv.core.liveness.World`): from the local cache, and with
``remote`` from the storage, under the deletion lease (:mod:`cpv.core.fence`). It is refused
while an alias (here or on the remote) points at the version, for the version HEAD or any
branch tip holds, and for a version never published (this clone's copy is its only one)
unless ``force`` (its record stays, with a local marker the next push publishes with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cpv.core.accounting import Listings, objects_of
from cpv.core.liveness import World
from cpv.core.refs import resolve_arg
from cpv.core.removal import (  # noqa: F401  (re-exported: markers used to live here)
    REMOVED_PREFIX,
    decode_marker,
    encode_marker,
    marker_ref,
    removed_markers,
    write_marker,
)
from cpv.core.removal_run import Removal, run_removal
from cpv.core.repo import ModelRepo
from cpv.domain.errors import UsageError
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import DeleteResult
from cpv.domain.versions import Kind
from cpv.objects.layout import cache_dir


def delete(
    path: str | Path = ".",
    *,
    version: str,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    remote: bool = False,
    dry_run: bool = False,
    why: str = "",
    force: bool = False,
) -> DeleteResult:
    """Mark ``version`` removed and remove its objects that nothing else needs (see the
    module docstring).

    Raises:
        UsageError: refused (aliased, held by a branch, already removed, unpublished
            without ``force``, ambiguous).
        VersionNotFoundError, DeletionInProgressError, MissingDataError, StorageError,
        RemoteError, LockTimeoutError.
    """
    repo = ModelRepo.open(path)
    chosen: list[VersionRecord] = []
    mine: set[str] = set()

    def decide(world: World) -> list[VersionRecord]:
        record = _one(repo, world, version, kinds)
        _refuse(world, record, force=force)
        chosen[:] = [record]
        mine.update(objects_of(repo, record, Listings(cache_dir(repo.root))))
        return [record]

    removal = Removal(
        action="delete", why=why, remote=remote, dry_run=dry_run, include_unpublished=force
    )
    with repo.locked():
        done = run_removal(repo, removal, decide)
    record = chosen[0]
    result = DeleteResult(tag=record.tag, remote=remote, dry_run=dry_run)
    result.shared_objects = len(mine - done.owner.keys())
    result.objects_local, result.freed_local = done.objects_local, done.freed_local
    result.objects_remote, result.freed_remote = len(done.there), sum(done.there.values())
    result.marker = done.markers[0] if done.markers else None
    result.unpushed = bool(done.unpushed)
    result.warning = done.warning
    return result


def _one(repo: ModelRepo, world: World, text: str, kinds: Sequence[Kind]) -> VersionRecord:
    kind, version = resolve_arg(repo, text, within=kinds, action="delete")
    found = [
        r
        for r in world.records
        if r.parsed_version == version and kind in (None, r.kind) and r.kind in kinds
    ]
    found = list({r.tag: r for r in found}.values())  # this clone's record first
    if not found:
        repo.find(kind or kinds[0], version)  # raises VersionNotFoundError
    if len(found) > 1:
        raise UsageError(
            f"{text} names {' and '.join(r.tag for r in found)}",
            hint=f"Name one: cpv delete {found[0].tag}.",
        )
    return found[0]


def _refuse(world: World, record: VersionRecord, *, force: bool) -> None:
    """Refused (nothing changed): already removed, aliased (here or on the remote), held by
    HEAD or a branch tip (here or on the remote), or never published (without ``force``)."""
    marker = world.markers.get(record.tag)
    if marker is not None:
        raise UsageError(
            f"{record.tag} was already removed ({marker.action}) by {marker.by} at {marker.at}",
            hint="Nothing to do.",
        )
    names = world.aliased.get(record.tag)
    if names:
        raise UsageError(
            f"{record.tag} is aliased as {', '.join(sorted(names))}: it cannot be deleted",
            hint=f"Demote it first (`cpv demote {sorted(names)[0]}`), or promote another "
            "version to that alias.",
        )
    held = world.held_by_tips(record)
    if held:
        what = "HEAD" if "head" in held else ", ".join(held)
        raise UsageError(
            f"{record.tag} is what {what} holds: it cannot be deleted",
            hint="Tag a newer version first, or `cpv revert` to another version.",
        )
    if not force and not world.published(record):
        where = "the git remote" if world.view is not None else "any git remote (none is set)"
        raise UsageError(
            f"{record.tag} was never published to {where}: this clone's copy is its only one",
            hint="Publish it first (`cpv push`), or pass --force to remove its bytes for good.",
        )
