"""The only module that imports dvc and dvc_data (with :mod:`cpv._dvc.output`, which keeps
DVC's output off the terminal and translates its failures, and :mod:`cpv._dvc.progress`,
which routes its progress callbacks to the active :class:`cpv.domain.progress.Progress`).

It speaks in tracked paths, pointer files and content hashes; the managers above it
speak in versions. DVC is imported lazily so that ``cpv --help`` and ``cpv list`` stay fast.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cpv._dvc import output as _dvc_output
from cpv._dvc import progress as _dvc_progress
from cpv.domain.errors import DvcError, IntegrityError, InvalidObjectIdError, MissingDataError
from cpv.domain.oids import NOT_CPV, check_oid, listing_entries
from cpv.objects.layout import cache_dir, file_md5, object_path
from cpv.settings.dvc_remote import REMOTE  # noqa: F401  (callers name it _dvc.REMOTE)


@dataclass(frozen=True)
class TrackedContent:
    """What a DVC pointer file records: the md5 (``….dir`` for a directory), size and file count."""

    hash: str
    size: int
    nfiles: int
    path: str = ""  # the file or folder beside the pointer that it names (a plain name)


def _quiet_env() -> None:
    # No telemetry or update checks: cpv must not reach the network beyond the remote.
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    _dvc_output.silence()


def _remote_section(root: Path) -> dict[str, Any] | None:
    """The working tree's ``remote "storage"`` settings (repo + local config), read without
    opening a whole DVC repository."""
    _quiet_env()
    from dvc.config import Config, ConfigError

    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except ConfigError as exc:
        raise DvcError(f"{root / '.dvc' / 'config'}: {exc}") from exc
    section = config.get("remote", {}).get(REMOTE)
    return dict(section) if section else None


@contextmanager
def open_repo(root: Path) -> Iterator[Any]:
    """Open the DVC repo (inside :func:`session`, the session's one)."""
    _quiet_env()
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    shared = _shared.get()
    if shared is not None and shared[0] == root:
        yield shared[1]  # inside `session(root)`: reuse its repository, do not close it
        return
    try:
        repo = Repo(str(root))
    except DvcException as exc:
        raise DvcError(f"cannot open DVC repository at {root}: {exc}") from exc
    try:
        yield repo
    finally:
        repo.close()


_shared: contextvars.ContextVar[tuple[Path, Any] | None] = contextvars.ContextVar(
    "cpv_dvc_session", default=None
)


@contextmanager
def session(root: Path) -> Iterator[None]:
    """Open the DVC repository once for several calls (one ``tag`` hashes, adds and looks up
    lineage): each open costs tens of milliseconds, which background versioning pays per save."""
    if _shared.get() is not None:
        yield
        return
    with open_repo(root) as repo:
        token = _shared.set((root, repo))
        try:
            yield
        finally:
            _shared.reset(token)


def init(root: Path, *, remote_url: str, remote_options: dict[str, str]) -> None:
    """``dvc init`` plus cpv's settings: copy cache (never hardlinks), no telemetry, the remote."""
    _quiet_env()
    from dvc.repo import Repo

    repo = Repo.init(str(root))
    try:
        with repo.config.edit("repo") as conf:
            conf["core"]["remote"] = REMOTE
            conf["core"]["analytics"] = False
            conf["core"]["check_update"] = False
            # Copies (or reflinks where the filesystem can): a training script overwriting a
            # checkpoint in place must never change the bytes of an earlier version.
            conf["cache"]["type"] = "reflink,copy"
            conf["remote"][REMOTE] = {"url": remote_url, **remote_options}
    finally:
        repo.close()


def set_remote(root: Path, *, remote_url: str, remote_options: dict[str, str]) -> None:
    with open_repo(root) as repo:
        with repo.config.edit("repo") as conf:
            conf["remote"][REMOTE] = {"url": remote_url, **remote_options}
            conf["core"]["remote"] = REMOTE


def remote_url(root: Path) -> str | None:
    section = _remote_section(root)
    return str(section["url"]) if section else None


def add(root: Path, path: str) -> TrackedContent:
    """Hash ``path``, copy new objects into the cache and (re)write ``<path>.dvc``.

    ``relink=False``: the workspace file stays the one the user wrote; the cache holds
    its own copy, so later in-place writes cannot reach it, and nothing is copied twice.
    """
    from dvc.exceptions import DvcException

    with open_repo(root) as repo:
        try:
            with _dvc_progress.routed():
                stages = repo.add(str(root / path), relink=False)
        except (DvcException, OSError) as exc:
            raise _dvc_output.local_error(exc) or DvcError(
                f"cannot add {path} to DVC: {exc}"
            ) from exc
        out = stages[0].outs[0]
        meta = out.meta
        return TrackedContent(
            hash=str(out.hash_info.value),
            size=int(meta.size or 0),
            nfiles=int(meta.nfiles or 1),
        )


def hash_path(root: Path, path: str) -> TrackedContent | None:
    """The content hash DVC would record for ``path``, without writing anything."""
    from dvc_data.hashfile.build import build

    full = root / path
    if not full.exists():
        return None
    with open_repo(root) as repo:
        with _dvc_progress.routed():
            _, meta, obj = build(
                repo.cache.local, str(full), repo.fs, "md5", dry_run=True, ignore=repo.dvcignore
            )
        return TrackedContent(
            hash=str(obj.hash_info.value), size=int(meta.size or 0), nfiles=int(meta.nfiles or 1)
        )


#: A pointer exactly as cpv and DVC write one; read without a YAML parser (a thousandth of
#: the time, for ``du`` and ``gc`` over thousands of versions) and to the same values: the
#: numbers have no leading zero, the md5 is no number and the path starts with a letter or
#: ``_`` (not one of YAML's words for true, false or null): YAML would read the same.
_WRITTEN = re.compile(
    r"outs:\n- md5: ([0-9a-f]{32}(?:\.dir)?)\n  size: (0|[1-9][0-9]{0,17})\n"
    r"(?:  nfiles: (0|[1-9][0-9]{0,17})\n)?  hash: md5\n  path: ([A-Za-z_][A-Za-z0-9_.-]{0,200})\n?"
)
_YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null"}


def _written(text: str) -> dict[str, Any] | None:
    """What YAML reads from ``text`` when it is a pointer as written (see ``_WRITTEN``)."""
    match = _WRITTEN.fullmatch(text)
    if match is None or match.group(4).lower() in _YAML_WORDS:
        return None
    md5, size, nfiles, path = match.groups()
    if md5.isdigit() or md5.startswith("0b"):  # YAML would read an int (decimal, octal, binary)
        return None
    out: dict[str, Any] = {"md5": md5, "size": int(size)}
    if nfiles is not None:
        out["nfiles"] = int(nfiles)
    return {"outs": [{**out, "hash": "md5", "path": path}]}


def parse_pointer(text: str, *, where: str = "") -> TrackedContent:
    """What a pointer file's text records, read as untrusted input: its md5 must be an
    object id (:func:`cpv.domain.oids.check_oid`) and its ``path`` a plain name in its folder
    (``where``: the version or commit it was read from, named in errors).

    Raises:
        DvcError: the text is not a DVC pointer file.
        InvalidObjectIdError: its md5 is not an object id, or its path leaves its folder.
    """
    try:
        data = _written(text) or yaml.safe_load(text) or {}
        outs = data.get("outs") if isinstance(data, dict) else None
        outs = outs if isinstance(outs, list) else []
        out = outs[0] if outs else None
        if not isinstance(out, dict):
            raise DvcError(f"{where or 'a pointer file'}: not a DVC pointer file (no outs)")
        if len(outs) != 1 or "wdir" in data:  # DVC would check out every out, from wdir
            raise InvalidObjectIdError(
                f"{where or 'a pointer file'}: names {len(outs)} outputs"
                + (" and a working directory" if "wdir" in data else "")
                + " (cpv and DVC's add write one, beside the pointer)",
                hint=NOT_CPV,
                oid="",
                where=where,
            )
        md5, path = out.get("md5", ""), out.get("path", "")
        size, nfiles = int(out.get("size", 0)), int(out.get("nfiles", 1))
    except (yaml.YAMLError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise DvcError(f"{where or 'a pointer file'}: not a readable DVC pointer file") from exc
    if md5 != "":
        check_oid(md5, where=where)
    if not isinstance(path, str) or path in (".", "..") or "/" in path or "\\" in path:
        raise InvalidObjectIdError(  # a pointer names the file or folder beside it, no other
            f"{where or 'a pointer file'}: its path {str(path)[:80]!r} is not a name beside it",
            hint=NOT_CPV,
            oid=str(md5),
            where=where,
        )
    return TrackedContent(hash=str(md5), size=size, nfiles=nfiles, path=path)


def checkout(root: Path, pointer_file: str, *, where: str = "") -> None:
    """Make the workspace match ``pointer_file`` (removing files it does not list).

    DVC writes wherever a pointer says: the pointer on disk is read first, as untrusted
    input (:func:`parse_pointer`), and must name the file or folder it sits beside.

    Raises:
        InvalidObjectIdError: the pointer names another path (nothing is checked out).
    """
    from dvc.exceptions import CheckoutError, DvcException

    where = where or pointer_file
    content = parse_pointer((root / pointer_file).read_text(), where=where)
    beside = Path(pointer_file).name.removesuffix(".dvc")
    if content.path not in ("", beside):
        raise InvalidObjectIdError(
            f"{where}: the pointer names {content.path!r}, not {beside!r}",
            hint=NOT_CPV,
            oid=content.hash,
            where=where,
        )
    listing = object_path(cache_dir(root), content.hash) if content.hash.endswith(".dir") else None
    try:  # DVC writes each file the listing names (an unreadable one, DVC refuses itself)
        items = json.loads(listing.read_bytes()) if listing is not None else []
    except (OSError, ValueError):
        items = []
    listing_entries(items, where=f"{where} ({content.hash})")

    with open_repo(root) as repo:
        try:
            with _dvc_progress.routed():
                repo.checkout(targets=[str(root / pointer_file)], force=True)
        except CheckoutError as exc:
            raise _dvc_output.local_error(exc) or MissingDataError(
                f"cannot check out {pointer_file}: objects missing from the cache"
            ) from exc
        except (DvcException, OSError) as exc:
            raise _dvc_output.local_error(exc) or DvcError(
                f"cannot check out {pointer_file}: {exc}"
            ) from exc


def verify_workspace(root: Path, path: str, content: TrackedContent) -> None:
    """Re-hash every file of ``path`` (bypassing DVC's hash cache) against its recorded md5."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    full = root / path
    with open_repo(root) as repo:
        if content.hash.endswith(".dir"):
            tree = Tree.load(repo.cache.local, HashInfo("md5", content.hash))
            expected = {"/".join(key): hi.value for key, _, hi in tree}
        else:
            expected = {"": content.hash}
    actual: dict[str, str] = {}
    if full.is_dir():
        for file in sorted(p for p in full.rglob("*") if p.is_file()):
            actual[file.relative_to(full).as_posix()] = file_md5(file)[0]
    elif full.is_file():
        actual[""] = file_md5(full)[0]
    if actual != expected:
        bad = sorted(k or path for k in set(expected) ^ set(actual)) + sorted(
            k or path for k in set(expected) & set(actual) if expected[k] != actual[k]
        )
        raise IntegrityError(
            f"{path}: content does not match {content.hash} ({', '.join(bad[:5])})"
        )
