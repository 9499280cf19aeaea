"""What still needs bytes: the versions, aliases, markers and branch tips of this clone *and*
of the git remote (:mod:`cpv.core.remote_view`), and the objects a deletion may take.

``gc`` and ``delete`` decide from a :class:`World`: a version or an object is kept when
anything, here or on the remote, needs it. A version this clone made and never published is
its only copy: ``gc`` always keeps it, ``delete`` refuses it without ``--force``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cpv.core import refs
from cpv.core.accounting import Listings, branch_tips, objects_at, objects_of_each
from cpv.core.remote_view import RemoteView
from cpv.core.removal import removed_markers
from cpv.core.repo import ModelRepo
from cpv.core.trims import trim_markers
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import RemovalMarker
from cpv.domain.training_state import TrimMarker
from cpv.domain.versions import Kind


@dataclass
class World:
    """This clone and its remote, merged (see the module docstring)."""

    repo: ModelRepo
    view: RemoteView | None
    records: list[VersionRecord] = field(default_factory=list)
    markers: dict[str, RemovalMarker] = field(default_factory=dict)
    aliased: dict[str, list[str]] = field(default_factory=dict)
    tips: dict[str, str] = field(default_factory=dict)  # label -> commit
    #: trim markers (version tag -> marker), here and on the remote (the remote's first):
    #: only the training-state plan counts them (:mod:`cpv.core.trims`)
    trims: dict[str, TrimMarker] = field(default_factory=dict)
    _tip_pointers: list[tuple[str, Kind, str]] = field(default_factory=list)

    @classmethod
    def of(cls, repo: ModelRepo, view: RemoteView | None) -> World:
        world = cls(repo=repo, view=view)
        local = repo.records()
        seen = {(r.tag, r.commit) for r in local}
        remote = view.records if view else []
        world.records = [*local, *(r for r in remote if (r.tag, r.commit) not in seen)]
        remote_aliased = view.aliased() if view else {}
        world.aliased = _merge(refs.aliases_of(repo), remote_aliased)
        ours = removed_markers(repo)
        theirs = view.markers if view else {}
        # a local, unpublished removal loses to an alias the remote has on that version
        # (`cpv push` withdraws it): its bytes are still needed
        world.markers = {
            **{t: m for t, m in ours.items() if t in theirs or t not in remote_aliased},
            **theirs,
        }
        world.trims = {**trim_markers(repo), **(view.trims if view else {})}
        world.tips = dict(branch_tips(repo))
        for name, sha in (view.heads if view else {}).items():
            world.tips.setdefault(f"remote branch {name}", sha)
        return world

    @property
    def live(self) -> list[VersionRecord]:
        return [r for r in self.records if r.tag not in self.markers]

    @property
    def removed(self) -> list[VersionRecord]:
        return [r for r in self.records if r.tag in self.markers]

    def published(self, record: VersionRecord) -> bool:
        """On the remote under the same name and commit (no remote: never)."""
        if self.view is None:
            return False
        return any(r.tag == record.tag and r.commit == record.commit for r in self.view.records)

    def held_by_tips(self, record: VersionRecord) -> list[str]:
        """The branch tips (and HEAD) whose pointer holds ``record``'s content."""
        if not self._tip_pointers:
            for label, sha in sorted(self.tips.items()):
                for kind in Kind:
                    text = self.repo.git.show_file(sha, self.repo.pointer_of(kind)) or ""
                    self._tip_pointers.append((label, kind, text))
        return [
            label
            for label, kind, text in self._tip_pointers
            if kind is record.kind and record.content_hash and record.content_hash in text
        ]


def _merge(*maps: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in maps:
        for tag, names in m.items():
            out[tag] = sorted({*out.get(tag, []), *names})
    return out


def plan(
    world: World,
    listings: Listings,
    *,
    collect: Sequence[VersionRecord],
    removed_listings: Listings | None = None,
) -> dict[str, str]:
    """Object id -> the version it is removed with: the objects of ``collect`` (and, given
    ``removed_listings``, of versions removed earlier whose objects remain) that no other
    live version and no branch tip needs."""
    repo = world.repo
    keep = _needed(world, listings, besides={(r.tag, r.commit) for r in collect})
    owner: dict[str, str] = {}
    for record, oids in zip(collect, objects_of_each(repo, collect, listings), strict=True):
        for oid in sorted(oids - keep):
            owner.setdefault(oid, record.tag)
    if removed_listings is not None:  # leftovers: their listings may be gone (fine)
        removed = world.removed
        for record, oids in zip(
            removed, objects_of_each(repo, removed, removed_listings), strict=True
        ):
            for oid in sorted(oids - keep):
                owner.setdefault(oid, record.tag)
    return owner


def still_needed(world: World, listings: Listings) -> set[str] | None:
    """Every object a live version or a branch tip needs now; None when some listing is
    nowhere (what it needs is unknown: delete nothing)."""
    keep = _needed(world, listings, besides=set())
    return None if listings.unknown else keep


def _needed(world: World, listings: Listings, *, besides: set[tuple[str, str]]) -> set[str]:
    """The objects every live version (but those ``besides``, as (tag, commit)) and every
    branch tip needs: what a removal keeps."""
    keep: set[str] = set()
    live = [r for r in world.live if (r.tag, r.commit) not in besides]
    for oids in objects_of_each(world.repo, live, listings):
        keep |= oids
    for sha in set(world.tips.values()):
        keep |= objects_at(world.repo, sha, listings)
    return keep
