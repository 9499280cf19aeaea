"""The door the training integrations (``cpv/integrations/``) go through: a run's private
snapshots of its saves (and, for a save by many ranks, each rank's upload and the combined
tree: :mod:`cpv.objects.shards`), versioning one (announced like any ``cpv tag``: the operation
announces), and putting the newest version back in the workspace at the end. The managers
(:mod:`cpv.api.managers`) do the rest (data versions, push, gc)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from cpv.core.repo import ModelRepo
from cpv.core.snapshots import StatCache, staging_dir
from cpv.core.versioning import TagRequest
from cpv.core.workspace import keep_unsaved
from cpv.domain.paths import StrPath
from cpv.domain.results import TagResult
from cpv.domain.versions import Kind
from cpv.objects.checkout import checkout_tree
from cpv.objects.layout import (
    FolderSnapshot,
    MemorySnapshot,
    Snapshot,
    cache_dir,
    snapshot,
    tree_size,
)
from cpv.objects.shards import (
    GatheredSnapshot,
    RankReport,
    combine,
    foreign_names,
    upload_rank_files,
)
from cpv.ops.tag import tag_snapshot

__all__ = [
    "FolderSnapshot",
    "GatheredSnapshot",
    "RankReport",
    "combine",
    "foreign_names",
    "upload_rank_files",
    "MemorySnapshot",
    "ModelRepo",
    "Snapshot",
    "StatCache",
    "TagRequest",
    "open_repo",
    "restore_latest",
    "snapshot",
    "staging_dir",
    "tree_size",
    "version_snapshot",
]

log = logging.getLogger("cpv")


def open_repo(path: StrPath) -> ModelRepo:
    """The model repository holding ``path``, opened once for a whole run.

    Raises:
        NotARepositoryError: ``path`` is in no model repository.
    """
    return ModelRepo.open(path)


def version_snapshot(
    repo: ModelRepo,
    snap: Snapshot,
    request: TagRequest,
    *,
    known: StatCache | None = None,
) -> TagResult:
    """Version the private snapshot ``snap`` of a save (then it is empty)."""
    return tag_snapshot(repo, snap, request, known=known)


def restore_latest(repo: ModelRepo, *, only_if: Mapping[str, object] | None = None) -> str | None:
    """Put the newest model version's files into the model path, under the repository lock,
    first keeping what the model path held that is no version (logged). Returns the version's
    tag, or None when there is none (or ``only_if`` does not hold its tag)."""
    latest = repo.latest(Kind.MODEL)
    if latest is None or (only_if is not None and latest.tag not in only_if):
        return None
    with repo.locked():
        kept = keep_unsaved(repo, [Kind.MODEL], before="checkout")
        for ref, restore in kept.items():  # what the model path held, not a version
            log.warning(
                "cpv: kept the unsaved files of %s as %s (%s)", repo.config.model_path, ref, restore
            )
        checkout_tree(cache_dir(repo.root), latest.content_hash, repo.root / repo.config.model_path)
    return latest.tag
