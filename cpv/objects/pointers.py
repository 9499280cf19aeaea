"""The pointer files of a commit, and every object they need, each id checked.

A version needs its pointer's object and, for a folder, its ``.dir`` listing and every
file the listing names. All of it is read from git (or from a listing a teammate pushed),
so every id and every listing path goes through :mod:`cpv.domain.oids` here, before anyone turns
it into a path, a key, an upload or a deletion.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cpv._dvc import repo as _dvc
from cpv._git import repo as _git
from cpv.domain.errors import MissingDataError
from cpv.domain.oids import listing_entries
from cpv.objects.layout import object_path


@dataclass
class Pointer:
    """One ``.dvc`` pointer: who needs it (a version label), its file, its text."""

    label: str
    name: str
    text: str
    commit: str = ""

    @property
    def out(self) -> str:
        return self.name.removesuffix(".dvc")

    @property
    def where(self) -> str:
        """The version (and commit) naming this pointer, for an error."""
        shown = self.commit and not self.commit.startswith(self.label)
        at = f" (commit {self.commit[:10]})" if shown else ""
        return f"{self.label}{at}: {self.name}"


@dataclass
class Needed:
    """Objects a set of pointers needs: object id -> the first place that needs it."""

    files: dict[str, str] = field(default_factory=dict)
    listings: dict[str, str] = field(default_factory=dict)


ListingFn = Callable[[str, Pointer], list[dict[str, str]]]


def pointers_at(root: Path, commit: str, *, label: str, only: Iterable[str] = ()) -> list[Pointer]:
    """The pointer files of ``commit`` (``only``: just these names)."""
    git = _git.GitRepo(root)
    wanted = set(only)
    names = git.run("ls-tree", "-r", "--name-only", commit).splitlines()
    found = []
    for name in names:
        if name.endswith(".dvc") and (not wanted or name in wanted):
            text = git.show_file(commit, name)
            if text:
                found.append(Pointer(label, name, text, commit))
    return found


def pointer_each(root: Path, wants: Sequence[tuple[str, str, str]]) -> list[Pointer | None]:
    """For each ``(label, commit, name)`` of ``wants``, what :func:`pointers_at` finds with
    ``only=[name]`` (None: no such pointer file there): all of them read by one git call."""
    texts = _git.GitRepo(root).read_files([f"{commit}:{name}" for _, commit, name in wants])
    return [
        Pointer(label, name, text, commit) if text else None
        for (label, commit, name), text in zip(wants, texts, strict=True)
    ]


def needed_objects(pointers: Sequence[Pointer], listing: ListingFn) -> Needed:
    """Every object ``pointers`` need; ``listing`` reads (or fetches) a ``.dir`` listing.

    Raises:
        InvalidObjectIdError: a pointer or a listing names something that is not an object
            id, or a file outside its folder (naming the version and commit): nothing the
            caller would do with these ids may happen.
    """
    needed = Needed()
    for p in pointers:
        oid = _dvc.parse_pointer(p.text, where=p.where).hash
        if not oid:
            continue
        if not oid.endswith(".dir"):
            needed.files.setdefault(oid, f"{p.label}: {p.out}")
            continue
        needed.listings.setdefault(oid, f"{p.label}: {p.out}/ (its listing)")
        for md5, relpath in listing_entries(listing(oid, p), where=f"{p.where} ({oid})"):
            needed.files.setdefault(md5, f"{p.label}: {p.out}/{relpath}")
    return needed


def cached_listing(cache: Path) -> ListingFn:
    """Read listings from the local cache; a missing one is a :class:`MissingDataError`."""

    def read(oid: str, p: Pointer) -> list[dict[str, str]]:
        path = object_path(cache, oid)
        if not path.is_file():
            raise MissingDataError(
                f"{p.label}: the listing of {p.out}/ ({oid}) is not in the local cache",
                hint="Nothing was published. Fetch it (`cpv pull`) or re-create the version.",
            )
        return list(json.loads(path.read_bytes()))

    return read
