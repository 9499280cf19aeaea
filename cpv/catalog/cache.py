"""What keeps ``cpv models`` at a few requests however many models there are.

``cpv push`` writes each model's index twice: beside its data (the index itself, see
:mod:`cpv.catalog.index`) and as a copy under the storage root, ``cpv-catalog.d/<team>/<model>.json``,
where one LIST returns every copy's ETag. ``cpv models`` keeps ``cpv-catalog.json`` at the
root: each model's index with the ETag of the copy it was read from. A listing GETs only the
copies whose ETag differs from that digest's, then writes the digest back (best effort:
read-only credentials simply read more).

Nothing here can show a wrong index: a digest entry is used only when its ETag is the one
the LIST returned for that model's copy, and the ETag recorded is that of the bytes read (the
GET's, not the LIST's), so a push between the two costs one GET more, never a stale entry. A
lost, corrupt or concurrently rewritten digest only costs GETs.
"""

from __future__ import annotations

import json
from typing import Any

from cpv._s3 import catalog as _s3_catalog

#: Under the storage root: one copy of each model's index, ``<team>/<model>.json``.
COPIES = "cpv-catalog.d/"
#: At the storage root: the last listing's indexes, with the ETags they were read at.
DIGEST = "cpv-catalog.json"
_SCHEMA = 1


def copy_key(index_key: str) -> str | None:
    """Where the copy of the index at ``index_key`` (``[prefix/]team/model/cpv-index.json``)
    goes; None when the key is not that deep."""
    parts = index_key.split("/")
    if len(parts) < 3:
        return None
    base = "".join(f"{p}/" for p in parts[:-3])
    return f"{base}{COPIES}{parts[-3]}/{parts[-2]}.json"


class Digest:
    """The copies' ETags (one LIST) and the digest of indexes read before (one GET)."""

    def __init__(self, client: Any, bucket: str, base: str) -> None:
        self.client, self.bucket, self.base = client, bucket, base
        self.etags = _s3_catalog.list_etags(client, bucket, base + COPIES)
        self.known: dict[str, dict[str, Any]] = {}
        self.changed = False
        #: what was wrong with the digest (it is then written again from what is read)
        self.notes: list[str] = []
        raw = (
            _s3_catalog.get_small(client, bucket, base + DIGEST, limit=_s3_catalog.DIGEST_MAX)
            if self.etags
            else None
        )
        if raw is not None:
            self._load(raw)

    def _load(self, raw: bytes) -> None:
        """The digest's entries; one of another shape is dropped (and rebuilt), as is every
        entry that is not an ETag and an index."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        models = data.get("models") if isinstance(data, dict) else None
        if isinstance(data, dict) and data.get("schema") != _SCHEMA:
            self.changed = True  # another format: written again in this one
            return
        if not isinstance(models, dict):
            self.changed = True
            self.notes.append(f"{DIGEST} did not read as a digest of indexes: rebuilt")
            return
        self.known = {k: v for k, v in models.items() if isinstance(k, str) and _entry_ok(v)}
        if len(self.known) != len(models):
            self.changed = True  # its bad entries are not written back

    def index_bytes(self, team: str, model: str) -> bytes | None:
        """The index of ``team/model`` from the digest or its copy; None: no copy (the
        caller reads the index beside the data)."""
        name = f"{team}/{model}"
        etag = self.etags.get(f"{name}.json")
        if etag is None:
            return None
        seen = self.known.get(name)
        if seen is not None and seen["etag"] == etag:
            return json.dumps(seen["index"]).encode()
        got = _s3_catalog.get_tagged(self.client, self.bucket, f"{self.base}{COPIES}{name}.json")
        if got is None:
            return None
        raw, read_etag = got
        try:
            self.known[name] = {"etag": read_etag, "index": json.loads(raw)}
            self.changed = True
        except (ValueError, RecursionError):
            pass  # an unreadable copy: reported from its bytes, not remembered
        return raw

    def save(self, listed: set[str], *, prune: bool) -> None:
        """Write the digest back when it changed (``prune``: models no longer listed
        dropped); a refusal (read-only credentials) is ignored: the next listing reads more."""
        stale = set(self.known) - listed if prune else set()
        if not (self.changed or stale) or not self.etags:
            return
        models = {k: v for k, v in self.known.items() if k not in stale}
        body = json.dumps({"schema": _SCHEMA, "models": models}, sort_keys=True).encode()
        try:
            _s3_catalog.put_small(self.client, self.bucket, self.base + DIGEST, body)
        except Exception:  # noqa: BLE001 - a cache that could not be written is no failure
            pass


def _entry_ok(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("etag"), str)
        and isinstance(value.get("index"), dict)
    )
