"""Compact versions in DVC's layout: a checkpoint file stored as its recipe and segments.

In a model whose ``cpv.yaml`` says ``storage: {layout: compact}``, each checkpoint file
(``.safetensors``, ``.pt``, ``.pth``, ``.bin``) of a version is cut at its tensors
(:mod:`cpv.tensors`). The version's ``.dir`` listing then names, instead of the file:

* ``.cpv-compact/<path>.recipe``: the recipe (the file's md5, size, ordered segments);
* ``.cpv-compact/segments/<oid>``: each segment object, once per listing.

Every other file is listed as it is. Segments are ordinary objects named by their md5: a
tensor an earlier version already stored is the same object, stored once; push, fetch,
``verify``, ``gc`` and ``du`` count them like any object, and an object stays while any kept
version's listing names it. Plain ``dvc pull`` gets the recipes and segments; ``cpv pull``,
``clone``, ``get`` and ``revert`` rebuild the files (:func:`plan_checkout`), each checked
against the md5 it was saved with.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cpv.domain.errors import RecipeError
from cpv.domain.metadata import CompactLayout, VersionRecord
from cpv.domain.oids import check_relpath, listing_entries
from cpv.objects.layout import (
    FileEntry,
    FolderSnapshot,
    MemorySnapshot,
    Snapshot,
    Tree,
    object_path,
    place_object,
)
from cpv.tensors.compose import decompose, md5_of, rebuild
from cpv.tensors.recipe import Recipe, parse

COMPACT_DIR = ".cpv-compact"
RECIPE_SUFFIX = ".recipe"
SEGMENTS = f"{COMPACT_DIR}/segments/"
#: The files stored per tensor; any other file is stored whole.
SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


@dataclass(frozen=True)
class Compacted:
    """A folder's compact tree (what the pointer names) and the files it stands for."""

    tree: Tree
    files: Tree  # the workspace's files, as ``hash_tree`` sees them
    stored: int  # bytes of the version's objects, each once

    @property
    def hash(self) -> str:
        return self.tree.hash

    @property
    def size(self) -> int:
        return self.files.size

    @property
    def nfiles(self) -> int:
        return self.files.nfiles


def same_files(latest: VersionRecord | None, content: Tree | Compacted) -> bool:
    """Whether ``content`` (a hashed folder, or its compact tree) holds ``latest``'s files."""
    files = content.files if isinstance(content, Compacted) else content
    return latest is not None and latest.files_hash in (content.hash, files.hash)


def layout_of(content: Tree | Compacted, *, compress: str) -> CompactLayout | None:
    """What a version's record says of its compact storage (None: stored whole)."""
    if not isinstance(content, Compacted):
        return None
    return CompactLayout(
        files_hash=content.files.hash, stored_bytes=content.stored, compress=compress
    )


def eligible(relpath: str) -> bool:
    return relpath.lower().endswith(SUFFIXES)


def is_compact(tree: Tree) -> bool:
    return any(e.relpath.startswith(f"{COMPACT_DIR}/") for e in tree.entries)


def compact(
    files: Tree,
    *,
    folder: Path,
    cache: Path,
    copies: dict[str, Path],
    zstd: int | None,
    opener: Callable[[FileEntry], BinaryIO] | None = None,
    direct: Sequence[str] = (),
) -> Compacted:
    """The compact tree of ``files`` (the hashed ``folder``) and of the checkpoint files
    ``direct`` (paths in ``folder`` not hashed yet: each is read once, as it is cut). Each
    object it names that the cache lacks is written to a temporary file in the cache and
    added to ``copies`` (md5 -> file), as :mod:`cpv.objects.ingest` stages them; the whole
    copies of the checkpoint files are dropped from ``copies`` (their bytes are the
    segments now). ``zstd``: the zstandard level segments are compressed with (None: not
    compressed). ``opener`` (a private snapshot's files): every file is read through it,
    and the other files are staged too.

    Raises:
        RecipeError: a file changed between its hashing and its cutting, or a path of the
            folder is cpv's own (``.cpv-compact/``).
    """
    stager = _Stager(cache, copies)
    entries: dict[str, FileEntry] = {}
    logical: list[FileEntry] = []
    whole: set[str] = set()
    for entry in [*files.entries, *(FileEntry(rel, "", 0) for rel in direct)]:
        if entry.relpath.startswith(f"{COMPACT_DIR}/"):
            raise RecipeError(
                f"{folder.name}/{entry.relpath}: {COMPACT_DIR}/ is where cpv keeps compact "
                "files' recipes",
                hint=f"Rename or remove {folder.name}/{COMPACT_DIR}/ and tag again.",
                where=entry.relpath,
            )
        if not eligible(entry.relpath):
            entries[entry.relpath] = entry
            logical.append(entry)
            if opener is not None:
                with opener(entry) as fh:
                    stager.put_stream(entry.md5, fh)
            continue
        recipe = _cut(entry, folder, stager, opener=opener, zstd=zstd)
        whole.add(entry.md5 or recipe.md5)
        logical.append(FileEntry(entry.relpath, recipe.md5, recipe.size))
        for listed in _listed(entry.relpath, recipe, stager):
            entries.setdefault(listed.relpath, listed)
    for md5 in whole - {e.md5 for e in entries.values()}:
        tmp = copies.pop(md5, None)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    tree = Tree(tuple(sorted(entries.values(), key=lambda e: e.relpath)))
    files = Tree(tuple(sorted(logical, key=lambda e: e.relpath)))
    return Compacted(tree=tree, files=files, stored=tree.size)


def _cut(
    entry: FileEntry,
    folder: Path,
    stager: _Stager,
    *,
    opener: Callable[[FileEntry], BinaryIO] | None,
    zstd: int | None,
) -> Recipe:
    """The recipe of one checkpoint file, its objects staged; a file hashed before
    (``entry.md5``) must still be what was hashed."""
    if opener is not None:
        source = opener(entry)
    elif not entry.md5:  # not hashed yet: read once, here
        source = open(folder / entry.relpath, "rb")  # noqa: SIM115 - closed below
    else:
        source = open(_source(entry, folder, stager.cache, stager.copies), "rb")  # noqa: SIM115
    with source as fh:
        recipe = decompose(fh, put=stager.put, compress=zstd is not None, level=zstd or 1)
    if entry.md5 and recipe.md5 != entry.md5:
        raise RecipeError(
            f"{folder.name}/{entry.relpath} changed while it was being versioned",
            hint="Wait until the save is complete, then tag again.",
            where=entry.relpath,
        )
    return recipe


class _Stager:
    """Objects about to be versioned, each written once to a temporary file in the cache."""

    def __init__(self, cache: Path, copies: dict[str, Path]) -> None:
        self.cache, self.copies = cache, copies

    def put(self, oid: str, data: bytes) -> None:
        self.put_stream(oid, io.BytesIO(data))

    def put_stream(self, oid: str, fh: BinaryIO) -> None:
        if oid not in self.copies and not object_path(self.cache, oid).exists():
            tmp = object_path(self.cache, oid).parent.parent / f".stage-{uuid.uuid4().hex}.tmp"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                shutil.copyfileobj(fh, out)
            self.copies[oid] = tmp


def _listed(relpath: str, recipe: Recipe, stager: _Stager) -> list[FileEntry]:
    """The listing entries of one compact file: its recipe (staged here), its segments."""
    body = recipe.dump()
    stager.put(md5_of(body), body)
    name = f"{COMPACT_DIR}/{relpath}{RECIPE_SUFFIX}"
    out = [FileEntry(name, md5_of(body), len(body))]
    for seg in recipe.segments:
        if seg.oid is not None:
            out.append(FileEntry(SEGMENTS + seg.oid, seg.oid, seg.stored))
    return out


def _source(entry: FileEntry, folder: Path, cache: Path, copies: dict[str, Path]) -> Path:
    """The steadiest copy of a file's bytes: the one staged while hashing, the cache's, or
    (a file unchanged since it was last hashed) the workspace's."""
    if entry.md5 in copies:
        return copies[entry.md5]
    cached = object_path(cache, entry.md5)
    return cached if cached.exists() else folder / entry.relpath


def snapshot_opener(snap: Snapshot) -> Callable[[FileEntry], BinaryIO]:
    """How :func:`compact` reads a private snapshot's files (in memory, or in its folder)."""
    if isinstance(snap, MemorySnapshot):
        data = dict(snap.files)
        return lambda entry: io.BytesIO(data[entry.relpath])
    root = snap.root if isinstance(snap, FolderSnapshot) else Path()
    return lambda entry: open(root / entry.relpath, "rb")  # noqa: SIM115 - the caller closes


def store_compacted(cache: Path, compacted: Compacted, copies: dict[str, Path]) -> None:
    """Rename the objects staged for ``compacted`` (``copies``) to their names, then write
    its listing: the version's bytes are in the cache."""
    for oid, tmp in list(copies.items()):
        place_object(cache, oid, move_from=tmp)
        del copies[oid]
    place_object(cache, compacted.tree.hash, data=compacted.tree.manifest)


def discard(copies: dict[str, Path]) -> None:
    """Drop what was staged and not stored (a version not made)."""
    for tmp in copies.values():
        tmp.unlink(missing_ok=True)
    copies.clear()


@dataclass(frozen=True)
class Planned:
    """A file a checkout writes: copied from object ``entry.md5``, or rebuilt by ``recipe``."""

    entry: FileEntry
    recipe: Recipe | None = None


def plan_checkout(cache: Path, tree: Tree, *, where: str) -> list[Planned]:
    """The files a version's folder holds: each listed file, or (compact) each file a recipe
    rebuilds; segments are not files of the folder. Recipes are read from the cache and
    checked (:func:`cpv.tensors.recipe.parse`).

    Raises:
        RecipeError: a recipe is not one cpv writes, or names a segment its listing lacks.
    """
    if not is_compact(tree):
        return [Planned(e) for e in tree.entries]
    listed = {e.md5 for e in tree.entries if e.relpath.startswith(SEGMENTS)}
    out = []
    for entry in tree.entries:
        if entry.relpath.startswith(SEGMENTS):
            continue
        if not entry.relpath.startswith(f"{COMPACT_DIR}/"):
            out.append(Planned(entry))
            continue
        name = entry.relpath[len(COMPACT_DIR) + 1 :]
        if not name.endswith(RECIPE_SUFFIX) or not name[: -len(RECIPE_SUFFIX)]:
            raise RecipeError(f"{where}: {entry.relpath} is no recipe cpv writes", where=where)
        relpath = check_relpath(name[: -len(RECIPE_SUFFIX)], where=where)
        recipe = read_recipe(cache, entry.md5, where=f"{where}: {relpath}")
        if set(recipe.oids) - listed:
            raise RecipeError(
                f"{where}: the recipe of {relpath} names segments its version does not list",
                where=where,
            )
        out.append(Planned(FileEntry(relpath, recipe.md5, recipe.size), recipe))
    # one file per path, none where a folder must be (a listing naming a.pt and a.pt's recipe)
    listing_entries([{"md5": p.entry.md5, "relpath": p.entry.relpath} for p in out], where=where)
    return out


def read_recipe(cache: Path, oid: str, *, where: str) -> Recipe:
    return parse(object_path(cache, oid).read_bytes(), where=where)


def files_of(cache: Path, tree: Tree, *, where: str) -> Tree:
    """The files a version's folder holds once checked out (a compact tree's files rebuilt)."""
    planned = plan_checkout(cache, tree, where=where)
    return Tree(tuple(sorted((p.entry for p in planned), key=lambda e: e.relpath)))


def check_rebuilt(cache: Path, tree: Tree, *, where: str) -> int:
    """Rebuild each file of a compact tree from the cache, writing nothing, and check it
    against the md5 it was saved with; the number of files rebuilt.

    Raises:
        RecipeError: a recipe is refused, or a file does not rebuild to the bytes saved.
    """
    planned = [p for p in plan_checkout(cache, tree, where=where) if p.recipe is not None]
    for p in planned:
        assert p.recipe is not None
        rebuild(
            p.recipe,
            read=lambda oid: object_path(cache, oid).read_bytes(),
            out=None,
            where=f"{where}: {p.entry.relpath}",
        )
    return len(planned)
