"""Lossless compression of a segment: byte planes + zstandard, or zstandard, or nothing.

A float's bytes are not alike: in bf16 one byte holds the sign and most of the exponent
(a few values, very compressible), the other the mantissa (close to noise). Grouping the
i-th byte of every element together (*byte planes*) lets zstandard find what repeats; each
plane is compressed on its own and kept raw when compression does not pay, so noise costs
nothing to decompress. Decoding interleaves the planes back with numpy (over 2 GB/s here).

Codecs, as a recipe names them: ``raw``; ``zstd`` (one frame); ``bp2``, ``bp4``, ``bp8``
(byte planes of 2-, 4- or 8-byte elements). A ``bp`` blob is ``CPB1``, the width, then per
plane a flag (0 raw, 1 zstd) and its length (u64), then the planes. Blobs come from the
storage: every length is checked against the segment's recorded size before it is used,
and zstandard never produces more than that size.

zstandard and numpy are the ``compact`` extra's; importing this module needs neither.
"""

from __future__ import annotations

import struct
from typing import Any

from cpv.domain.errors import MissingExtraError, RecipeError

CODECS = ("raw", "zstd", "bp2", "bp4", "bp8")
#: A compressed segment (or plane) is kept only when it saves at least this share.
MIN_SAVING = 0.03
_MAGIC = b"CPB1"
_SAMPLE = 1 << 20


def require() -> None:
    """Raises MissingExtraError when zstandard or numpy is not installed."""
    try:
        import numpy  # noqa: F401
        import zstandard  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "compact storage with compression needs zstandard and numpy, not installed",
            hint="Install the compact extra: pip install 'cpv-checkpoints[compact]'.",
        ) from exc


def _zstd() -> Any:
    import zstandard

    return zstandard


def pays(raw: int, stored: int) -> bool:
    return stored <= raw * (1 - MIN_SAVING)


def encode(data: bytes, *, width: int, level: int = 1) -> tuple[str, bytes]:
    """(codec, stored bytes) of ``data``: byte planes when ``width`` > 1 and they pay, else
    one zstd frame when it pays, else ``raw`` (``data`` itself)."""
    if not data:
        return "raw", data
    candidates = [width] if width > 1 else []
    if width == 0 and len(data) >= 4096:  # unknown element size (a torch.save storage)
        candidates = [_guess_width(data, level)]
    for w in candidates:
        if w > 1 and len(data) % w == 0:
            blob = _planes(data, w, level)
            if pays(len(data), len(blob)):
                return f"bp{w}", blob
    frame = _zstd().ZstdCompressor(level=level).compress(data)
    if pays(len(data), len(frame)):
        return "zstd", frame
    return "raw", data


def _guess_width(data: bytes, level: int) -> int:
    """The element size whose planes compress a sample best (1: none does better)."""
    sample = data[: _SAMPLE - _SAMPLE % 8]
    best, best_size = 1, len(_zstd().ZstdCompressor(level=level).compress(sample))
    for w in (2, 4):
        size = len(_planes(sample, w, level))
        if size < best_size:
            best, best_size = w, size
    return best


def _planes(data: bytes, width: int, level: int) -> bytes:
    compressor = _zstd().ZstdCompressor(level=level)
    head = [_MAGIC, bytes([width])]
    bodies = []
    for i in range(width):
        plane = data[i::width]
        packed = compressor.compress(plane)
        flag, body = (1, packed) if pays(len(plane), len(packed)) else (0, plane)
        head.append(struct.pack("<BQ", flag, len(body)))
        bodies.append(body)
    return b"".join(head + bodies)


def decode(codec: str, blob: bytes, *, size: int, where: str) -> bytes | memoryview:
    """The ``size`` bytes ``blob`` (stored with ``codec``) holds.

    Raises:
        RecipeError: the blob is not what its codec writes, or does not decode to ``size``
            bytes.
    """
    out: bytes | memoryview
    if codec == "raw":
        out = blob
    elif codec == "zstd":
        out = _unzstd(blob, size, where)
    elif codec in ("bp2", "bp4", "bp8"):
        out = _unplanes(blob, int(codec[2:]), size, where)
    else:
        raise RecipeError(f"{where}: unknown codec {codec[:20]!r}", where=where)
    if len(out) != size:
        raise RecipeError(
            f"{where}: a segment decodes to {len(out)} bytes, its recipe says {size}", where=where
        )
    return out


def _unzstd(frame: bytes | memoryview, size: int, where: str) -> bytes:
    zstandard = _zstd()
    try:
        params = zstandard.get_frame_parameters(frame)
        if params.content_size != size:
            raise RecipeError(f"{where}: a compressed segment is not of its size", where=where)
        return bytes(zstandard.ZstdDecompressor().decompress(frame, max_output_size=size))
    except zstandard.ZstdError as exc:
        raise RecipeError(f"{where}: a compressed segment is damaged ({exc})", where=where) from exc


def _unplanes(blob: bytes, width: int, size: int, where: str) -> memoryview:
    import numpy as np

    head = 5 + 9 * width
    if size % width or len(blob) < head or blob[:4] != _MAGIC or blob[4] != width:
        raise RecipeError(f"{where}: a byte-plane segment is damaged", where=where)
    plane_size = size // width
    out = np.empty((plane_size, width), dtype=np.uint8)
    view = memoryview(blob)
    at = head
    for i in range(width):
        flag, length = struct.unpack_from("<BQ", blob, 5 + 9 * i)
        if flag not in (0, 1) or at + length > len(blob):
            raise RecipeError(f"{where}: a byte-plane segment is damaged", where=where)
        body = view[at : at + length]
        plane = _unzstd(body, plane_size, where) if flag else body
        if len(plane) != plane_size:
            raise RecipeError(f"{where}: a byte plane is not of its size", where=where)
        out[:, i] = np.frombuffer(plane, dtype=np.uint8)
        at += length
    if at != len(blob):
        raise RecipeError(f"{where}: a byte-plane segment has trailing bytes", where=where)
    return memoryview(out.data).cast("B")  # the interleaved bytes, not copied again
