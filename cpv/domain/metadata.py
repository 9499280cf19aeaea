"""Per-version records and how they are stored in annotated tag messages.

A tag message is a human summary line, a blank line, then one JSON object.
``cpv list`` reads every record with a single ``git for-each-ref`` call.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cpv.domain.metrics import INT_MAX, INT_MIN, as_read, finite_json
from cpv.domain.versions import Kind, Version, tag_name

SCHEMA = 1
M = TypeVar("M", bound=BaseModel)
DIRTY_PATHS_MAX = 50
_MARKER = "cpv-metadata:"
#: A size or a count as read from a tag: bounded, so no arithmetic on it can overflow (a
#: record outside the bounds does not read as cpv's, like any malformed tag).
Count = Annotated[int, Field(ge=INT_MIN, le=INT_MAX)]


#: Ranks and files per rank a tag records (a larger save keeps its counts, not every name).
MAX_RANKS = 65536
MAX_NAMES = 64


class RankShards(BaseModel):
    """One rank's part of a distributed save: its files (names, at most ``MAX_NAMES``)."""

    model_config = ConfigDict(extra="ignore")

    rank: Annotated[int, Field(ge=0, le=MAX_RANKS)]
    file_count: Annotated[int, Field(ge=0, le=INT_MAX)] = 0
    size_bytes: Annotated[int, Field(ge=0, le=INT_MAX)] = 0
    files: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=MAX_NAMES)] = (
        Field(default_factory=list)
    )


class ShardLayout(BaseModel):
    """How many processes saved a version together, and what each one contributed."""

    model_config = ConfigDict(extra="ignore")

    world_size: Annotated[int, Field(ge=1, le=MAX_RANKS)]
    ranks: Annotated[list[RankShards], Field(max_length=MAX_RANKS)] = Field(default_factory=list)


class CompactLayout(BaseModel):
    """How a compact version stores its files (``cpv.yaml`` ``storage: {layout: compact}``):
    as recipes and tensor segments (:mod:`cpv.objects.compact`)."""

    files_hash: str = Field(
        pattern=r"^[0-9a-f]{32}\.dir$", description="the .dir hash of its files"
    )
    stored_bytes: Count = 0
    compress: str = Field(default="none", pattern=r"^[a-z0-9-]{1,20}$")


class VersionRecord(BaseModel):
    """One published (or local) version of a model's weights or its data."""

    model_config = ConfigDict(extra="allow")

    kind: Kind
    version: str
    tag: str
    created_at: str = Field(description="ISO 8601, UTC")
    author: str = ""
    message: str = ""
    size_bytes: Count = 0
    file_count: Count = 0
    content_hash: str = Field(description="DVC md5 of the tracked directory (ends in .dir)")
    metrics: dict[str, float | int | str] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    commit: str = ""
    path: str = ""
    #: model versions: the data tag whose content matched the workspace data at tag time.
    data_version: str | None = None
    #: data versions: rows/files per split where they can be counted.
    sample_count: Count | None = None
    samples: dict[str, Count] | None = None
    #: tracked files that differed from the version's commit (not committed with it);
    #: ``dirty_paths`` is sorted and holds at most ``DIRTY_PATHS_MAX`` of ``dirty_count``.
    dirty: bool = False
    dirty_paths: list[str] = Field(default_factory=list)
    dirty_count: Count = 0
    #: a compact version: the hash of the files it rebuilds (``content_hash`` names its
    #: recipes and segments)
    compact: CompactLayout | None = None
    schema_: int = Field(default=SCHEMA, alias="schema")
    #: a save by many ranks (see :mod:`cpv.objects.shards`): the world size and each rank's files
    distributed: ShardLayout | None = None
    #: read time only, never stored in the tag: the aliases pointing at this version now
    aliases: list[str] = Field(default_factory=list)
    #: read time only: the removal marker (action, by, at, remote, …) when its bytes were
    #: removed on purpose (``cpv gc`` / ``cpv delete``)
    removed: dict[str, Any] | None = None

    @property
    def files_hash(self) -> str:
        """The hash a workspace holding this version's files has."""
        return self.compact.files_hash if self.compact else self.content_hash

    @field_validator("params", mode="before")
    @classmethod
    def _bounded_params(cls, value: Any) -> dict[str, Any]:
        """Params read from a tag are untrusted: only the entries within the bounds of
        :mod:`cpv.domain.params` are kept (flattened)."""
        from cpv.domain.params import bounded

        return bounded(value)

    @field_validator("distributed", mode="before")
    @classmethod
    def _layout_or_none(cls, value: Any) -> ShardLayout | None:
        """Read from a tag, hence untrusted: a layout that does not validate is dropped (the
        version still reads; only its per-rank detail is lost)."""
        if value is None or isinstance(value, ShardLayout):
            return value
        try:
            return ShardLayout.model_validate(value)
        except (ValueError, RecursionError):
            return None

    @field_validator("compact", mode="before")
    @classmethod
    def _compact_or_none(cls, value: Any) -> CompactLayout | None:
        """Untrusted too: a compact layout that does not validate is dropped (the version
        still reads and checks out; its workspace then never passes for its files)."""
        if value is None or isinstance(value, CompactLayout):
            return value
        try:
            return CompactLayout.model_validate(value)
        except (ValueError, RecursionError):
            return None

    @field_validator("metrics", mode="after")
    @classmethod
    def _metrics_as_read(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: as_read(v) for k, v in value.items()}

    @field_validator("params", mode="after")
    @classmethod
    def _params_as_read(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: finite_json(v) for k, v in value.items()}

    @field_validator("created_at", mode="after")
    @classmethod
    def _a_time(cls, value: str) -> str:
        """An ISO 8601 time of years 2 to 9998, so that it converts to any time zone
        (``9999-12-31T23:59-14:00`` would overflow wherever it is shown or compared)."""
        if not time_in_range(value):
            raise ValueError(f"not a time cpv can show: {value[:40]!r}")
        return value

    @property
    def parsed_version(self) -> Version:
        return Version.parse(self.version)

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / 1_000_000, 3)

    @property
    def timestamp(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    def to_json_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        data["size_mb"] = self.size_mb
        return data

    def renamed(self, version: Version) -> VersionRecord:
        return self.model_copy(
            update={"version": str(version), "tag": tag_name(self.kind, version)}
        )


def time_in_range(value: str) -> bool:
    """Whether ``value`` is an ISO 8601 time of years 2 to 9998 (UTC when it has no zone)."""
    try:
        made = datetime.fromisoformat(value)
        utc = (made if made.tzinfo else made.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return False
    return 2 <= utc.year <= 9998


def tag_message(summary: str, marker: str, body: dict[str, Any]) -> str:
    """A tag message cpv writes: a summary line, a blank line, ``marker`` and one JSON object
    (versions, alias moves and removal markers alike)."""
    return f"{summary}\n\n{marker} {json.dumps(body, sort_keys=True)}\n"


def decode_record(cls: type[M], text: str, marker: str, **extra: Any) -> M | None:
    """The ``cls`` record after ``marker`` in a tag message (with ``extra`` fields set), or
    None when the message is not cpv's or does not read as one."""
    for line in text.splitlines():
        if line.startswith(marker):
            try:
                data = json.loads(line[len(marker) :])
            except (ValueError, RecursionError):  # not JSON, 4300+ digits, nested too deep
                return None
            if not isinstance(data, dict):
                return None
            try:
                return cls.model_validate({**data, **extra})
            except (ValueError, RecursionError):  # RecursionError: nested deeper than checks go
                return None
    return None


def encode_tag_message(record: VersionRecord) -> str:
    """Summary line + JSON body. ``commit`` is implied by the tag's target and not stored."""
    summary = f"{record.kind.value} {record.version}"
    if record.message:
        summary += f": {record.message.splitlines()[0][:200]}"
    # a field a version does not use is not written (older records stay as they were)
    unset = {name for name in ("distributed", "compact") if getattr(record, name) is None}
    skip = {"commit", "aliases", "removed", *unset}
    body = record.model_dump(mode="json", by_alias=True, exclude=skip)
    return tag_message(summary, _MARKER, body)


def decode_tag_message(text: str, *, commit: str = "") -> VersionRecord | None:
    """The record in a tag message, or None when the tag was not made by cpv."""
    return decode_record(VersionRecord, text, _MARKER, commit=commit)
