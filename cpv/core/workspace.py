"""The workspace of a model repository: the guard against losing unsaved work, and putting
a version's bytes in place (fetched when missing, verified by hash).

``cpv pull`` and ``cpv revert`` (and ``clone``) share these; neither commits anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from cpv._dvc import repo as _dvc
from cpv.core.repo import ModelRepo
from cpv.domain.errors import DirtyWorkspaceError, MissingDataError, VersionRemovedError
from cpv.domain.metadata import VersionRecord
from cpv.domain.versions import Kind
from cpv.objects.checkout import checkout_tree
from cpv.objects.ingest import remember, workspace_tree
from cpv.objects.layout import cache_dir

if TYPE_CHECKING:
    from cpv.objects.store import ObjectStore


def dirty_kinds(repo: ModelRepo, kinds: Sequence[Kind]) -> list[str]:
    """Unsaved work: edited pointer files, or workspace bytes that are neither HEAD's
    nor any version's (a workspace holding a known version loses nothing when replaced)."""
    dirty = []
    known = {(r.kind, r.files_hash) for r in repo.records()}
    for kind in kinds:
        pointer = repo.pointer_of(kind)
        if repo.git.changed_paths([pointer]):
            dirty.append(pointer)
            continue
        head_text = repo.git.show_file("HEAD", pointer)
        current = workspace_tree(repo.root, repo.path_of(kind))
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


def keep_unsaved(repo: ModelRepo, kinds: Sequence[Kind], *, before: str) -> dict[str, str]:
    """Keep the unsaved work of ``kinds`` (:func:`dirty_kinds`) recoverable before
    ``before`` (``pull``, ``revert``) overwrites it: its bytes go into the cache, its pointer
    into a commit on no branch under ``refs/cpv/backups/<UTC time>-<kind>`` (with an edited
    pointer file beside it as ``<pointer>.edited``). The pointer files and ``.gitignore`` are
    left as they were. Returns each ref made -> the command that restores it
    (``git show REF:checkpoints.dvc > checkpoints.dvc && dvc checkout --force
    checkpoints.dvc``)."""
    # unique per call: several forced overwrites within one second each keep their backup
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + uuid.uuid4().hex[:6]
    refs: dict[str, str] = {}
    for kind in kinds:
        if not (repo.root / repo.path_of(kind)).exists() or not dirty_kinds(repo, [kind]):
            continue
        pointer = repo.pointer_of(kind)
        kept = {name: _text(repo.root / name) for name in (pointer, ".gitignore")}
        try:
            _dvc.add(repo.root, repo.path_of(kind))
            files = {pointer: (repo.root / pointer).read_text()}
        finally:
            for name, text in kept.items():  # as they were: the caller decides what they hold
                _put_text(repo.root / name, text)
        edited = kept[pointer]
        if edited is not None and edited not in (
            files[pointer],
            repo.git.show_file("HEAD", pointer),
        ):
            files[f"{pointer}.edited"] = edited
        ref = f"refs/cpv/backups/{stamp}-{kind.value}"
        repo.git.write_backup_commit(files, f"cpv: {kind.value} content saved before {before}", ref)
        refs[ref] = f"git show {ref}:{pointer} > {pointer} && dvc checkout --force {pointer}"
    return refs


def _text(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


def _put_text(path: Path, text: str | None) -> None:
    if text is None:
        path.unlink(missing_ok=True)
    elif _text(path) != text:
        path.write_text(text)


def ensure_objects(
    repo: ModelRepo,
    records: Sequence[VersionRecord],
    *,
    jobs: int | None = None,
    store: ObjectStore | None = None,
) -> int:
    """Make every object of ``records`` present in the local cache, fetching (verified)
    what is missing; nothing is asked of the storage when the cache has it all.

    Raises :class:`MissingDataError` (touching no workspace file) when something cannot be
    had, :class:`VersionRemovedError` (before anything is fetched) when a version was removed
    on purpose (its ``removed/...`` marker names who and when).
    """
    from cpv.objects.transfer import get_transfer  # credentials: only when something may be fetched

    refuse_removed(repo, records)
    fetched = 0
    for record in records:
        pointer = repo.pointer_of(record.kind)
        if repo.git.show_file(record.commit, pointer) is None:
            raise MissingDataError(
                f"{record.tag}: its pointer file is missing from commit {record.commit[:10]}"
            )
        fetched += get_transfer().fetch(
            repo.root,
            revs=[record.commit],
            jobs=jobs,
            targets=[pointer],
            labels={record.commit: record.tag},
            store=store,
        )
    return fetched


def refuse_removed(repo: ModelRepo, records: Sequence[VersionRecord]) -> None:
    """Raise :class:`VersionRemovedError` for the first of ``records`` marked removed."""
    from cpv.core.removal import removed_markers

    markers = removed_markers(repo)
    for record in records:
        marker = markers.get(record.tag)
        if marker is not None:
            where = " and from the storage" if marker.remote else ""
            raise VersionRemovedError(
                f"{record.tag} was removed ({marker.action}{where}) by {marker.by or 'someone'} "
                f"at {marker.at}" + (f": {marker.why}" if marker.why else ""),
                tag=record.tag,
                action=marker.action,
                by=marker.by,
                at=marker.at,
            )


def materialize(
    repo: ModelRepo,
    records: Sequence[VersionRecord],
    *,
    jobs: int | None = None,
    store: ObjectStore | None = None,
    keep: bool = False,
) -> tuple[int, dict[str, str]]:
    """Put ``records``' bytes in the workspace (pointers untouched), verified by hash;
    ``store``: the model's storage when the caller has it; ``keep``: first keep the unsaved
    work they overwrite (:func:`keep_unsaved`, once every object is here). (objects
    fetched, backups made: ref -> how to restore it)."""
    fetched = ensure_objects(repo, records, jobs=jobs, store=store)
    backups = keep_unsaved(repo, [r.kind for r in records], before="pull") if keep else {}
    for record in records:
        text = repo.git.show_file(record.commit, repo.pointer_of(record.kind)) or ""
        place(repo, text, record.path, where=f"{record.tag} (commit {record.commit[:10]})")
    return fetched, backups


def place(repo: ModelRepo, pointer_text: str, path: str, *, where: str = "") -> None:
    """Make ``path`` hold the content ``pointer_text`` records, every byte checked (a folder
    by cpv itself, anything else by DVC), the pointer file on disk untouched; ``where``:
    the version it comes from, named in errors."""
    where = where or f"{path}.dvc"
    content = _dvc.parse_pointer(pointer_text, where=where)
    if content.hash.endswith(".dir"):
        tree = checkout_tree(cache_dir(repo.root), content.hash, repo.root / path, where=where)
        remember(repo.root, path, tree)  # what was just written need not be read again
        return
    pointer = repo.root / f"{path}.dvc"
    original = pointer.read_text() if pointer.exists() else None
    try:
        pointer.write_text(pointer_text)
        _dvc.checkout(repo.root, f"{path}.dvc", where=where)
        _dvc.verify_workspace(repo.root, path, content)
    finally:
        if original is None:
            pointer.unlink(missing_ok=True)
        else:
            pointer.write_text(original)


def checkout_head(repo: ModelRepo, kinds: Sequence[Kind]) -> list[str]:
    """Make the workspace match HEAD's pointers, verified; returns the verified paths."""
    verified = []
    for kind in kinds:
        pointer = repo.root / repo.pointer_of(kind)
        if not pointer.exists():
            continue
        place(repo, pointer.read_text(), repo.path_of(kind))
        verified.append(repo.path_of(kind))
    return verified
