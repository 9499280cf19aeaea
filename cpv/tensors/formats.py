"""Where the tensors of a checkpoint file lie: its bytes cut at tensor boundaries.

Two formats are understood, both read from their own structure and never executed:

* **safetensors**: an 8-byte little-endian header length, a JSON header, then the tensors'
  bytes, each at ``data_offsets`` (relative to the end of the header) with its ``dtype``;
* **torch.save** (a zip archive, stored uncompressed): each storage is its own entry
  ``<archive>/data/<key>``; its bytes start after the entry's local header, found from the
  central directory (zip64 included).

A file is described by :class:`Span` s that cover it exactly, in order and without overlap:
the tensors' bytes (``width``: the element size when known, for byte-plane compression) and
the rest (headers, the pickle, the zip directory). A file that is neither, or that its own
structure contradicts (a save cut short, a header pointing past the end), is one span: it is
still stored losslessly, just not per tensor. Nothing here trusts the file: every length
and offset is bounded by the file's size before it is used.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO, Literal

#: A tensor larger than this is cut into pieces of this size (a multiple of every element
#: size): each piece is one object, so memory per segment stays bounded and an unchanged
#: piece of a partly changed tensor is still shared.
MAX_PIECE = 64 << 20
#: safetensors refuses headers over 100 MB; so does cpv.
MAX_ST_HEADER = 100 << 20
_MAX_ZIP_ENTRIES = 1 << 20
_FLOAT_WIDTH = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


@dataclass(frozen=True)
class Span:
    """``size`` bytes at ``offset``; ``tensor``: a tensor's bytes; ``width``: its element
    size when the format says it is a float (else 0: no byte planes)."""

    offset: int
    size: int
    tensor: bool = False
    width: int = 0


def spans_of(
    fh: BinaryIO, size: int
) -> tuple[Literal["safetensors", "torch-zip", "raw"], list[Span]]:
    """(format, spans) of the file open as ``fh`` (``size`` bytes): ``safetensors``,
    ``torch-zip``, or ``raw`` (one span) when the file is neither or contradicts itself."""
    tensors = _safetensors(fh, size)
    if tensors:
        return "safetensors", cover(tensors, size)
    tensors = _torch_zip(fh, size)
    if tensors:
        return "torch-zip", cover(tensors, size)
    return "raw", cover([], size)


def cover(tensors: Iterable[Span], size: int) -> list[Span]:
    """``tensors`` (inside ``size``, not overlapping) with the bytes between them as
    non-tensor spans, all cut to :data:`MAX_PIECE`: together exactly ``[0, size)``."""
    out: list[Span] = []
    at = 0
    for span in [*sorted(tensors, key=lambda s: s.offset), Span(size, 0)]:
        out += _pieces(Span(at, span.offset - at))
        out += _pieces(span)
        at = span.offset + span.size
    return out


def _pieces(span: Span) -> list[Span]:
    """``span`` cut into pieces of at most :data:`MAX_PIECE` bytes (none when empty)."""
    end = span.offset + span.size
    return [
        Span(start, min(start + MAX_PIECE, end) - start, tensor=span.tensor, width=span.width)
        for start in range(span.offset, end, MAX_PIECE)
    ]


def _safetensors(fh: BinaryIO, size: int) -> list[Span]:
    """The tensors of a safetensors file, or [] when it is not one (or not a whole one)."""
    fh.seek(0)
    head = fh.read(8)
    if len(head) < 8:
        return []
    (length,) = struct.unpack("<Q", head)
    if not 2 <= length <= min(MAX_ST_HEADER, size - 8):
        return []
    try:
        header = json.loads(fh.read(length))
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(header, dict):
        return []
    base = 8 + length
    tensors = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        span = _st_tensor(info, base, size)
        if span is None:
            return []
        if span.size:
            tensors.append(span)
    return tensors if _disjoint(tensors, base, size) else []


def _st_tensor(info: object, base: int, size: int) -> Span | None:
    if not isinstance(info, dict):
        return None
    offsets, dtype = info.get("data_offsets"), info.get("dtype")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not isinstance(dtype, str)
    ):
        return None
    begin, end = offsets
    if not 0 <= begin <= end <= size - base:
        return None
    width = _FLOAT_WIDTH.get(dtype, 0)
    if width and (end - begin) % width:
        width = 0
    return Span(base + begin, end - begin, tensor=True, width=width)


def _disjoint(spans: list[Span], start: int, end: int) -> bool:
    at = start
    for span in sorted(spans, key=lambda s: s.offset):
        if span.offset < at or span.offset + span.size > end:
            return False
        at = span.offset + span.size
    return True


_EOCD = b"PK\x05\x06"
_EOCD64_LOC = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_LOCAL = b"PK\x03\x04"


def _torch_zip(fh: BinaryIO, size: int) -> list[Span]:
    """The storages of a ``torch.save`` zip (stored entries named ``*/data/*``), or []."""
    directory = _central_directory(fh, size)
    if directory is None:
        return []
    spans = []
    for name, method, comp_size, local in _entries(directory):
        if "/data/" not in name or method != 0 or not comp_size:
            continue
        data_at = _local_data(fh, local, size)
        if data_at is None or data_at + comp_size > size:
            return []
        spans.append(Span(data_at, comp_size, tensor=True))
    return spans if spans and _disjoint(spans, 0, size) else []


def _central_directory(fh: BinaryIO, size: int) -> bytes | None:
    tail_size = min(size, 22 + 0xFFFF + 20)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    count, cd_size, cd_offset = struct.unpack("<xxxxxxxxxxHII", tail[at : at + 20])
    if 0xFFFFFFFF in (cd_size, cd_offset) or count == 0xFFFF:
        loc = tail[max(0, at - 20) : at]
        if len(loc) != 20 or not loc.startswith(_EOCD64_LOC):
            return None
        (rec_at,) = struct.unpack("<Q", loc[8:16])
        if rec_at + 56 > size:
            return None
        fh.seek(rec_at)
        rec = fh.read(56)
        if not rec.startswith(_EOCD64):
            return None
        count, cd_size, cd_offset = struct.unpack("<QQQ", rec[32:56])
    if count > _MAX_ZIP_ENTRIES or cd_offset + cd_size > size:
        return None
    fh.seek(cd_offset)
    return fh.read(cd_size)


def _entries(directory: bytes) -> list[tuple[str, int, int, int]]:
    """(name, method, compressed size, local header offset) of each central entry; stops
    at the first entry that is not well formed."""
    out = []
    at = 0
    while at + 46 <= len(directory) and directory[at : at + 4] == _CENTRAL:
        method, comp, uncomp, n, m, k = struct.unpack("<10xH8xIIHHH", directory[at : at + 34])
        (local,) = struct.unpack("<I", directory[at + 42 : at + 46])
        name = directory[at + 46 : at + 46 + n].decode("utf-8", "replace")
        extra = directory[at + 46 + n : at + 46 + n + m]
        comp, local = _zip64(extra, uncomp, comp, local)
        out.append((name, method, comp, local))
        at += 46 + n + m + k
    return out


def _zip64(extra: bytes, uncomp: int, comp: int, local: int) -> tuple[int, int]:
    """The compressed size and local offset, from the zip64 extra field where they overflow
    (its 8-byte values come in the order uncompressed, compressed, offset, each present only
    when the 4-byte field is 0xFFFFFFFF)."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack("<HH", extra[at : at + 4])
        if tag == 1:
            values = extra[at + 4 : at + 4 + length]
            numbers = iter(struct.unpack(f"<{len(values) // 8}Q", values[: len(values) // 8 * 8]))
            if uncomp == 0xFFFFFFFF:
                next(numbers, None)
            if comp == 0xFFFFFFFF:
                comp = next(numbers, comp)
            if local == 0xFFFFFFFF:
                local = next(numbers, local)
            break
        at += 4 + length
    return comp, local


def _local_data(fh: BinaryIO, local: int, size: int) -> int | None:
    """Where an entry's bytes start: after its local header (name and extra field)."""
    if local + 30 > size:
        return None
    fh.seek(local)
    head = fh.read(30)
    if not head.startswith(_LOCAL):
        return None
    n, m = struct.unpack("<HH", head[26:30])
    return local + 30 + n + m
