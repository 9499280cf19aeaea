"""Bringing an earlier version's bytes back: ``revert`` (as a new commit) and ``materialize``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from cpv import _dvc
from cpv._faults import fault_point
from cpv.errors import DirtyWorkspaceError, MissingDataError, VersionNotFoundError
from cpv.metadata import VersionRecord
from cpv.repo import ModelRepo
from cpv.results import RevertResult
from cpv.transaction import Intent, transaction
from cpv.versions import Kind, Version, tag_name


def find_record(repo: ModelRepo, kind: Kind, version: Version) -> VersionRecord:
    for record in repo.records(kind):
        if record.parsed_version == version:
            return record
    raise VersionNotFoundError(f"{tag_name(kind, version)} does not exist")


def dirty_kinds(repo: ModelRepo, kinds: Sequence[Kind]) -> list[str]:
    """Unsaved work: edited pointer files, or workspace bytes that are neither HEAD's
    nor any version's (a workspace holding a known version loses nothing when replaced)."""
    dirty = []
    known = {(r.kind, r.content_hash) for r in repo.records()}
    for kind in kinds:
        pointer = repo.pointer_of(kind)
        if repo.git.changed_paths([pointer]):
            dirty.append(pointer)
            continue
        head_text = repo.git.show_file("HEAD", pointer)
        current = _dvc.hash_path(repo.root, repo.path_of(kind))
        if head_text is None:
            if current is not None and current.size and (kind, current.hash) not in known:
                dirty.append(f"{repo.path_of(kind)}/ (never versioned)")
            continue
        if current is None or not current.size:
            continue  # nothing in the workspace, nothing to lose
        if current.hash != _dvc.parse_pointer(head_text).hash and (kind, current.hash) not in known:
            dirty.append(f"{repo.path_of(kind)}/")
    return dirty


def refuse_unsaved_work(repo: ModelRepo, kinds: Sequence[Kind], *, force: bool) -> list[str]:
    """The unsaved work in ``kinds`` (see :func:`dirty_kinds`); raises unless ``force``."""
    dirty = dirty_kinds(repo, kinds)
    if dirty and not force:
        raise DirtyWorkspaceError(f"uncommitted changes in {', '.join(dirty)}")
    return dirty


def ensure_objects(
    repo: ModelRepo, records: Sequence[VersionRecord], *, jobs: int | None = None
) -> int:
    """Make every object of ``records`` present in the local cache, fetching what is missing.

    Raises :class:`MissingDataError` (touching no workspace file) when something cannot be had.
    """
    from cpv.transfer import get_transfer  # credentials: only when something may be fetched

    fetched = 0
    for record in records:
        pointer_text = repo.git.show_file(record.commit, repo.pointer_of(record.kind))
        if pointer_text is None:
            raise MissingDataError(
                f"{record.tag}: its pointer file is missing from commit {record.commit[:10]}"
            )
        content = _dvc.parse_pointer(pointer_text)
        if _dvc.missing_objects(repo.root, content):
            try:
                fetched += get_transfer().fetch(
                    repo.root,
                    revs=[record.commit],
                    jobs=jobs,
                    targets=[repo.pointer_of(record.kind)],
                )
            except MissingDataError:
                pass
            missing = _dvc.missing_objects(repo.root, content)
            if missing:
                raise MissingDataError(
                    f"{record.tag}: {len(missing)} object(s) are in neither the local cache nor the remote"
                )
    return fetched


def revert(
    repo: ModelRepo,
    version: Version,
    kinds: Sequence[Kind],
    *,
    force: bool = False,
    dry_run: bool = False,
) -> RevertResult:
    """Restore ``version``'s files for ``kinds`` and record that as a new commit."""
    with repo.locked():
        repo.git.current_branch()  # refuse a detached HEAD before touching anything
        records = [find_record(repo, kind, version) for kind in kinds]
        dirty = refuse_unsaved_work(repo, kinds, force=force)
        targets = {
            r.kind: repo.git.show_file(r.commit, repo.pointer_of(r.kind)) or "" for r in records
        }
        current = {k: repo.git.show_file("HEAD", repo.pointer_of(k)) for k in kinds}
        if not dirty and all(targets[k] == current[k] for k in kinds):
            return RevertResult(records=records, already_current=True)
        ensure_objects(repo, records)  # before any file is touched
        if dry_run:
            return RevertResult(records=records, dry_run=True)

        pointers = [repo.pointer_of(k) for k in kinds]
        intent = Intent(
            op="revert",
            head=repo.git.head_commit(),
            paths=[*pointers, ".gitignore"],
            checkout=pointers,
        )
        backups: list[str] = []
        with transaction(repo, intent):
            if dirty:
                backups = _backup_workspace(repo, kinds)
            for record in records:
                pointer = repo.pointer_of(record.kind)
                (repo.root / pointer).write_text(targets[record.kind])
                _dvc.checkout(repo.root, pointer)
                fault_point("after_revert_checkout")
                _dvc.verify_workspace(
                    repo.root, record.path, _dvc.parse_pointer(targets[record.kind])
                )
            which = " + ".join(k.value for k in kinds)
            commit = repo.git.commit_paths(pointers, f"cpv: revert {which} to {version}")
        return RevertResult(records=records, commit=commit, backups=backups)


def _backup_workspace(repo: ModelRepo, kinds: Sequence[Kind]) -> list[str]:
    """Save the current (uncommitted) content to the cache; keep its pointers under a ref."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    refs = []
    for kind in kinds:
        pointer = repo.pointer_of(kind)
        if not (repo.root / repo.path_of(kind)).exists():
            continue
        _dvc.add(repo.root, repo.path_of(kind))
        text = (repo.root / pointer).read_text()
        ref = f"refs/cpv/backups/{stamp}-{kind.value}"
        repo.git.write_backup_commit(
            {pointer: text}, f"cpv: {kind.value} content saved before revert", ref
        )
        repo.git.restore_paths("HEAD", [pointer, ".gitignore"])
        refs.append(ref)
    return refs


def materialize(
    repo: ModelRepo, records: Sequence[VersionRecord], *, jobs: int | None = None
) -> int:
    """Put ``records``' bytes in the workspace (pointers untouched), verified by hash."""
    fetched = ensure_objects(repo, records, jobs=jobs)
    for record in records:
        pointer = repo.pointer_of(record.kind)
        text = repo.git.show_file(record.commit, pointer) or ""
        path = repo.root / pointer
        original = path.read_text() if path.exists() else None
        try:
            path.write_text(text)
            _dvc.checkout(repo.root, pointer)
            _dvc.verify_workspace(repo.root, record.path, _dvc.parse_pointer(text))
        finally:
            if original is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(original)
    return fetched


def checkout_head(repo: ModelRepo, kinds: Sequence[Kind]) -> list[str]:
    """Make the workspace match HEAD's pointers, verified; returns the verified paths."""
    verified = []
    for kind in kinds:
        pointer = repo.pointer_of(kind)
        if not (repo.root / pointer).exists():
            continue
        _dvc.checkout(repo.root, pointer)
        _dvc.verify_workspace(
            repo.root, repo.path_of(kind), _dvc.parse_pointer((repo.root / pointer).read_text())
        )
        verified.append(repo.path_of(kind))
    return verified
