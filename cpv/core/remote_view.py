"""What the git remote holds right now: every branch, version, alias move, removal and trim
marker, and the deletion protocol's refs (:mod:`cpv.core.fence`), read into a private namespace.

Commands that delete bytes decide from this view, never from the local clone's, and the
view is read *after* the fence value it carries (``ls-remote`` first, then the fetch): a
publication landing in between moves the fence, so a deletion planned on a stale view
fails its compare-and-swap and plans again. The private refs (``refs/cpv/view/<nonce>/…``)
are deleted when the view is closed: reading the remote changes no ref of the clone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cpv._git import repo as _git
from cpv.core import refs
from cpv.core.refs import AliasMove
from cpv.core.removal import REMOVED_PREFIX, markers_of
from cpv.core.repo import ModelRepo, records_of
from cpv.core.trims import TRIMMED_PREFIX, trims_of
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import RemovalMarker
from cpv.domain.training_state import TrimMarker
from cpv.domain.versions import Kind
from cpv.settings.config import GIT_REMOTE_NAME

FENCE_REF = "refs/cpv/fence"
GC_REF = "refs/cpv/gc"
_VIEW_NS = "refs/cpv/view"


@dataclass
class RemoteView:
    """The remote's refs at one moment (see the module docstring)."""

    url: str
    listing: dict[str, str]  # refname -> sha, as ls-remote printed it
    records: list[VersionRecord] = field(default_factory=list)
    markers: dict[str, RemovalMarker] = field(default_factory=dict)
    moves: list[AliasMove] = field(default_factory=list)
    heads: dict[str, str] = field(default_factory=dict)  # branch name -> commit
    trims: dict[str, TrimMarker] = field(default_factory=dict)  # version tag -> its marker

    @property
    def fence(self) -> str:
        """The fence's sha ("" when the remote has none yet)."""
        return self.listing.get(FENCE_REF, "")

    @property
    def journal(self) -> str:
        """The sha of the running deletion's journal ("" when none runs)."""
        return self.listing.get(GC_REF, "")

    @property
    def version_tags(self) -> set[str]:
        return {r.tag for r in self.records}

    def aliased(self) -> dict[str, list[str]]:
        """Version tag -> the aliases pointing at it now, on the remote."""
        current: dict[str, AliasMove] = {}
        for move in sorted(self.moves, key=lambda m: (m.alias, m.number)):
            current[move.alias] = move
        out: dict[str, list[str]] = {}
        for name, move in current.items():
            if move.tag:
                out.setdefault(move.tag, []).append(name)
        return out


def has_remote(repo: ModelRepo) -> bool:
    return bool(repo.git.remote_url(GIT_REMOTE_NAME))


@contextmanager
def remote_view(repo: ModelRepo) -> Iterator[RemoteView]:
    """Read the remote (one ``ls-remote``, one fetch into a private namespace, deleted on
    exit). The objects stay in the clone's object database, so the view's commits can be
    read while it is open.

    Raises:
        RemoteError: no remote, or it cannot be read (a deletion never guesses).
    """
    url = repo.git.remote_url(GIT_REMOTE_NAME) or ""
    listing = _git.ls_remote(url)  # first: the fence value the plan will be checked against
    ns = f"{_VIEW_NS}/{os.getpid()}-{uuid.uuid4().hex[:8]}"
    specs = [f"+refs/heads/*:{ns}/heads/*", f"+refs/tags/*:{ns}/tags/*"]
    if GC_REF in listing:
        specs.append(f"+{GC_REF}:{ns}/gc")
    try:
        repo.git.fetch(GIT_REMOTE_NAME, *specs, fetch_head=False)
        view = RemoteView(url=url, listing=listing)
        tags = f"{ns}/tags"
        view.records, _ = records_of(
            repo.git.list_tags(Kind.MODEL.value, Kind.DATA.value, namespace=tags)
        )
        view.markers = markers_of(repo.git.list_tags(REMOVED_PREFIX, namespace=tags))
        view.trims = trims_of(repo.git.list_tags(TRIMMED_PREFIX, namespace=tags))
        view.moves = refs.moves_of(repo.git.list_tags(refs.ALIAS_PREFIX, namespace=tags))
        view.heads = _heads(repo, f"{ns}/heads")
        yield view
    finally:
        repo.git.delete_refs_under(ns)


def _heads(repo: ModelRepo, namespace: str) -> dict[str, str]:
    out = repo.git.run("for-each-ref", "--format=%(refname)%00%(objectname)", namespace)
    heads = {}
    for line in out.splitlines():
        name, _, sha = line.partition("\x00")
        if sha:
            heads[name[len(namespace) + 1 :]] = sha
    return heads
