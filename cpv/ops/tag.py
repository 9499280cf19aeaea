"""``cpv tag``: make a version — hash and cache, commit the pointers with the metrics and
the params files (``params_files`` in ``cpv.yaml``), tag — atomically (see
:mod:`cpv.core.transaction`). Other modified tracked files are not committed: the version's
record says it was made from a ``dirty`` workspace. Versions made from a private snapshot
instead of the workspace are :mod:`cpv.core.snapshots`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from cpv._dvc import repo as _dvc
from cpv._faults import fault_point
from cpv.core import snapshots
from cpv.core.repo import ModelRepo
from cpv.core.snapshots import StatCache
from cpv.core.versioning import (  # MOVED
    TagRequest,
    choose_version,
    commit_and_tag,
    count_samples,
    has_files,
    note_dirty,
    workspace_data_tag,
)
from cpv.domain import params as hyperparams
from cpv.domain.errors import NothingToTagError, UsageError
from cpv.domain.metadata import VersionRecord
from cpv.domain.paths import StrPath, as_path
from cpv.domain.results import TagResult
from cpv.domain.versions import Kind, Version, tag_name
from cpv.notify.announce import announces
from cpv.objects import ingest
from cpv.objects.compact import eligible, layout_of, same_files
from cpv.objects.layout import Snapshot, cache_dir, pointer_text, refuse_escaping_links


@announces("tag")
def tag_versions(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    request: TagRequest,
    *,
    source: StrPath | None = None,
) -> TagResult:
    """Version ``kinds`` (one, or model+data under one number) — all of it or none of it.

    With ``source`` (a file or folder; model only) the version holds that content, taken
    without touching the workspace (see :mod:`cpv.core.snapshots`).
    """
    if source is not None:
        if tuple(kinds) != (Kind.MODEL,):
            raise UsageError("source= applies to model checkpoints only")
        from cpv.core.snapshots import tag_from_source

        return tag_from_source(repo, as_path(source), request)
    with repo.locked() as repairs:
        repo.git.current_branch()  # a detached HEAD would leave the version on no branch
        for kind in kinds:
            if not has_files(repo.root / repo.path_of(kind)):
                raise NothingToTagError(
                    f"nothing to tag: {repo.path_of(kind)}/ has no files",
                    hint=f"Write your {'checkpoint' if kind is Kind.MODEL else 'data'} files into "
                    f"{repo.path_of(kind)}/ first.",
                )
            refuse_escaping_links(repo.root / repo.path_of(kind))
        if ingest.has_ignore_rules(repo.root):  # DVC owns .dvcignore's semantics
            with _dvc.session(repo.root):
                current = {k: _dvc.hash_path(repo.root, repo.path_of(k)) for k in kinds}
                return _tag(repo, kinds, request, current, repairs, _dvc_add)
        stat_cache = ingest.load_stat_cache(repo.git_dir)
        staged: dict[Kind, ingest.Staged] = {}
        try:
            cache = cache_dir(repo.root)
            layout = repo.config.storage
            compact = layout.layout == "compact"
            for k in kinds:
                defer = eligible if compact and k is Kind.MODEL else None
                folder = repo.root / repo.path_of(k)
                staged[k] = ingest.stage_folder(folder, cache, stat_cache, defer=defer)
            trees: dict[Kind, Any] = {k: s.tree for k, s in staged.items()}
            if Kind.MODEL in staged and compact:
                trees[Kind.MODEL] = ingest.compact_staged(
                    staged[Kind.MODEL],
                    repo.root / repo.path_of(Kind.MODEL),
                    cache,
                    stat_cache,
                    compress=layout.compress == "zstd",
                    level=layout.level,
                )
            return _tag(repo, kinds, request, trees, repairs, _store_staged(staged))
        finally:
            for s in staged.values():
                s.discard()
            ingest.save_stat_cache(repo.git_dir, stat_cache)


def _tag(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    request: TagRequest,
    current: Mapping[Kind, Any],
    repairs: list[str],
    store: Callable[[ModelRepo, list[VersionRecord]], None],
) -> TagResult:
    """Make the version of ``current`` (the hashed content of each kind) unless unchanged."""
    names = repo.tag_names()  # the versions' names; messages only of the newest few
    latest = {k: repo.newest([k], names=names) for k in kinds}
    changed = {k: not same_files(latest[k], current[k]) for k in kinds}
    if not request.force and not any(changed.values()):
        return TagResult(records=[latest[k] for k in kinds], created=False, repaired=repairs)  # type: ignore[misc]
    new_version = choose_version(
        names, kinds, latest, explicit=request.version, bump=request.bump, force=request.force
    )
    data = repo.newest_first([Kind.DATA], names=names)
    plans = _plan_records(repo, kinds, request, data, current, new_version)
    if request.dry_run:
        note_dirty(repo, plans)
        return TagResult(records=plans, created=True, dry_run=True, repaired=repairs)
    records = commit_and_tag(repo, plans, store=store)
    return TagResult(records=records, created=True, repaired=repairs)


def _store_staged(
    staged: Mapping[Kind, ingest.Staged],
) -> Callable[[ModelRepo, list[VersionRecord]], None]:
    """Turn the staged copies into cache objects and write each pointer file."""

    def store(repo: ModelRepo, plans: list[VersionRecord]) -> None:
        cache = cache_dir(repo.root)
        for record in plans:
            staged[record.kind].store(cache)
            pointer = repo.root / repo.pointer_of(record.kind)
            pointer.write_text(pointer_text(record.path, staged[record.kind].tree))
            fault_point("after_add")

    return store


def _plan_records(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    request: TagRequest,
    data_newest_first: Iterable[VersionRecord],
    current: Mapping[Kind, Any],
    new_version: Version,
) -> list[VersionRecord]:
    """The records of the new version, one per kind (hashes as measured before adding)."""
    author = repo.git.identity()
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data_version = workspace_data_tag(repo, kinds, data_newest_first, new_version)
    params = hyperparams.recorded(repo.root, repo.config.params_files, request.params)
    plans = []
    for kind in kinds:
        content = current[kind]
        assert content is not None
        record = VersionRecord(
            kind=kind,
            version=str(new_version),
            tag=tag_name(kind, new_version),
            created_at=created_at,
            author=author,
            message=request.message,
            size_bytes=content.size,
            file_count=content.nfiles,
            content_hash=content.hash,
            metrics=request.metrics,
            params=params,
            path=repo.path_of(kind),
            data_version=data_version if kind is Kind.MODEL else None,
            compact=layout_of(content, compress=repo.config.storage.compress),
        )
        if kind is Kind.DATA:
            samples = count_samples(repo.root / repo.path_of(kind), repo.config.data_splits)
            record.samples = samples or None
            record.sample_count = sum(samples.values()) if samples else None
        plans.append(record)
    return plans


def _dvc_add(repo: ModelRepo, plans: list[VersionRecord]) -> None:
    """Hash the workspace paths again as DVC adds them (the recorded hash is what was cached)."""
    for record in plans:
        content = _dvc.add(repo.root, record.path)
        record.content_hash, record.size_bytes, record.file_count = (
            content.hash,
            content.size,
            content.nfiles,
        )
        fault_point("after_add")


@announces("tag")
def tag_snapshot(
    repo: ModelRepo,
    snap: Snapshot,
    request: TagRequest,
    *,
    known: StatCache | None = None,
) -> TagResult:
    """Version a private snapshot of a save (the training callbacks' path): see
    :func:`cpv.core.snapshots.tag_snapshot`, then announce it like any ``cpv tag``."""
    return snapshots.tag_snapshot(repo, snap, request, known=known)
