"""A workspace folder into the local cache: each file read once, hashed while it is copied.

``cpv tag`` used to hash a folder (one read), then have DVC hash it again and copy it into
the cache (a second read and a write). Here each new or changed file is copied into a
temporary file inside the cache and hashed in the same pass; when the version is made the
temporary file is renamed to its object name (no second copy), and when nothing changed it
is dropped. A stat cache (``.git/cpv/stat-cache.json``: path, size, mtime, inode -> md5)
spares reading files that have not changed since they were last hashed, as DVC's state
database does.

The result is byte-for-byte what ``dvc add`` writes (objects, ``.dir`` manifest, pointer).
Folders with ``.dvcignore`` rules still go through DVC, which owns those semantics.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cpv.domain.progress import current as current_progress
from cpv.objects.checkout import copy_hashed
from cpv.objects.compact import Compacted, compact
from cpv.objects.layout import FileEntry, Tree, file_md5, files_of, object_path, place_object

_STAT_CACHE = "stat-cache.json"
_WATCH_BYTES = 64 << 20
_MAX_ENTRIES = 100_000


@dataclass
class Staged:
    """A folder hashed for a version: its tree, and the copies waiting to become objects."""

    tree: Tree
    copies: dict[str, Path] = field(default_factory=dict)  # md5 -> temporary copy
    deferred: list[str] = field(default_factory=list)  # files left unread (stage_folder)

    def store(self, cache: Path) -> None:
        """Rename the copies to their object names, then write the manifest."""
        for md5, tmp in list(self.copies.items()):
            place_object(cache, md5, move_from=tmp, durable=False)
            del self.copies[md5]
        place_object(cache, self.tree.hash, data=self.tree.manifest, durable=False)

    def discard(self) -> None:
        for tmp in self.copies.values():
            tmp.unlink(missing_ok=True)
        self.copies.clear()


def compact_staged(
    staged: Staged,
    folder: Path,
    cache: Path,
    stat_cache: dict[str, list[int | str]],
    *,
    compress: bool,
    level: int,
) -> Compacted:
    """Turn a folder staged with ``defer=eligible`` into its compact version
    (:mod:`cpv.objects.compact`): each checkpoint file is read once, cut, and its segments
    and recipe staged; the stat cache learns its md5 when it did not change meanwhile."""
    before = {rel: (folder / rel).stat() for rel in staged.deferred}
    result = compact(
        staged.tree,
        folder=folder,
        cache=cache,
        copies=staged.copies,
        zstd=level if compress else None,
        direct=staged.deferred,
    )
    md5s = {e.relpath: e.md5 for e in result.files.entries}
    for rel, st in before.items():
        now = (folder / rel).stat()
        if (now.st_size, now.st_mtime_ns, now.st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino):
            _note(stat_cache, f"{folder}/{rel}", st, md5s[rel])
    staged.tree, staged.deferred = result.tree, []
    return result


def has_ignore_rules(repo_root: Path) -> bool:
    """Whether ``.dvcignore`` holds any rule (the default one holds only comments)."""
    path = repo_root / ".dvcignore"
    if not path.is_file():
        return False
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines)


def stage_folder(
    folder: Path,
    cache: Path,
    stat_cache: dict[str, list[int | str]],
    *,
    defer: Callable[[str], bool] | None = None,
) -> Staged:
    """Hash ``folder``; new or changed files are copied into ``cache`` in the same read.
    The files ``defer`` names are left out, unread (``Staged.deferred``: a compact model's
    checkpoint files, read once when they are cut, see :func:`compact_staged`).

    ``stat_cache`` (see :func:`load_stat_cache`) is consulted and updated.
    """
    staging = cache / "files" / "md5"
    staging.mkdir(parents=True, exist_ok=True)
    staged = Staged(Tree(()))
    entries = []
    try:
        for rel, full in files_of(folder):
            if defer is not None and defer(rel):
                staged.deferred.append(rel)
                continue
            st = full.stat()
            key = f"{folder}/{rel}"
            md5 = _known(stat_cache, key, st)
            if md5 is None or not (object_path(cache, md5).exists() or md5 in staged.copies):
                tmp = staging / f".stage-{uuid.uuid4().hex}.tmp"
                md5 = copy_hashed(full, tmp, on_bytes=_hashing(full.name, st.st_size))
                if md5 in staged.copies or object_path(cache, md5).exists():
                    tmp.unlink()
                else:
                    staged.copies[md5] = tmp
                _note(stat_cache, key, st, md5)
            entries.append(FileEntry(rel, md5, st.st_size))
    except BaseException:
        staged.discard()
        raise
    staged.tree = Tree(tuple(sorted(entries, key=lambda e: e.relpath)))
    return staged


def _hashing(name: str, size: int) -> Callable[[int], None] | None:
    """Progress for a file big enough to watch (``hashing NAME``, bytes), else None."""
    if size < _WATCH_BYTES:
        return None
    progress, key, done = current_progress(), id(name), [0]

    def heard(n: int) -> None:
        done[0] += n
        progress.transfer(key, f"hashing {name}", done[0], size, True, done[0] >= size)

    return heard


def _known(stat_cache: dict[str, list[int | str]], key: str, st: os.stat_result) -> str | None:
    """The md5 the stat cache holds for ``key`` if the file's size, mtime and inode are
    still ``st``'s, else None."""
    seen = stat_cache.get(key)
    if seen and seen[:3] == [st.st_size, st.st_mtime_ns, st.st_ino]:
        return str(seen[3])
    return None


def _note(stat_cache: dict[str, list[int | str]], key: str, st: os.stat_result, md5: str) -> None:
    stat_cache[key] = [st.st_size, st.st_mtime_ns, st.st_ino, md5]


def load_stat_cache(git_dir: Path) -> dict[str, list[int | str]]:
    try:
        data = json.loads((git_dir / "cpv" / _STAT_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_stat_cache(git_dir: Path, stat_cache: dict[str, list[int | str]]) -> None:
    """Written through a temporary file and a rename; a lost update only costs a re-hash."""
    if len(stat_cache) > _MAX_ENTRIES:
        stat_cache = dict(list(stat_cache.items())[-_MAX_ENTRIES:])
    path = git_dir / "cpv" / _STAT_CACHE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{_STAT_CACHE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(stat_cache), encoding="utf-8")
    os.replace(tmp, path)


def workspace_tree(repo_root: Path, path: str) -> Tree | None:
    """What ``path`` (a versioned folder) holds now, hashed through the stat cache (files
    unchanged since they were last hashed or checked out are not read); None when it holds
    no file. DVC computes it where ``.dvcignore`` has rules."""
    folder = repo_root / path
    if not folder.is_dir() or not any(files_of(folder)):
        return None
    if has_ignore_rules(repo_root):
        from cpv._dvc import repo as _dvc

        content = _dvc.hash_path(repo_root, path)
        if content is None:
            return None
        return _Measured(content.hash, content.size, content.nfiles)  # type: ignore[return-value]
    git_dir = repo_root / ".git"
    stat_cache = load_stat_cache(git_dir)
    entries = []
    for rel, full in files_of(folder):
        st = full.stat()
        key = f"{folder}/{rel}"
        md5 = _known(stat_cache, key, st)
        if md5 is None:
            md5 = file_md5(full)[0]
            _note(stat_cache, key, st, md5)
        entries.append(FileEntry(rel, md5, st.st_size))
    save_stat_cache(git_dir, stat_cache)
    return Tree(tuple(sorted(entries, key=lambda e: e.relpath)))


@dataclass(frozen=True)
class _Measured:
    hash: str
    size: int
    nfiles: int


def remember(repo_root: Path, path: str, tree: Tree) -> None:
    """Record in the stat cache the files of ``path`` just written from ``tree``."""
    git_dir = repo_root / ".git"
    stat_cache = load_stat_cache(git_dir)
    folder = repo_root / path
    for entry in tree.entries:
        key = f"{folder}/{entry.relpath}"
        _note(stat_cache, key, (folder / entry.relpath).stat(), entry.md5)
    save_stat_cache(git_dir, stat_cache)
