"""The bytes of a checkpoint many ranks save together (``torch.distributed.checkpoint``).

Each rank writes its own files into a folder of its own node: ``__<rank>_<n>.distcp`` (and
``__<rank>.metadata`` when DCP runs without a coordinator); the coordinator, rank 0, also
writes ``.metadata``. Here:

* :func:`foreign_names` says which files of a folder are *not* this rank's (on a shared
  filesystem every rank sees every file: each versions only its own);
* :func:`upload_rank_files` hashes one rank's snapshot and uploads its objects straight to
  the model's storage, in DVC's content-addressed layout, with the credentials and storage
  settings this node reads itself;
* :func:`combine` puts every rank's list (``relpath``, ``md5``, ``size``) together into the
  version's tree, and :class:`GatheredSnapshot` lets rank 0 version that tree: it writes
  the ``.dir`` listing only, as every file is already in the storage.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cpv._faults import fault_point
from cpv.domain.errors import DistributedSaveError
from cpv.domain.metadata import MAX_NAMES, RankShards, ShardLayout
from cpv.domain.oids import is_oid
from cpv.objects import layout as objects
from cpv.objects.store import store_for
from cpv.settings.credentials import applied_env

#: A file of one rank: DCP names them ``__<rank>_<n>.distcp`` / ``__<rank>.metadata``.
_RANK_FILE = re.compile(r"^__(\d+)[_.]")


def owner_of(name: str) -> int:
    """The rank a top-level file of a DCP folder belongs to; anything not named after a
    rank (``.metadata``, a file the script adds) belongs to rank 0, the coordinator."""
    found = _RANK_FILE.match(name)
    return int(found.group(1)) if found else 0


def foreign_names(folder: Path, rank: int) -> list[str]:
    """Ignore patterns (exact names, escaped) for the entries of ``folder`` that another
    rank versions."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [re.sub(r"([*?[])", r"[\1]", n) for n in names if owner_of(n) != rank]


class ShardEntry(BaseModel):
    """One file of one rank, as the rank reports it (validated on receipt)."""

    model_config = ConfigDict(extra="forbid")

    relpath: Annotated[str, Field(min_length=1, max_length=4096)]
    md5: str
    size: Annotated[int, Field(ge=0)]

    @field_validator("relpath")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value)
        if path.is_absolute() or ".." in path.parts or str(path) != value or "\\" in value:
            raise ValueError(f"not a relative path inside the checkpoint: {value[:80]!r}")
        return value

    @field_validator("md5")
    @classmethod
    def _an_object(cls, value: str) -> str:
        if not is_oid(value) or value.endswith(".dir"):
            raise ValueError(f"not a file's md5: {value[:40]!r}")
        return value


class RankReport(BaseModel):
    """What one rank says of its part of a save: its files, or why it failed."""

    model_config = ConfigDict(extra="forbid")

    rank: Annotated[int, Field(ge=0)]
    entries: list[ShardEntry] = Field(default_factory=list)
    error: str | None = None


def upload_rank_files(
    root: Path, snap: objects.Snapshot, *, keep: bool, staging: Path
) -> list[ShardEntry]:
    """Hash ``snap`` (one rank's files) and upload the objects the model's storage lacks;
    the snapshot is then empty.

    ``keep``: rank 0, whose clone makes the version: the objects go into its cache first
    (moved, not copied) and are uploaded from there. Any other rank uploads straight from
    the snapshot (written out under ``staging`` if it is in memory) and leaves its clone's
    cache alone: ranks of one node may share a clone.

    Raises:
        CpvError: the storage refused or failed; DiskFullError: a disk is full.
    """
    tree = snap.tree()
    oids = sorted({e.md5 for e in tree.entries})
    written: Path | None = None  # a snapshot in memory, written out to be uploaded
    try:
        if keep:
            cache = objects.cache_dir(root)
            _store_files(snap, cache, tree)
            source = {e.md5: objects.object_path(cache, e.md5) for e in tree.entries}
        else:
            folder = written = _on_disk(snap, staging)
            source = {e.md5: folder / e.relpath for e in tree.entries}
        fault_point("shard_upload")
        store = store_for(root)
        with applied_env(store.env()):
            store.connect()
            for oid in store.missing(oids):
                store.upload(oid, source[oid])
    finally:
        snap.discard()
        if written is not None:
            shutil.rmtree(written, ignore_errors=True)
    return [ShardEntry(relpath=e.relpath, md5=e.md5, size=e.size) for e in tree.entries]


def _store_files(snap: objects.Snapshot, cache: Path, tree: objects.Tree) -> None:
    """The snapshot's files into the cache under their hashes (no listing: a rank's part of
    a save is no version)."""
    if isinstance(snap, objects.MemorySnapshot):
        data = dict(snap.files)
        for entry in tree.entries:
            objects.place_object(cache, entry.md5, data=data[entry.relpath])
        return
    if isinstance(snap, objects.FolderSnapshot):
        for entry in tree.entries:
            objects.place_object(cache, entry.md5, move_from=snap.root / entry.relpath)
        return
    raise TypeError(f"cannot store a {type(snap).__name__}")


def _on_disk(snap: objects.Snapshot, staging: Path) -> Path:
    """The folder holding the snapshot's files (a snapshot in memory is written out)."""
    if isinstance(snap, objects.FolderSnapshot):
        return snap.root
    if isinstance(snap, objects.MemorySnapshot):
        folder = staging / f"upload-{uuid.uuid4().hex}"
        folder.mkdir(parents=True)
        snap.keep_in(folder)
        return folder
    raise TypeError(f"cannot upload a {type(snap).__name__}")


def combine(reports: Sequence[RankReport], *, world_size: int) -> tuple[objects.Tree, ShardLayout]:
    """The version's tree from every rank's files, and how they were spread over the ranks.

    Raises:
        DistributedSaveError: a rank did not report, or two ranks hold the same file name.
    """
    ranks = sorted(r.rank for r in reports)
    if ranks != list(range(world_size)):
        raise DistributedSaveError(
            f"the ranks that reported ({ranks}) are not the {world_size} of the save",
            hint="Every rank of the process group must log the save (distributed=True).",
            failed={r: "did not report" for r in range(world_size) if r not in ranks},
        )
    holder: dict[str, int] = {}
    for report in reports:
        for entry in report.entries:
            if entry.relpath in holder:
                raise DistributedSaveError(
                    f"ranks {holder[entry.relpath]} and {report.rank} both saved {entry.relpath}",
                    hint="Each rank must write files of its own names (DCP's are).",
                    failed={report.rank: f"{entry.relpath} is also rank {holder[entry.relpath]}'s"},
                )
            holder[entry.relpath] = report.rank
    entries = [objects.FileEntry(e.relpath, e.md5, e.size) for r in reports for e in r.entries]
    tree = objects.Tree(tuple(sorted(entries, key=lambda e: e.relpath)))
    layout = ShardLayout(
        world_size=world_size,
        ranks=[
            RankShards(
                rank=r.rank,
                file_count=len(r.entries),
                size_bytes=sum(e.size for e in r.entries),
                files=sorted(e.relpath for e in r.entries)[:MAX_NAMES],
            )
            for r in sorted(reports, key=lambda r: r.rank)
        ],
    )
    return tree, layout


class GatheredSnapshot(objects.Snapshot):
    """The tree of a save whose files every rank has already uploaded: versioning it writes
    the ``.dir`` listing into the local cache (a push uploads it), nothing else."""

    def __init__(self, tree: objects.Tree) -> None:
        self._tree = tree

    def tree(self) -> objects.Tree:
        return self._tree

    def store(self, cache: Path, tree: objects.Tree) -> None:
        objects.place_object(cache, tree.hash, data=tree.manifest)

    def discard(self) -> None:
        pass

    @property
    def size(self) -> int:
        return 0
