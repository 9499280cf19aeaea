"""An opened model repository: its root, its ``cpv.yaml``, its git adapter and its versions.

Creating one is ``cpv init`` (:mod:`cpv.ops.init`).
"""

from __future__ import annotations

import heapq
from collections.abc import Container, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cpv._git import repo as _git
from cpv.domain.errors import NotARepositoryError, VersionNotFoundError
from cpv.domain.metadata import VersionRecord, decode_tag_message
from cpv.domain.paths import StrPath
from cpv.domain.versions import Kind, Version, parse_tag_name, tag_name
from cpv.settings.config import RepoConfig, load_repo_config

#: Append-only JSON lines, one per version made (merged by union: see ``.gitattributes``).
METRICS_LOG = "metrics.log"


class ModelRepo:
    """An opened model repository: its root, its ``cpv.yaml`` and its git adapter."""

    def __init__(self, root: Path, config: RepoConfig) -> None:
        self.foreign_tags: list[str] = []
        self.root = root
        self.config = config
        self.git = _git.GitRepo(root)

    @classmethod
    def open(cls, path: StrPath = ".") -> ModelRepo:
        start = Path(path).expanduser().resolve()
        if not start.exists():
            raise NotARepositoryError(f"no such directory: {start}")
        root = _git.find_root(start)
        if root is None or not (root / "cpv.yaml").exists():
            raise NotARepositoryError(f"not a cpv model repository: {start}")
        return cls(root, load_repo_config(root))

    @property
    def git_dir(self) -> Path:
        return self.root / ".git"

    def path_of(self, kind: Kind) -> str:
        return self.config.model_path if kind is Kind.MODEL else self.config.data_path

    def pointer_of(self, kind: Kind) -> str:
        return f"{self.path_of(kind)}.dvc"

    # --- versions ----------------------------------------------------------------
    def records(self, kind: Kind | None = None) -> list[VersionRecord]:
        """Every version (one git call), numerically by version, model before data."""
        prefixes = [kind.value] if kind else [Kind.MODEL.value, Kind.DATA.value]
        records, self.foreign_tags = records_of(self.git.list_tags(*prefixes))
        return records

    def latest(self, kind: Kind) -> VersionRecord | None:
        return self.newest([kind])

    def newest(
        self, kinds: Sequence[Kind], *, skip: Container[str] = (), names: list[str] | None = None
    ) -> VersionRecord | None:
        """The last of :meth:`records` of ``kinds`` whose tag is not in ``skip`` (``names``:
        as :meth:`newest_first` takes them)."""
        return next(self.newest_first(kinds, skip=skip, names=names), None)

    def tag_names(self) -> list[str]:
        """Every tag name under ``model/`` and ``data/`` (cpv's or not), without the
        messages: one git call whose cost is the names'."""
        refs = [f"refs/tags/{k.value}" for k in Kind]
        return self.git.run("for-each-ref", "--format=%(refname:strip=2)", *refs).splitlines()

    def newest_first(
        self, kinds: Sequence[Kind], *, skip: Container[str] = (), names: list[str] | None = None
    ) -> Iterator[VersionRecord]:
        """:meth:`records` of ``kinds`` (but tags in ``skip``) from the newest, their messages
        read a few at a time from the highest (a tag that is not cpv's is passed over, as
        :meth:`records` leaves it out): git sorts the names and reads the highest few, or,
        given ``names`` (as :meth:`tag_names` gives them), those are sorted here."""
        if names is None:  # git sorts the names and reads the highest few: nothing per version here
            each = [self._highest(k, skip) for k in kinds]
            yield from heapq.merge(*each, key=_order, reverse=True)
            return
        named = [(p, n) for n in names if (p := parse_tag_name(n)) and p[0] in kinds]
        named = [(p, n) for p, n in named if n not in skip]
        named.sort(key=lambda pn: (pn[0][1], pn[0][0] is not Kind.MODEL), reverse=True)
        start, batch = 0, 4
        while start < len(named):
            chunk = [name for _, name in named[start : start + batch]]
            yield from reversed(records_of(self.git.list_tags(*chunk))[0])
            start, batch = start + batch, batch * 4

    def _highest(self, kind: Kind, skip: Container[str]) -> Iterator[VersionRecord]:
        """``kind``'s records from the newest: the 4, 16, 64… highest tags by git's version
        sort, each time those not read before (a name cpv does not read is passed over)."""
        seen: set[str] = set()
        count = 4
        while True:
            tags = self.git.list_tags(kind.value, highest=count)
            fresh = [t for t in tags if t.name not in seen and t.name not in skip]
            seen.update(t.name for t in tags)
            yield from reversed(records_of(fresh)[0])
            if len(tags) < count:
                return
            count *= 4

    def find(self, kind: Kind, version: Version) -> VersionRecord:
        """The record of one version: its own tag read, the others not.

        Raises:
            VersionNotFoundError: there is no such version.
        """
        name = tag_name(kind, version)
        for record in records_of(self.git.list_tags(name))[0]:
            if record.tag == name and record.parsed_version == version:
                return record
        raise VersionNotFoundError(f"{tag_name(kind, version)} does not exist")

    # --- safety ------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[list[str]]:
        """Hold the repository lock; first repair what a dead writer left. Yields repairs made.

        The thin entry to :func:`cpv.core.transaction.transaction` for a change without an intent.
        """
        from cpv.core.transaction import transaction  # writes only: reads start faster

        with transaction(self) as txn:
            yield txn.repairs


def _order(record: VersionRecord) -> tuple[Version, bool]:
    """Where :meth:`ModelRepo.records` puts a record: by version, the model's first."""
    return record.parsed_version, record.kind is not Kind.MODEL


def records_of(tags: list[_git.TagRef]) -> tuple[list[VersionRecord], list[str]]:
    """The versions ``tags`` hold, numerically by version, model before data; and the names
    of tags under model/ and data/ that cpv did not make (no metadata: never touched, and
    their names are never given to a new version)."""
    records = []
    foreign = []
    for ref in tags:
        record = decode_tag_message(ref.contents, commit=ref.commit)
        if record is not None and record.tag == ref.name:
            records.append(record)
        else:
            foreign.append(ref.name)
    records.sort(key=lambda r: (r.parsed_version, r.kind is not Kind.MODEL))
    return records, foreign
