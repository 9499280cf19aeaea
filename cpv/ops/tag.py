"""``cpv tag``: make a version — hash and cache, commit the pointers with the metrics and
the params files (``params_files`` in ``cpv.yaml``), tag — atomically (see :mod:`cpv.transaction`).
Other modified tracked files are not committed: the version's record says it was made from
a ``dirty`` workspace. Versions of a private snapshot are :mod:`cpv.ops.snapshot`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cpv import _dvc, ingest
from cpv import params as hyperparams
from cpv._faults import fault_point
from cpv._paths import StrPath, as_path
from cpv.errors import NothingToTagError, UsageError, VersionExistsError
from cpv.metadata import DIRTY_PATHS_MAX, ShardLayout, VersionRecord, encode_tag_message
from cpv.metrics import validate_metrics
from cpv.objects import cache_dir, pointer_text, refuse_escaping_links
from cpv.repo import METRICS_LOG, ModelRepo
from cpv.results import TagResult
from cpv.transaction import Intent, transaction
from cpv.versions import Kind, Version, parse_tag_name, tag_name

_TEXT_ROWS = {".jsonl": 0, ".ndjson": 0, ".txt": 0, ".csv": 1, ".tsv": 1}


def count_samples(root: Path, splits: Sequence[str]) -> dict[str, int]:
    """Rows in line-based files (header excluded for csv/tsv), else files, per split."""
    counts: dict[str, int] = {}
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            continue
        total = 0
        for file in folder.rglob("*"):
            if not file.is_file():
                continue
            header = _TEXT_ROWS.get(file.suffix.lower())
            if header is None:
                total += 1
                continue
            with open(file, "rb") as fh:
                lines = sum(1 for line in fh if line.strip())
            total += max(0, lines - header)
        counts[split] = total
    return counts


def _has_files(path: Path) -> bool:
    if path.is_file():
        return True
    return path.is_dir() and any(p.is_file() for p in path.rglob("*"))


@dataclass(frozen=True)
class TagRequest:
    """What to record with a new version, validated (see :meth:`build`)."""

    message: str = ""
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    version: Version | None = None  # an explicit number, else the next one
    bump: str = "minor"
    force: bool = False
    dry_run: bool = False
    #: the training run that made it, and its steps' metrics since its previous version
    run: str | None = None
    steps: tuple[Mapping[str, Any], ...] = ()
    distributed: ShardLayout | None = None  # a save by many ranks together (cpv.shards)

    @classmethod
    def build(
        cls,
        *,
        message: str = "",
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        version: str | None = None,
        bump: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> TagRequest:
        """Validate what a caller asked for.

        Raises:
            UsageError: an unknown bump, an invalid version, a metric that is not a finite
                number or short text.
        """
        if version is not None and bump is not None:
            raise UsageError(
                "give --as (version=) or --bump, not both",
                hint="--as names the number; --bump picks the next one for you.",
            )
        bump = bump or "minor"
        if bump not in ("minor", "major"):
            raise UsageError(f"invalid bump {bump!r}", hint="Use --bump minor or --bump major.")
        return cls(
            message=message,
            metrics=validate_metrics(metrics),
            params=hyperparams.validate(json.loads(json.dumps(dict(params or {}), default=str))),
            version=Version.parse(version) if version is not None else None,
            bump=bump,
            force=force,
            dry_run=dry_run,
        )


def tag_versions(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    request: TagRequest,
    *,
    source: StrPath | None = None,
) -> TagResult:
    """Version ``kinds`` (one, or model+data under one number) — all of it or none of it.

    With ``source`` (a file or folder; model only) the version holds that content, taken
    without touching the workspace (see :mod:`cpv.ops.snapshot`).
    """
    if source is not None:
        if tuple(kinds) != (Kind.MODEL,):
            raise UsageError("source= applies to model checkpoints only")
        from cpv.ops.snapshot import tag_from_source

        return tag_from_source(repo, as_path(source), request)
    with repo.locked() as repairs:
        repo.git.current_branch()  # a detached HEAD would leave the version on no branch
        for kind in kinds:
            if not _has_files(repo.root / repo.path_of(kind)):
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
            for k in kinds:
                staged[k] = ingest.stage_folder(repo.root / repo.path_of(k), cache, stat_cache)
            trees = {k: s.tree for k, s in staged.items()}
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
    all_records = repo.records()
    latest = {k: _latest(all_records, k) for k in kinds}
    changed = {k: latest[k] is None or latest[k].content_hash != current[k].hash for k in kinds}  # type: ignore[union-attr]
    if not request.force and not any(changed.values()):
        return TagResult(records=[latest[k] for k in kinds], created=False, repaired=repairs)  # type: ignore[misc]
    new_version = choose_version(
        all_records,
        kinds,
        latest,
        explicit=request.version,
        bump=request.bump,
        force=request.force,
        foreign=repo.foreign_tags,
    )
    plans = _plan_records(repo, kinds, request, all_records, current, new_version)
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
    all_records: list[VersionRecord],
    current: Mapping[Kind, Any],
    new_version: Version,
) -> list[VersionRecord]:
    """The records of the new version, one per kind (hashes as measured before adding)."""
    author = repo.git.identity()
    created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    data_version = _data_lineage(repo, kinds, all_records, new_version)
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
        )
        if kind is Kind.DATA:
            samples = count_samples(repo.root / repo.path_of(kind), repo.config.data_splits)
            record.samples = samples or None
            record.sample_count = sum(samples.values()) if samples else None
        plans.append(record)
    return plans


def choose_version(
    all_records: list[VersionRecord],
    kinds: Sequence[Kind],
    latest: Mapping[Kind, VersionRecord | None],
    *,
    explicit: Version | None,
    bump: str,
    force: bool,
    foreign: Sequence[str] = (),
) -> Version:
    """The number the next version of ``kinds`` takes (one number for all of them).

    ``foreign``: tag names under ``model/``/``data/`` that cpv did not make; their numbers
    are skipped (an explicit one is refused), never taken over.
    """
    existing = {(r.kind, r.parsed_version) for r in all_records}
    existing |= {parsed for name in foreign if (parsed := parse_tag_name(name)) is not None}
    top = max((r.parsed_version for r in latest.values() if r is not None), default=None)
    if explicit is None:
        new_version = Version.next_after(top, bump)
        while any((k, new_version) in existing for k in kinds):
            new_version = new_version.bump("minor")
        return new_version
    for kind in kinds:
        if (kind, explicit) in existing:
            raise VersionExistsError(
                f"{tag_name(kind, explicit)} already exists",
                hint="Pick another --as version, or omit it to take the next one.",
                tag=tag_name(kind, explicit),
            )
    if top is not None and explicit <= top and not force:
        raise UsageError(
            f"{explicit} is not above the latest version {top}",
            hint="Versions only go up; pass --force to tag an older number anyway.",
        )
    return explicit


def _latest(records: list[VersionRecord], kind: Kind) -> VersionRecord | None:
    mine = [r for r in records if r.kind is kind]
    return mine[-1] if mine else None


def _data_lineage(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    records: list[VersionRecord],
    new_version: Version | None,
) -> str | None:
    """The data version the model was trained with: its tag if data is versioned alongside
    (under ``new_version``), else the newest data tag whose content matches the workspace data."""
    if Kind.DATA in kinds and new_version is not None:
        return tag_name(Kind.DATA, new_version)
    data_path = repo.root / repo.path_of(Kind.DATA)
    if not _has_files(data_path):
        return None
    current = ingest.workspace_tree(repo.root, repo.path_of(Kind.DATA))
    for record in reversed([r for r in records if r.kind is Kind.DATA]):
        if current is not None and record.content_hash == current.hash:
            return record.tag
    return None


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


def commit_and_tag(
    repo: ModelRepo,
    plans: list[VersionRecord],
    *,
    store: Callable[[ModelRepo, list[VersionRecord]], None] = _dvc_add,
    request: TagRequest | None = None,
) -> list[VersionRecord]:
    """Under the repository lock: ``store`` the content and write the pointers, then commit
    the pointers with the metrics log (``request``'s training steps first) and the params
    files, and tag the commit; on any failure, roll back (the params files' index entries
    as they were, their bytes untouched)."""
    paths, params = version_paths(repo, plans)
    intent = Intent(
        op="tag",
        head=repo.git.head_commit(),
        paths=paths,  # restored from head on rollback: never the user's params files
        tags=[r.tag for r in plans],
        index=repo.git.index_entries(params),
    )
    with transaction(repo, intent) as txn:
        note_dirty(repo, plans, [*paths, *params])
        store(repo, plans)
        _append_metrics_log(repo.root, plans, request)
        kinds_text = " + ".join(r.kind.value for r in plans)
        summary = f"cpv: {kinds_text} {plans[0].version}" + (
            f" — {plans[0].message}" if plans[0].message else ""
        )
        commit = repo.git.commit_paths([*paths, *params], summary)
        txn.record(commit=commit)
        fault_point("after_commit")
        for i, record in enumerate(plans):
            record.commit = commit
            repo.git.create_tag(record.tag, encode_tag_message(record), commit)
            if i == 0:
                fault_point("after_first_tag")
    return plans


def version_paths(repo: ModelRepo, plans: list[VersionRecord]) -> tuple[list[str], list[str]]:
    """What the commit of ``plans`` holds: cpv's own files (pointers, ``.gitignore``, the
    metrics log), and the configured params files that are on disk, tracked or not ignored."""
    own = [*(repo.pointer_of(r.kind) for r in plans), ".gitignore", METRICS_LOG]
    params = [p for p in repo.git.committable(repo.config.params_files) if p not in own]
    return own, params


def note_dirty(
    repo: ModelRepo, plans: list[VersionRecord], committed: Sequence[str] | None = None
) -> None:
    """Record on ``plans`` the tracked files (staged or not) that differ from HEAD and are
    not ``committed`` with them: the version's commit does not hold their state. Untracked
    files are not dirty (as for ``git describe --dirty``)."""
    if committed is None:
        committed = [p for group in version_paths(repo, plans) for p in group]
    dirty = [p for p in repo.git.modified_tracked() if p not in committed]
    for record in plans:
        record.dirty, record.dirty_count = bool(dirty), len(dirty)
        record.dirty_paths = dirty[:DIRTY_PATHS_MAX]


def _append_metrics_log(root: Path, plans: list[VersionRecord], req: TagRequest | None) -> None:
    """A line per version, after a ``{"kind": "step", …}`` line per training step of ``req``'s
    run (the version lines name the ``run``: :mod:`cpv.ops.compare` draws them)."""
    run = req.run if req is not None else None
    with open(root / METRICS_LOG, "a", encoding="utf-8") as fh:
        for step in req.steps if req is not None and run else ():
            entry = {**step, "kind": "step", "run": run}
            fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
        for r in plans:
            line = {
                "kind": r.kind.value,
                "version": r.version,
                "created_at": r.created_at,
                "metrics": r.metrics,
                "params": r.params,
                "message": r.message,
                "content_hash": r.content_hash,
            }
            if run:
                line["run"] = run
            fh.write(json.dumps(line, sort_keys=True) + "\n")
