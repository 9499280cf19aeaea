"""The training-state rule planned: which model versions would drop their optimizer,
scheduler and RNG files (``retention: training_state:`` in ``cpv.yaml``, see
:mod:`cpv.settings.training_state`), and which objects that would free.

A version keeps its training state when it is among the latest N live model versions, when
an alias names it (here or on the git remote), when it is ``best`` or ``latest``, when HEAD
or a branch tip (here or on the remote) holds it, or when it was never published. A file
the rule drops frees its object only when no live version (with the dropped files left out
of the versions that drop them) and no branch tip needs those bytes: an ``optimizer.pt``
identical to a kept version's stays. Versions ``gc`` collects whole are not planned here,
and they still count as needing their objects, so the bytes reported are on top of what
the collection frees.

This is a plan: nothing here deletes, writes a ref or changes the cache (listings missing
locally are read through the caller's :class:`cpv.core.accounting.Listings`, which a dry run
points at a scratch folder).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from cpv._dvc import repo as _dvc
from cpv.core.accounting import Listings, local_size, objects_at, objects_of
from cpv.core.liveness import World
from cpv.core.refs import best
from cpv.core.repo import ModelRepo
from cpv.core.trims import honoured
from cpv.domain.errors import CpvError
from cpv.domain.metadata import VersionRecord
from cpv.domain.oids import listing_entries
from cpv.domain.training_state import StateDrop, StateKept, TrainingStatePlan
from cpv.domain.versions import Kind
from cpv.objects.compact import COMPACT_DIR
from cpv.objects.layout import cache_dir
from cpv.objects.pointers import Pointer, pointers_at
from cpv.objects.store import ObjectStore, store_for
from cpv.settings.credentials import applied_env
from cpv.settings.training_state import TrainingStateRule


def state_kept(world: World, rule: TrainingStateRule) -> dict[str, list[str]]:
    """Model version tag -> why it keeps its training state (only those that do)."""
    repo = world.repo
    mine = [r for r in world.live if r.kind is Kind.MODEL]
    reasons: dict[str, list[str]] = {}

    def keep(record: VersionRecord, why: str) -> None:
        if why not in reasons.setdefault(record.tag, []):
            reasons[record.tag].append(why)

    for record in mine:
        for name in world.aliased.get(record.tag, []):
            keep(record, f"alias {name}")
        for label in world.held_by_tips(record):
            keep(record, label)
        if not world.published(record):
            keep(record, "unpublished")
    if mine:
        if repo.config.best is not None:
            top = best(mine, metric=repo.config.best.metric, mode=repo.config.best.mode)
            if top is not None:
                keep(top, "best")
        keep(mine[-1], "latest")
    for record in mine[-rule.keep_last :]:
        keep(record, "keep-last")
    return {r.tag: reasons[r.tag] for r in mine if r.tag in reasons}


def plan_training_state(
    world: World,
    rule: TrainingStateRule,
    listings: Listings,
    *,
    collected: set[str],
    size_of: Callable[[str], int | None],
) -> TrainingStatePlan:
    """The rule's plan (see the module docstring); ``collected``: the tags gc removes whole;
    ``size_of``: an object's bytes (None: unknown, counted 0).

    Raises:
        InvalidObjectIdError: a pointer or listing names something that is not an object.
    """
    kept = state_kept(world, rule)
    plan = TrainingStatePlan(
        keep_last=rule.keep_last,
        files=list(rule.files),
        kept=[StateKept(tag=t, reasons=why) for t, why in kept.items()],
    )
    trimmed = _trimmed(world, listings)
    plan.trimmed = sorted(trimmed)
    candidates = [
        r for r in world.live if r.kind is Kind.MODEL and r.tag not in {*kept, *collected, *trimmed}
    ]
    drops: dict[str, list[tuple[str, str]]] = {}  # tag -> (md5, relpath) dropped
    needed = {md5 for md5s in trimmed.values() for md5 in md5s}
    for record in candidates:
        entries = _entries(world.repo, record, listings)
        gone = [(md5, rel) for md5, rel in entries if _is_state(rule, rel)]
        if gone:
            drops[record.tag] = gone
        needed |= {md5 for md5, rel in entries if not _is_state(rule, rel)}
    for record in world.live:
        if record.tag not in drops and record.tag not in trimmed:
            needed |= objects_of(world.repo, record, listings)
    for sha in set(world.tips.values()):
        needed |= objects_at(world.repo, sha, listings)
    if listings.unknown:
        plan.unknown = sorted(set(listings.unknown.values()))
        return plan
    freed: set[str] = set()
    for tag, gone in drops.items():
        drop = StateDrop(tag=tag, files=[rel for _, rel in gone])
        for md5, rel in gone:
            if md5 in needed:
                drop.shared.append(rel)
            elif md5 not in freed:
                freed.add(md5)
                drop.objects += 1
                drop.freed_bytes += size_of(md5) or 0
        plan.dropped.append(drop)
    plan.objects = sum(d.objects for d in plan.dropped)
    plan.freed_bytes = sum(d.freed_bytes for d in plan.dropped)
    return plan


def _is_state(rule: TrainingStateRule, relpath: str) -> bool:
    """A file the rule drops: never a compact version's recipe or segment (a checkpoint
    file cut at its tensors is planned by nothing yet: its segments are shared)."""
    return not relpath.startswith(f"{COMPACT_DIR}/") and rule.matches(relpath)


def _trimmed(world: World, listings: Listings) -> dict[str, set[str]]:
    """Version tag -> the objects it still needs, for each live version whose trim marker
    (here or on the remote) agrees with its listing (:func:`cpv.core.trims.honoured`)."""
    out: dict[str, set[str]] = {}
    for record in world.live:
        marker = world.trims.get(record.tag)
        if marker is None:
            continue
        entries = _entries(world.repo, record, listings)
        if honoured(marker, record, entries):
            dropped = set(marker.files)
            out[record.tag] = {md5 for md5, rel in entries if rel not in dropped}
    return out


def _entries(repo: ModelRepo, record: VersionRecord, listings: Listings) -> list[tuple[str, str]]:
    """(md5, relpath) of each file of ``record``'s folder ([] for a single-file version,
    whose one file is its weights, and for a listing found nowhere: ``listings.unknown``)."""
    pointers = pointers_at(
        repo.root, record.commit, label=record.tag, only=[repo.pointer_of(record.kind)]
    )
    out: list[tuple[str, str]] = []
    for p in pointers:
        oid = _dvc.parse_pointer(p.text, where=p.where).hash
        if oid.endswith(".dir"):
            out += listing_entries(listings(oid, p), where=f"{p.where} ({oid})")
    return out


def plan_for_gc(world: World, rule: TrainingStateRule, *, collected: set[str]) -> TrainingStatePlan:
    """:func:`plan_training_state` as ``cpv gc`` runs it: listings missing locally are read
    from the model's storage into a scratch folder (deleted after), sizes from the cache or
    the storage's listing. A storage that cannot be reached leaves those listings unknown
    (the plan then drops nothing)."""
    repo = world.repo
    cache = cache_dir(repo.root)
    try:
        store: ObjectStore | None = store_for(repo.root)
    except CpvError:
        store = None
    listed: list[dict[str, int]] = []

    def size_of(oid: str) -> int | None:
        local = local_size(cache, oid)
        if local is not None or store is None:
            return local
        if not listed:
            try:
                listed.append(store.sizes())
            except CpvError:
                listed.append({})
        return listed[0].get(oid)

    with tempfile.TemporaryDirectory(prefix="cpv-state-") as scratch:
        listings = _Guarded(cache, store, into=Path(scratch))
        with applied_env(store.env() if store is not None else {}):
            return plan_training_state(world, rule, listings, collected=collected, size_of=size_of)


class _Guarded(Listings):
    """Listings whose storage failing (no credentials, unreachable) makes the listing
    unknown rather than failing the command."""

    def __call__(self, oid: str, p: Pointer) -> list[dict[str, str]]:
        try:
            return super().__call__(oid, p)
        except CpvError:
            self.unknown.setdefault(oid, f"{p.label}: {p.out}/")
            return []
