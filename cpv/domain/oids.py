"""Object ids and listing paths read from untrusted places, validated in one place.

An object's name is the md5 of its bytes (32 lowercase hex digits; a folder's listing adds
``.dir``), and a listing names each file by a posix path inside its folder. Whatever is
read from git (pointer files, ``.dir`` listings, tags), from the storage's listings or from
an index comes from whoever pushed it: a teammate's plain ``git commit`` can put
``../../home/me/.ssh/id_ed25519`` where an md5 belongs. Every id passes :func:`check_oid`
(through :func:`cpv.objects.layout.object_path` and the storage's key function, so no caller can
skip it) before it becomes a path or a key, and every listing path passes
:func:`check_relpath` before a file is written from it.
"""

from __future__ import annotations

import os
import re

from cpv.domain.errors import IntegrityError, InvalidObjectIdError

_MD5 = re.compile(r"[0-9a-f]{32}")
#: The hint of every refusal here.
NOT_CPV = "Nothing was changed. cpv and DVC never write such a name: ask who pushed that version."
_KIND = {True: "a listing id", False: "a file id", None: "an object id"}


def is_oid(text: str) -> bool:
    """Whether ``text`` is an object id (a file's md5, or a listing's ``md5.dir``)."""
    return _MD5.fullmatch(text.removesuffix(".dir")) is not None


def check_oid(oid: object, *, listing: bool | None = None, where: str = "") -> str:
    """``oid`` when it is an object id: 32 lowercase md5 hex digits, with ``.dir`` for a
    listing (``listing``: True a listing only, False never a listing, None either).

    Raises:
        InvalidObjectIdError: anything else (an absolute or ``../`` path, upper case …),
            naming ``where`` (the version or commit that holds it).
    """
    text = oid if isinstance(oid, str) else ""
    md5, dot_dir = (text[:-4], True) if text.endswith(".dir") else (text, False)
    if _MD5.fullmatch(md5) and (listing is None or listing is dot_dir):
        return text
    raise InvalidObjectIdError(
        f"{_at(where)}{_shown(oid)} is not {_KIND[listing]} (an md5: 32 lowercase hex digits"
        f"{'' if listing is False else ', plus .dir for a listing'})",
        hint=NOT_CPV,
        oid=text,
        where=where,
    )


def oid_parts(oid: str) -> tuple[str, str]:
    """The two parts of ``oid``'s place in DVC's layout (``xx``, the rest), the id checked:
    how the cache and the storages turn an id into a path or a key."""
    checked = check_oid(oid)
    return checked[:2], checked[2:]


def check_relpath(relpath: object, *, where: str = "") -> str:
    """``relpath`` when it is a file's path inside its folder, as a listing records it:
    posix, relative, no empty, ``.`` or ``..`` part, no NUL (on Windows no ``\\`` or ``:``).

    Raises:
        InvalidObjectIdError: a path that would leave the folder, or no path at all.
    """
    text = relpath if isinstance(relpath, str) else ""
    bad = not text or "\0" in text or any(p in ("", ".", "..") for p in text.split("/"))
    if os.name == "nt":
        bad = bad or "\\" in text or ":" in text
    if bad:
        raise InvalidObjectIdError(
            f"{_at(where)}the listing names the file {_shown(relpath)}, which is not a path "
            "inside its folder",
            hint=NOT_CPV,
            oid=text,
            where=where,
        )
    return text


def check_bytes(oid: str, md5: str) -> None:
    """Bytes about to be uploaded hashed to ``md5``: they may replace the storage's copy
    only when that is the object's name.

    Raises:
        IntegrityError: they are not the object's bytes (a truncated or damaged copy).
    """
    if md5 != oid.removesuffix(".dir"):
        raise IntegrityError(
            f"the local copy of object {oid} is corrupt (its bytes hash to {md5}): not "
            "uploaded, the storage's copy is untouched",
            hint="Run `cpv verify --all-versions --deep --repair`: it sets the corrupt copy "
            "aside and fetches a good one from the storage.",
        )


def listing_entries(items: object, *, where: str) -> list[tuple[str, str]]:
    """(md5, relpath) of each file a ``.dir`` listing names, every one checked.

    Raises:
        InvalidObjectIdError: the listing is not a list of ``{md5, relpath}``, or names a
            listing, a non-id or a path outside its folder.
    """
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidObjectIdError(
            f"{where}: the listing is not a list of files", hint=NOT_CPV, oid="", where=where
        )
    entries = [
        (
            check_oid(i.get("md5"), listing=False, where=where),
            check_relpath(i.get("relpath"), where=where),
        )
        for i in items
    ]
    paths = {relpath for _, relpath in entries}
    for _, relpath in entries:  # one file per path, and no file where a folder must be
        parts = relpath.split("/")
        clash = next((p for n in range(1, len(parts)) if (p := "/".join(parts[:n])) in paths), None)
        if clash is not None or len(paths) != len(entries):
            raise InvalidObjectIdError(
                f"{where}: the listing names {clash or 'a file'} twice (as a file and as a "
                "folder, or two files at one path)",
                hint=NOT_CPV,
                oid="",
                where=where,
            )
    return entries


def _at(where: str) -> str:
    return f"{where}: " if where else ""


def _shown(value: object) -> str:
    """A value read from an untrusted place, quoted and cut short (control characters
    escaped by ``repr``) for a one-line message."""
    text = repr(value) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "…"
