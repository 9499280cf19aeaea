"""One version for a checkpoint every rank saves a part of (``torch.distributed.checkpoint``).

``v.log_checkpoint(folder, distributed=True)`` is a collective call, like ``dcp.save``:
every rank makes it, in the same order. Each rank snapshots its own files at once (the
loop's only cost), then, on its background worker:

1. hashes them and uploads their objects straight to the model's storage
   (:func:`cpv.objects.shards.upload_rank_files`);
2. sends ``(relpath, md5, size)`` of each, or why it failed, to every rank
   (``all_gather_object`` over a gloo group of cpv's own, so that it never interleaves with
   the collectives of training, which go on meanwhile on the default group);
3. if every rank succeeded, rank 0 writes the ``.dir`` listing, commits and tags one
   version (pushed as usual), and tells every rank what it made (``broadcast_object_list``);
   if any rank failed, no rank makes a version, and each records the same
   :class:`DistributedSaveError`, naming the ranks and their reasons.

Without an initialised process group (or with one process), the save is a world of one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from cpv.api import training
from cpv.api.training import GatheredSnapshot, RankReport, combine, upload_rank_files
from cpv.domain.errors import DistributedSaveError
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import TagResult

#: How long a rank waits for the others to report a save (their uploads included).
EXCHANGE_TIMEOUT = timedelta(minutes=30)
RETRY_HINT = (
    "Fix the cause on the rank named, then save again; earlier versions are intact, and what "
    "the save uploaded is left unreferenced for `cpv gc --remote`."
)
_groups: dict[tuple[int, int], Any] = {}


@dataclass(frozen=True)
class ShardJob:
    """This process's place in a save by many ranks, and the group they report over."""

    rank: int = 0
    world_size: int = 1
    group: Any = None  # a torch.distributed ProcessGroup (gloo), None for a world of one


def current_job() -> ShardJob:
    """This process's rank and world, and cpv's own gloo group (made at the first call: a
    collective, so every rank must call it, in the same order, as ``dcp.save``)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return ShardJob()
    rank, world = int(dist.get_rank()), int(dist.get_world_size())
    if world == 1:
        return ShardJob()
    key = (id(dist.group.WORLD), world)
    if key not in _groups:
        _groups[key] = dist.new_group(backend="gloo", timeout=EXCHANGE_TIMEOUT)
    return ShardJob(rank=rank, world_size=world, group=_groups[key])


def version_save(
    repo: Any,
    snap: training.Snapshot,
    request: Any,
    job: ShardJob,
    *,
    failure: BaseException | None = None,
) -> TagResult:
    """This rank's part of one save; on rank 0 also the version (see the module's steps).

    ``repo``: this node's clone (a ``ModelRepo``); ``request``: the ``TagRequest``;
    ``failure``: why this rank could not even snapshot its files.

    Raises:
        DistributedSaveError: some rank failed (the same error on every rank).
    """
    report = RankReport(rank=job.rank, error=_reason(failure) if failure else None)
    if failure is None:
        try:
            staging = repo.git_dir / "cpv-staging"
            entries = upload_rank_files(repo.root, snap, keep=job.rank == 0, staging=staging)
            report = RankReport(rank=job.rank, entries=entries)
        except Exception as exc:
            report = RankReport(rank=job.rank, error=_reason(exc))
    reports = _gather(job, report)
    failed = {r.rank: r.error for r in reports if r.error is not None}
    if failed:
        raise DistributedSaveError(
            "the save failed on "
            + "; ".join(f"rank {rank} ({why})" for rank, why in sorted(failed.items()))
            + ": no version was made",
            hint=RETRY_HINT,
            failed=failed,
        )
    if job.rank != 0:
        return _verdict(_broadcast(job, None))
    verdict: dict[str, Any]
    try:
        tree, layout = combine(reports, world_size=job.world_size)
        result = training.version_snapshot(
            repo, GatheredSnapshot(tree), replace(request, distributed=layout)
        )
        verdict = {"record": result.record.model_dump(mode="json"), "created": result.created}
    except Exception as exc:
        _broadcast(job, {"error": _reason(exc)})
        raise
    _broadcast(job, verdict)
    return result


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _gather(job: ShardJob, report: RankReport) -> list[RankReport]:
    if job.group is None:
        return [report]
    import torch.distributed as dist

    out: list[Any] = [None] * job.world_size
    dist.all_gather_object(out, report.model_dump(mode="json"), group=job.group)
    reports = []
    for rank, sent in enumerate(out):
        try:
            reports.append(RankReport.model_validate(sent))
        except ValueError as exc:
            reports.append(RankReport(rank=rank, error=f"an unreadable report ({exc})"[:2000]))
    return reports


def _broadcast(job: ShardJob, verdict: dict[str, Any] | None) -> Any:
    if job.group is None:
        return verdict
    import torch.distributed as dist

    box = [verdict]
    dist.broadcast_object_list(box, src=0, group=job.group)
    return box[0]


def _verdict(sent: Any) -> TagResult:
    """What rank 0 made of the save, as every other rank records it."""
    if not isinstance(sent, dict) or "error" in sent:
        why = sent.get("error") if isinstance(sent, dict) else "no answer"
        raise DistributedSaveError(
            f"rank 0 could not make the version ({why}): no version was made",
            hint=RETRY_HINT,
            failed={0: str(why)},
        )
    record = VersionRecord.model_validate(sent["record"])
    return TagResult(records=[record], created=bool(sent.get("created")))
