"""What every new version goes through, whichever path its bytes took (the workspace for
``cpv tag``, a private snapshot for the training callbacks): the request, the number, the
data lineage, the commit with the metrics log and params files, the annotated tags."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpv._faults import fault_point
from cpv.core.repo import METRICS_LOG, ModelRepo
from cpv.core.transaction import Intent, transaction
from cpv.domain import params as hyperparams
from cpv.domain.errors import UsageError, VersionExistsError
from cpv.domain.metadata import DIRTY_PATHS_MAX, ShardLayout, VersionRecord, encode_tag_message
from cpv.domain.metrics import validate_metrics
from cpv.domain.versions import Kind, Version, parse_tag_name, tag_name
from cpv.objects import ingest

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


def has_files(path: Path) -> bool:
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
    distributed: ShardLayout | None = None  # a save by many ranks together (cpv.objects.shards)

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


def choose_version(
    names: Iterable[str],
    kinds: Sequence[Kind],
    latest: Mapping[Kind, VersionRecord | None],
    *,
    explicit: Version | None,
    bump: str,
    force: bool,
) -> Version:
    """The number the next version of ``kinds`` takes (one number for all of them).

    ``names``: every tag name under ``model/`` and ``data/`` (``ModelRepo.tag_names``),
    cpv's and those cpv did not make: their numbers are skipped (an explicit one is
    refused), never taken over.
    """
    existing = {parsed for name in names if (parsed := parse_tag_name(name)) is not None}
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


def workspace_data_tag(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    data_newest_first: Iterable[VersionRecord],
    new_version: Version | None,
) -> str | None:
    """The data version the model was trained with: its tag if data is versioned alongside
    (under ``new_version``), else the newest data tag whose content matches the workspace data
    (``data_newest_first``: the data versions, newest first, read as far as needed)."""
    if Kind.DATA in kinds and new_version is not None:
        return tag_name(Kind.DATA, new_version)
    data_path = repo.root / repo.path_of(Kind.DATA)
    if not has_files(data_path):
        return None
    current = ingest.workspace_tree(repo.root, repo.path_of(Kind.DATA))
    for record in data_newest_first if current is not None else ():
        if record.content_hash == current.hash:  # type: ignore[union-attr]
            return record.tag
    return None


def commit_and_tag(
    repo: ModelRepo,
    plans: list[VersionRecord],
    *,
    store: Callable[[ModelRepo, list[VersionRecord]], None],
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
        append_metrics_log(repo.root, plans, request)
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


def append_metrics_log(root: Path, plans: list[VersionRecord], req: TagRequest | None) -> None:
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
