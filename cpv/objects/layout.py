"""DVC's content-addressed layout, read and written without importing DVC.

A version of a folder is a *tree*: each file's md5, and a ``.dir`` manifest (the JSON list
DVC writes, sorted by path) whose own md5 names the version. Objects live in the local
cache at ``.dvc/cache/files/md5/<2 hex>/<30 hex>``; the pointer file ``<path>.dvc`` records
the manifest's hash. Everything written here is byte-for-byte what ``dvc add`` writes, so
plain ``dvc pull``/``dvc checkout`` read it (``tests/unit/test_objects.py`` checks this
against DVC itself).

Background versioning uses this to version a private snapshot of a save: it hashes the
snapshot once and *moves* its files into the cache (no second copy, no DVC import, no
repository open), and never reads or writes the folder the training loop saves into.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import os
import shutil
import stat
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cpv.domain.errors import DiskFullError, UsageError
from cpv.domain.oids import oid_parts

_CHUNK = 1 << 20
_CACHE_MODE = 0o444


@dataclass(frozen=True)
class FileEntry:
    relpath: str  # posix, relative to the tree's root
    md5: str
    size: int


@dataclass(frozen=True)
class Tree:
    """The content of one folder, as DVC records it."""

    entries: tuple[FileEntry, ...]

    @property
    def manifest(self) -> bytes:
        listing = [{"md5": e.md5, "relpath": e.relpath} for e in self.entries]
        return json.dumps(listing, sort_keys=True).encode("utf-8")

    @property
    def hash(self) -> str:
        return hashlib.md5(self.manifest, usedforsecurity=False).hexdigest() + ".dir"

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    @property
    def nfiles(self) -> int:
        return len(self.entries)


def file_md5(path: Path) -> tuple[str, int]:
    """(md5, size) of one file, read once."""
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def files_of(root: Path) -> Iterator[tuple[str, Path]]:
    """(posix relpath, path) of every file under ``root``, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            yield full.relative_to(root).as_posix(), full


def tree_size(path: Path) -> int:
    """Bytes of a file, or of every file under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def hash_tree(root: Path, *, known: dict[tuple[str, int, int, int], str] | None = None) -> Tree:
    """The tree of ``root`` (a folder), each file read once.

    ``known`` maps (relpath, size, mtime_ns, inode) to an md5 already computed: files whose
    stat has not changed are not read again (how DVC's state database saves rehashing).
    """
    entries = []
    for rel, full in files_of(root):
        st = full.stat()
        key = (rel, st.st_size, st.st_mtime_ns, st.st_ino)
        md5 = known.get(key) if known is not None else None
        if md5 is None:
            md5, _ = file_md5(full)
            if known is not None:
                known[key] = md5
        entries.append(FileEntry(rel, md5, st.st_size))
    return Tree(tuple(sorted(entries, key=lambda e: e.relpath)))


def _inside(target: Path, root: Path) -> bool:
    return target == root or root in target.parents


def _checkpoint_files(source: Path, ignore: Iterable[str]) -> Iterator[tuple[str, Path]]:
    """(relpath, path) of the files a checkpoint at ``source`` is made of; a symlink counts
    (as the bytes it points to) only when it stays inside ``source``.

    Raises:
        UsageError: a symlink leaves the checkpoint folder (see :func:`refuse_escaping_links`).
    """
    if source.is_file():
        yield source.name, source
        return
    refuse_escaping_links(source)
    patterns = tuple(ignore)
    for rel, full in files_of(source):
        if not any(fnmatch.fnmatch(part, p) for part in rel.split("/") for p in patterns):
            yield rel, full


def refuse_escaping_links(folder: Path) -> None:
    """Refuse (:class:`UsageError`, naming it) a symlink to a file or folder that leads out
    of ``folder``: it would be followed and its target versioned, then uploaded."""
    real_root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted([*dirnames, *filenames]):
            full = Path(dirpath) / name
            if full.is_symlink() and not _inside(full.resolve(), real_root):
                raise UsageError(
                    f"{full} is a symlink to {os.readlink(full)}, outside {folder.name}/",
                    hint="Copy the real files in, or remove the link; cpv never follows "
                    "links out of a versioned folder.",
                )


def copy_file(source: Path, dest: Path) -> None:
    """Copy in the kernel with ``copy_file_range`` (no Python buffers; measured cheaper in
    CPU than ``sendfile`` for large files here), else ``shutil.copyfile``."""
    with open(source, "rb") as src, open(dest, "wb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                done = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if done == 0:
                    break  # the file shrank while copying: the rest is read below
                remaining -= done
            if not remaining:
                return
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in _NO_COPY_RANGE:
                raise
    shutil.copyfile(source, dest)


_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF}


def snapshot(source: Path, dest: Path, *, ignore: Iterable[str] = ()) -> int:
    """Copy ``source`` (a file, or a folder's files) into the empty folder ``dest``; returns bytes.

    Copies use the kernel's copy (``sendfile``), without Python buffers.

    Raises:
        UsageError: a symlink leaves the checkpoint folder.
        DiskFullError: the disk filled up.
    """
    total = 0
    try:
        for rel, full in _checkpoint_files(source, ignore):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            copy_file(full, target)
            total += target.stat().st_size
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"disk full while snapshotting {source} into {dest}", path=dest
            ) from exc
        raise
    return total


class Snapshot(ABC):
    """The private bytes of one save, waiting to be versioned: in a folder or in memory."""

    @abstractmethod
    def tree(self) -> Tree:
        """The save's content: each file hashed once."""

    @abstractmethod
    def store(self, cache: Path, tree: Tree) -> None:
        """Put every object of ``tree`` into ``cache``, then its manifest."""

    @abstractmethod
    def discard(self) -> None:
        """Free what the snapshot holds (after it is stored, or when it is not needed)."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Bytes the snapshot holds."""


class FolderSnapshot(Snapshot):
    """A private folder (in ``.git/cpv-staging``): its files are moved into the cache."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def tree(self) -> Tree:
        return hash_tree(self.root)

    def store(self, cache: Path, tree: Tree) -> None:
        store_snapshot(cache, self.root, tree)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    @property
    def size(self) -> int:
        return tree_size(self.root)

    def holds_files(self) -> bool:
        return self.root.exists() and any(p.is_file() for p in self.root.rglob("*"))


class MemorySnapshot(Snapshot):
    """The save's bytes read into memory (one read from the page cache, no disk write on
    the training thread); the worker hashes them there and writes each object once."""

    def __init__(self, files: list[tuple[str, bytes]]) -> None:
        self.files = files
        self._size = sum(len(data) for _, data in files)

    @property
    def size(self) -> int:
        return self._size

    @classmethod
    def read(cls, source: Path, *, ignore: Iterable[str] = ()) -> MemorySnapshot:
        return cls([(rel, full.read_bytes()) for rel, full in _checkpoint_files(source, ignore)])

    def tree(self) -> Tree:
        entries = [
            FileEntry(rel, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data))
            for rel, data in self.files
        ]
        return Tree(tuple(sorted(entries, key=lambda e: e.relpath)))

    def store(self, cache: Path, tree: Tree) -> None:
        data = dict(self.files)
        for entry in tree.entries:
            place_object(cache, entry.md5, move_from=None, data=data[entry.relpath])
        place_object(cache, tree.hash, move_from=None, data=tree.manifest)
        self.files = []  # in the cache now: free the memory at once

    def discard(self) -> None:
        self.files = []

    def keep_in(self, folder: Path) -> None:
        """Write the bytes into ``folder`` (to keep a save whose version failed)."""
        for rel, data in self.files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        self.discard()


def cache_dir(repo_root: Path) -> Path:
    """The local DVC cache: ``.dvc/cache`` unless ``[cache] dir`` in ``.dvc/config`` or
    ``.dvc/config.local`` moves it (a relative ``dir`` is relative to ``.dvc/``, as in DVC)."""
    found = repo_root / ".dvc" / "cache"
    for name in ("config", "config.local"):  # the local file wins, as in DVC
        config = repo_root / ".dvc" / name
        if not config.exists():
            continue
        section = ""
        for line in config.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped.strip("[]'\" ").lower()
            elif section == "cache" and stripped.partition("=")[0].strip() == "dir":
                found = (repo_root / ".dvc" / stripped.partition("=")[2].strip()).resolve()
    return found


def object_path(cache: Path, md5: str) -> Path:
    """Where object ``md5`` lives in ``cache``; the id is checked first
    (:func:`cpv.domain.oids.check_oid`), so no path read from a repository leaves the cache."""
    return cache.joinpath("files", "md5", *oid_parts(md5))


def cached_sizes(cache: Path, oids: Iterable[str]) -> dict[str, int]:
    """Object id -> size of those of ``oids`` the local cache holds (one stat each)."""
    found: dict[str, int] = {}
    for oid in oids:
        try:
            st = os.stat(object_path(cache, oid))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISREG(st.st_mode):
            found[oid] = st.st_size
    return found


def _settle(path: Path) -> None:
    """Make an object durable before a commit can name it, then let its pages go.

    A training run writes a version per save: keeping every one in the page cache would
    push out what training reads (and, on a VM, touch fresh memory for each). The sync
    waits on the disk, not the CPU. ``fdatasync`` and ``posix_fadvise`` are absent on macOS
    (and Windows): there it is ``fsync``, and the pages stay cached.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        getattr(os, "fdatasync", os.fsync)(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def place_object(
    cache: Path,
    md5: str,
    *,
    move_from: Path | None = None,
    data: bytes | None = None,
    durable: bool = True,
) -> None:
    """Put object ``md5`` in the cache, read-only: renamed from ``move_from`` (whose bytes
    hash to ``md5``) or written from ``data``; ``durable``: synced before it is named."""
    dest = object_path(cache, md5)
    if dest.exists():
        if move_from is not None:
            move_from.unlink(missing_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        if move_from is not None:
            try:
                os.replace(move_from, tmp)  # same filesystem: a rename, not a copy
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                copy_file(move_from, tmp)  # a cache on another disk
                move_from.unlink()
        else:
            tmp.write_bytes(data or b"")
        os.chmod(tmp, _CACHE_MODE)
        if durable:
            _settle(tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"disk full while writing {dest}", path=dest) from exc
        raise


def store_snapshot(cache: Path, snapshot_root: Path, tree: Tree) -> None:
    """Move the snapshot's files into the cache under their hashes, then the manifest.

    The snapshot is private to cpv and was hashed from these very files, so a rename
    keeps each object's bytes equal to its name. Objects already cached are left alone.
    """
    for entry in tree.entries:
        place_object(cache, entry.md5, move_from=snapshot_root / entry.relpath, data=None)
    place_object(cache, tree.hash, move_from=None, data=tree.manifest)


def pointer_text(path: str, tree: Tree) -> str:
    """``<path>.dvc`` as ``dvc add`` writes it for a folder."""
    return (
        "outs:\n"
        f"- md5: {tree.hash}\n"
        f"  size: {tree.size}\n"
        f"  nfiles: {tree.nfiles}\n"
        "  hash: md5\n"
        f"  path: {Path(path).name}\n"
    )
