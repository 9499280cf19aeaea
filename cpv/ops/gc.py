"""``cpv gc``: free the bytes of versions a retention policy no longer keeps.

The policy (``--keep-last N``, ``--keep-days D``, default ``retention:`` in ``cpv.yaml``)
keeps, **per kind**, the last N versions and those made in the last D days (both given:
a version either rule keeps is kept). Always kept, whatever the policy, here *or on the git
remote* (read afresh: :mod:`cpv.core.remote_view`): a version an alias points at, ``best`` (when
``cpv.yaml`` declares it), the latest version of each kind, the versions HEAD and every
branch tip hold (this clone's and the remote's), and a version never published (this
clone's is its only copy); and every object any of these needs, so a collected version's
shared files stay.

Local gc removes objects from the local cache only and writes no marker: the storage still
has them, and ``cpv pull VERSION`` brings them back. With ``remote`` the storage's copies go
too, under the deletion lease (:mod:`cpv.core.fence`): each collected version's ``removed/...``
marker is published *before* any byte is deleted, and objects that versions removed earlier
left in the storage are swept as well. ``dry_run`` changes nothing anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cpv.core.liveness import World
from cpv.core.refs import best
from cpv.core.removal_run import Removal, run_removal
from cpv.core.repo import ModelRepo
from cpv.core.training_state import plan_for_gc
from cpv.domain.errors import UsageError
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import CollectedVersion, GcResult, KeptVersion
from cpv.domain.versions import Kind
from cpv.notify.announce import announces


@announces("gc")
def gc(
    path: str | Path = ".",
    *,
    keep_last: int | None = None,
    keep_days: int | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    remote: bool = False,
    dry_run: bool = False,
    force: bool = False,
) -> GcResult:
    """Collect the versions of ``kinds`` the policy does not keep (see the module docstring).
    ``force``: versions never published are not kept for that reason; those collected are
    removed too, each with a local marker the next push publishes with it: what a training
    loop's ``keep_last`` without push asks.

    Raises:
        UsageError: no policy given nor configured, or a negative value.
        MissingDataError: (``remote``) a kept version's listing is nowhere, so what it needs
            is unknown: nothing is deleted.
        DeletionInProgressError: another clone's deletion holds the lease.
        StorageError, RemoteError, LockTimeoutError.
    """
    repo = ModelRepo.open(path)
    keep_last, keep_days = _policy(repo, keep_last, keep_days)
    result = GcResult(keep_last=keep_last, keep_days=keep_days, remote=remote, dry_run=dry_run)
    rule = repo.config.retention.training_state if repo.config.retention else None

    def decide(world: World) -> list[VersionRecord]:
        collect: list[VersionRecord] = []
        if keep_last is not None or keep_days is not None:
            reasons = kept_reasons(
                world, keep_last=keep_last, keep_days=keep_days, kinds=kinds, unpublished=not force
            )
            result.kept = [KeptVersion(tag=t, reasons=why) for t, why in reasons.items()]
            collect = [r for r in world.live if r.tag not in reasons]
        if rule is not None and Kind.MODEL in kinds:
            result.training_state = plan_for_gc(world, rule, collected={r.tag for r in collect})
        return collect

    rules = {"keep-last": keep_last or None, "keep-days": keep_days}
    why = "gc: " + " ".join(f"{k} {v}" for k, v in rules.items() if v is not None)
    removal = Removal(
        action="gc", why=why, remote=remote, dry_run=dry_run, include_unpublished=force
    )
    with repo.locked():
        done = run_removal(repo, removal, decide)
    per = {
        t: CollectedVersion(tag=t, local_bytes=done.local_bytes.get(t, 0)) for t in done.collected
    }
    for oid, size in done.there.items():
        tag = done.owner[oid]
        if tag in per:
            per[tag].remote_bytes += size
    result.collected = list(per.values())
    result.objects_local, result.freed_local = done.objects_local, done.freed_local
    result.objects_remote, result.freed_remote = len(done.there), sum(done.there.values())
    result.markers = done.markers
    result.unpushed = done.unpushed
    result.warning = done.warning
    return result


#: The most days ``--keep-days`` (or ``retention: keep_days``) may say: a century (a date
#: further back than datetime can hold was an unexpected OverflowError).
_DAYS_MAX = 36500


def _policy(
    repo: ModelRepo, keep_last: int | None, keep_days: int | None
) -> tuple[int | None, int | None]:
    if keep_last is None and keep_days is None and repo.config.retention is not None:
        keep_last, keep_days = repo.config.retention.keep_last, repo.config.retention.keep_days
    has_state_rule = repo.config.retention is not None and repo.config.retention.training_state
    if keep_last is None and keep_days is None and not has_state_rule:
        raise UsageError(
            "no retention policy: say what to keep",
            hint="Pass --keep-last N and/or --keep-days D, or add `retention: {keep_last: 5}` "
            "to cpv.yaml.",
        )
    if (keep_last is not None and keep_last < 1) or (
        keep_days is not None and not 0 <= keep_days <= _DAYS_MAX
    ):
        raise UsageError(
            f"--keep-last must be at least 1 and --keep-days from 0 to {_DAYS_MAX}",
            hint="The latest version of each kind is always kept.",
        )
    return keep_last, keep_days


def kept_reasons(
    world: World,
    *,
    keep_last: int | None,
    keep_days: int | None,
    kinds: Sequence[Kind],
    unpublished: bool = True,
) -> dict[str, list[str]]:
    """Version tag -> why it is kept, for every live version kept (versions of kinds outside
    ``kinds`` are kept as ``other kind``; with ``unpublished``, versions never published)."""
    reasons: dict[str, list[str]] = {}
    repo, live = world.repo, world.live

    def keep(record: VersionRecord, why: str) -> None:
        if why not in reasons.setdefault(record.tag, []):
            reasons[record.tag].append(why)

    cutoff = datetime.now(timezone.utc) - timedelta(days=keep_days or 0)
    for record in live:
        for name in world.aliased.get(record.tag, []):
            keep(record, f"alias {name}")
        if unpublished and not world.published(record):
            keep(record, "unpublished" if world.view else "unpublished (no git remote)")
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
            for label in world.held_by_tips(record):
                keep(record, label)
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
