"""A checkpoint file into a recipe and its segment objects, and back, bit-exact.

:func:`decompose` reads the file once, in order: each span (:mod:`cpv.tensors.formats`) is
hashed into the file's md5, encoded (:mod:`cpv.tensors.codec`) when compression is on, and
handed to ``put`` as an object named by the md5 of its stored bytes (DVC's rule), or kept
inline when tiny. :func:`rebuild` writes the segments back in order into an open file and
checks the file's size and md5 at the end: a mismatch raises, and the caller (which writes
to a temporary name) never puts a wrong file in place.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from cpv.domain.errors import RecipeError
from cpv.tensors import codec
from cpv.tensors.formats import Span, spans_of
from cpv.tensors.recipe import INLINE_MAX, Recipe, Segment

#: put(oid, stored bytes): store one object (a no-op when it is already stored).
Put = Callable[[str, bytes], None]
#: read(oid): one object's stored bytes.
Read = Callable[[str], bytes]


def md5_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def decompose(
    source: Path | BinaryIO, *, put: Put, compress: bool = False, level: int = 1
) -> Recipe:
    """The recipe of the file at ``source`` (a path, or a seekable file open for reading);
    every object it names has been ``put``.

    ``compress``: encode tensors (byte planes + zstd) and large non-tensor segments (zstd)
    where it pays; needs the ``compact`` extra (:func:`cpv.tensors.codec.require`).
    """
    if compress:
        codec.require()
    if isinstance(source, Path):
        with open(source, "rb") as fh:
            return _decompose(fh, source.name, put=put, compress=compress, level=level)
    return _decompose(source, "the file", put=put, compress=compress, level=level)


def _decompose(fh: BinaryIO, name: str, *, put: Put, compress: bool, level: int) -> Recipe:
    """The file's md5 is computed in a second thread while each segment is encoded, hashed
    and put (hashlib releases the GIL): the two md5 passes overlap instead of adding up."""
    digest = hashlib.md5(usedforsecurity=False)
    size = fh.seek(0, 2)
    fmt, spans = spans_of(fh, size)
    segments = []
    fh.seek(0)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cpv-md5") as pool:
        for span in spans:
            data = fh.read(span.size)
            if len(data) != span.size:
                raise RecipeError(f"{name} changed while it was read", where=name)
            hashed = pool.submit(digest.update, data)  # in order: one span at a time
            segments.append(_segment(span, data, put=put, compress=compress, level=level))
            hashed.result()
    if fh.read(1):
        raise RecipeError(f"{name} grew while it was read", where=name)
    return Recipe(md5=digest.hexdigest(), size=size, format=fmt, segments=segments)


def _segment(span: Span, data: bytes, *, put: Put, compress: bool, level: int) -> Segment:
    if len(data) <= INLINE_MAX:
        return Segment(size=len(data), inline=base64.b64encode(data).decode("ascii"))
    name, stored = "raw", data
    if compress:
        name, stored = codec.encode(data, width=span.width if span.tensor else 1, level=level)
    oid = md5_of(stored)
    put(oid, stored)
    return Segment(size=len(data), oid=oid, codec=name, stored=len(stored), tensor=span.tensor)


def rebuild(recipe: Recipe, *, read: Read, out: BinaryIO | None, where: str) -> None:
    """Write the file ``recipe`` describes into ``out`` (None: only check it), then check it.

    Raises:
        RecipeError: a segment does not decode to its size, an object is not the one
            named, or the whole is not the recorded size and md5 (``out`` then holds
            bytes that must be thrown away).
    """
    digest = hashlib.md5(usedforsecurity=False)
    written = 0
    for seg in recipe.segments:
        data: bytes | memoryview
        if seg.oid is None:
            data = seg.data()
        else:
            blob = read(seg.oid)
            if len(blob) != seg.stored:  # its bytes are checked with the whole file's md5
                raise RecipeError(
                    f"{where}: segment object {seg.oid} is {len(blob)} bytes, its recipe "
                    f"says {seg.stored}",
                    where=where,
                )
            data = codec.decode(seg.codec, blob, size=seg.size, where=where)
        digest.update(data)
        if out is not None:
            out.write(data)
        written += len(data)
    if written != recipe.size or digest.hexdigest() != recipe.md5:
        raise RecipeError(
            f"{where}: the rebuilt file is not the one saved (md5 {digest.hexdigest()}, "
            f"recorded {recipe.md5})",
            where=where,
        )


def rebuild_file(recipe: Recipe, *, read: Read, dest: Path, where: str) -> None:
    """Rebuild into ``dest`` through a temporary file beside it, renamed only once checked."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.rebuild.tmp")
    try:
        with open(tmp, "wb") as out:
            rebuild(recipe, read=read, out=out, where=where)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
