"""``cpv tag`` from a snapshot: the bytes come from a private copy, never the workspace.

Background versioning (and ``tag(source=...)``) copies a save into a folder of its own at
save time. This module versions that copy: it hashes it once, moves its files into the
DVC cache under their hashes (a rename on the same disk), writes ``<model_path>.dvc``,
commits and tags — without reading or writing ``<model_path>/``, which the training loop
may be writing its next save into. The version holds the snapshot's files at the root of
``<model_path>``, wherever the loop saved them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from cpv._faults import fault_point
from cpv.core.repo import ModelRepo
from cpv.core.versioning import (
    TagRequest,
    choose_version,
    commit_and_tag,
    has_files,
    note_dirty,
    workspace_data_tag,
)
from cpv.domain.errors import NothingToTagError
from cpv.domain.metadata import VersionRecord
from cpv.domain.params import recorded as recorded_params
from cpv.domain.results import TagResult
from cpv.domain.versions import Kind, Version, tag_name
from cpv.objects import compact
from cpv.objects import layout as objects
from cpv.objects.shards import GatheredSnapshot

#: (relpath, size, mtime_ns, inode) -> md5 of files already hashed (see objects.hash_tree)
StatCache = dict[tuple[str, int, int, int], str]


def staging_dir(repo: ModelRepo) -> Path:
    """A new empty folder inside ``.git`` (never tracked; same disk as the cache)."""
    root = repo.git_dir / "cpv-staging"
    root.mkdir(parents=True, exist_ok=True)
    staged = root / uuid.uuid4().hex
    staged.mkdir()
    return staged


def tag_from_source(repo: ModelRepo, source: Path, request: TagRequest) -> TagResult:
    """Version the file or folder ``source`` as the model, leaving ``source`` untouched."""
    staged = staging_dir(repo)
    try:
        if not source.exists():
            raise NothingToTagError(
                f"nothing to tag: {source} does not exist", hint="Save the checkpoint first."
            )
        objects.snapshot(source, staged)
        return tag_snapshot(repo, objects.FolderSnapshot(staged), request)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def tag_snapshot(
    repo: ModelRepo,
    snap: objects.Snapshot,
    request: TagRequest,
    *,
    known: StatCache | None = None,
) -> TagResult:
    """Version the private snapshot ``snap`` (its bytes go into the cache; then it is empty).

    ``known`` lets a long-lived caller skip rehashing unchanged data files for lineage.

    Raises:
        NothingToTagError: the snapshot holds no file.
        DiskFullError: the cache's disk is full.
    """
    tree = snap.tree()  # outside the lock: the snapshot is ours alone
    if not tree.entries:
        raise NothingToTagError(
            "nothing to tag: the checkpoint has no files", hint="Save the checkpoint first."
        )
    copies: dict[str, Path] = {}
    try:
        content = _compacted(repo, snap, tree, copies)
        return _tag_content(repo, snap, content, request, known=known, copies=copies)
    finally:
        compact.discard(copies)


def _compacted(
    repo: ModelRepo, snap: objects.Snapshot, tree: objects.Tree, copies: dict[str, Path]
) -> objects.Tree | compact.Compacted:
    """``tree``, or in a compact model its compact tree (objects staged in ``copies``);
    outside the lock: the snapshot is ours alone."""
    settings = repo.config.storage
    if settings.layout != "compact" or isinstance(snap, GatheredSnapshot):
        return tree  # (a save by many ranks: its files are on their nodes, stored whole)
    return compact.compact(
        tree,
        folder=repo.root / repo.path_of(Kind.MODEL),
        cache=objects.cache_dir(repo.root),
        copies=copies,
        zstd=settings.level if settings.compress == "zstd" else None,
        opener=compact.snapshot_opener(snap),
    )


def _tag_content(
    repo: ModelRepo,
    snap: objects.Snapshot,
    content: objects.Tree | compact.Compacted,
    request: TagRequest,
    *,
    known: StatCache | None,
    copies: dict[str, Path],
) -> TagResult:
    tree = content.tree if isinstance(content, compact.Compacted) else content
    with repo.locked() as repairs:
        repo.git.current_branch()  # a detached HEAD would leave the version on no branch
        names = repo.tag_names()  # the versions' names; messages only of the newest few
        latest = repo.newest([Kind.MODEL], names=names)
        if not request.force and compact.same_files(latest, content):
            return TagResult(records=[latest], created=False, repaired=repairs)  # type: ignore[list-item]
        version = choose_version(
            names,
            (Kind.MODEL,),
            {Kind.MODEL: latest},
            explicit=request.version,
            bump=request.bump,
            force=request.force,
        )
        data = repo.newest_first([Kind.DATA], names=names)
        record = _record(repo, content, request, version, data_lineage(repo, data, known))
        if request.dry_run:
            note_dirty(repo, [record])
            return TagResult(records=[record], created=True, dry_run=True, repaired=repairs)

        def store(repo: ModelRepo, plans: list[VersionRecord]) -> None:
            if isinstance(content, compact.Compacted):
                compact.store_compacted(objects.cache_dir(repo.root), content, copies)
                snap.discard()
            else:
                snap.store(objects.cache_dir(repo.root), tree)
            pointer = repo.root / repo.pointer_of(Kind.MODEL)
            pointer.write_text(objects.pointer_text(repo.path_of(Kind.MODEL), tree))
            fault_point("after_add")

        made = commit_and_tag(repo, [record], store=store, request=request)
        return TagResult(records=made, created=True, repaired=repairs)


def _record(
    repo: ModelRepo,
    tree: objects.Tree | compact.Compacted,
    request: TagRequest,
    version: Version,
    data: str | None,
) -> VersionRecord:
    return VersionRecord(
        kind=Kind.MODEL,
        version=str(version),
        tag=tag_name(Kind.MODEL, version),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        author=repo.git.identity(),
        message=request.message,
        size_bytes=tree.size,
        file_count=tree.nfiles,
        content_hash=tree.hash,
        metrics=dict(request.metrics),
        params=recorded_params(repo.root, repo.config.params_files, request.params),
        path=repo.path_of(Kind.MODEL),
        data_version=data,
        distributed=request.distributed,
        compact=compact.layout_of(tree, compress=repo.config.storage.compress),
    )


def data_lineage(
    repo: ModelRepo, data_newest_first: Iterable[VersionRecord], known: StatCache | None
) -> str | None:
    """The newest data version whose content the workspace's data folder holds now
    (``data_newest_first``: the data versions, newest first, read as far as needed)."""
    data = repo.root / repo.path_of(Kind.DATA)
    if (repo.root / ".dvcignore").exists():  # DVC's ignore rules change hashes: ask DVC
        return workspace_data_tag(repo, (Kind.MODEL,), data_newest_first, new_version=None)
    if not has_files(data):
        return None
    current = objects.hash_tree(data, known=known).hash
    for record in data_newest_first:
        if record.content_hash == current:
            return record.tag
    return None
