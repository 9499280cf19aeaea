"""A recipe: how one compact file is rebuilt from its segments, byte for byte.

A small JSON document (``cpv-recipe/1``): the file's md5 and size, its format, and its
segments in order, each ``size`` bytes of the file, held by an object (``oid``, stored with
``codec``) or, when tiny, inline (base64). Concatenating the decoded segments gives the
file; its md5 must be the recorded one, or nothing is written.

A recipe is read from git or the storage, so it is untrusted: :func:`parse` checks every id
(:func:`cpv.domain.oids.check_oid`), codec, size and count, and that the sizes add up, before any
object is fetched or any byte written.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cpv.domain.errors import InvalidObjectIdError, RecipeError
from cpv.domain.oids import check_oid
from cpv.tensors.codec import CODECS
from cpv.tensors.formats import MAX_PIECE

SCHEMA = "cpv-recipe/1"
#: A recipe file larger than this is refused unread.
MAX_RECIPE_BYTES = 32 << 20
MAX_SEGMENTS = 1 << 20
#: Segments up to this size live in the recipe itself, not as objects.
INLINE_MAX = 1024
#: No segment holds more than this.
MAX_SEGMENT = MAX_PIECE
MAX_FILE = 1 << 44
Format = Literal["safetensors", "torch-zip", "raw"]
_MD5 = re.compile(r"[0-9a-f]{32}")


class Segment(BaseModel):
    """``size`` bytes of the file: object ``oid`` (stored ``stored`` bytes with ``codec``),
    or ``inline`` base64 bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(ge=0, le=MAX_SEGMENT)
    oid: str | None = None
    codec: str = "raw"
    stored: int = Field(default=0, ge=0, le=2 * MAX_SEGMENT + 4096)
    inline: str | None = Field(default=None, max_length=4 * INLINE_MAX // 3 + 4)
    tensor: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> Segment:
        if (self.oid is None) == (self.inline is None):
            raise ValueError("a segment is either an object or inline bytes")
        if self.codec not in CODECS or (self.inline is not None and self.codec != "raw"):
            raise ValueError(f"unknown codec {self.codec[:20]!r}")
        if self.oid is not None:
            check_oid(self.oid, listing=False, where="recipe")
        elif len(self.data()) != self.size:
            raise ValueError("inline bytes are not of the segment's size")
        return self

    def data(self) -> bytes:
        """The inline bytes (b"" for an object segment)."""
        if self.inline is None:
            return b""
        try:
            return base64.b64decode(self.inline, validate=True)
        except binascii.Error as exc:
            raise ValueError("inline bytes are not base64") from exc


class Recipe(BaseModel):
    """One compact file: ``md5`` and ``size`` of the original, and its segments in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["cpv-recipe/1"] = Field(default="cpv-recipe/1", alias="schema")
    md5: str = Field(pattern=_MD5.pattern, min_length=32, max_length=32)
    size: int = Field(ge=0, le=MAX_FILE)
    format: Format
    segments: list[Segment] = Field(max_length=MAX_SEGMENTS)

    @model_validator(mode="after")
    def _sizes_add_up(self) -> Recipe:
        if sum(s.size for s in self.segments) != self.size:
            raise ValueError("the segments' sizes do not add up to the file's size")
        return self

    @property
    def oids(self) -> list[str]:
        """The objects the file needs, each once, in order of first use."""
        return list(dict.fromkeys(s.oid for s in self.segments if s.oid is not None))

    @property
    def stored(self) -> int:
        """Bytes the file's objects take (each object once)."""
        sizes = {s.oid: s.stored for s in self.segments if s.oid is not None}
        return sum(sizes.values())

    def dump(self) -> bytes:
        """The recipe's bytes: the same recipe always gives the same bytes (one object)."""
        body = self.model_dump(by_alias=True, exclude_defaults=False)
        body["schema"] = SCHEMA
        for seg in body["segments"]:
            for key in [k for k, v in seg.items() if v is None]:
                del seg[key]
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def parse(data: bytes, *, where: str) -> Recipe:
    """The recipe ``data`` holds, every field checked (``where``: named in errors).

    Raises:
        RecipeError: not a recipe cpv writes (too big, not JSON, a bad id, sizes that do
            not add up …).
    """
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"{where}: the recipe is over {MAX_RECIPE_BYTES} bytes", where=where)
    try:
        return Recipe.model_validate_json(data)
    except (ValidationError, InvalidObjectIdError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise RecipeError(
            f"{where}: not a recipe cpv writes ({str(first)[:120]})", where=where
        ) from exc
