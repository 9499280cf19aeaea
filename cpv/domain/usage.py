"""What ``cpv du`` reports: each version's bytes (in the local cache, and the savings of
deduplication: logical against stored) and the totals."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cpv.domain.results import GcResult


class VersionUsage(BaseModel):
    """One version's bytes in the local cache: ``unique_bytes`` of objects no other
    version needs, ``shared_bytes`` of objects it shares; ``missing`` objects not cached."""

    tag: str
    objects: int = 0
    unique_bytes: int = 0
    shared_bytes: int = 0
    missing: int = 0
    removed: bool = False
    #: the version's files, each counted whole (what a copy of the folder takes)
    logical_bytes: int = 0
    #: the bytes of the objects this version added: needed by no earlier version
    stored_bytes: int = 0
    #: ``stored_bytes / logical_bytes`` (None for an empty version)
    ratio: float | None = None


class DuResult(BaseModel):
    """``cpv du``: bytes per version, the cache and storage totals, and what the configured
    retention would free. ``unique_bytes + shared_bytes == versions_bytes`` (each shared
    object counted once)."""

    versions: list[VersionUsage] = Field(default_factory=list)
    versions_bytes: int = 0
    unique_bytes: int = 0
    shared_bytes: int = 0
    #: every object in the local cache, versions' or not
    cache_bytes: int = 0
    cache_objects: int = 0
    storage_bytes: int | None = None
    storage_objects: int | None = None
    storage_note: str = ""
    retention: GcResult | None = None
    retention_note: str = ""
    #: the kept (not removed) versions' files, each version counted whole
    logical_bytes: int = 0
    #: the objects those versions need, each once (what deduplication leaves to store)
    stored_bytes: int = 0
    #: ``stored_bytes / logical_bytes`` (None when there is nothing)
    ratio: float | None = None
    #: objects whose size is known neither from the local cache nor from the storage
    #: (``stored_bytes`` leaves them out)
    unsized_objects: int = 0
