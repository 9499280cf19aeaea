"""Adapter: the catalog's S3 requests — listing "folders" with a delimiter, and reading and
writing one small JSON object. Callers pass a client from :func:`cpv._s3.client.s3_client` and
translate failures with :func:`cpv._s3.client.storage_error`."""

from __future__ import annotations

from typing import Any

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
#: The most of an index (or a copy of one) that is read; an index is a few hundred bytes.
INDEX_MAX = 1 << 20
#: The most of the digest of every index (``cpv-catalog.json``) that is read.
DIGEST_MAX = 64 << 20


def _bounded(body: Any, limit: int) -> bytes:
    data = bytes(body.read(limit + 1))
    return data if len(data) <= limit else b""


def list_prefixes(client: Any, bucket: str, prefix: str) -> list[str]:
    """The "folders" right under ``prefix`` (``team/`` -> ``team/model/``), every page."""
    found: list[str] = []
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def has_keys(client: Any, bucket: str, prefix: str) -> bool:
    """Whether any object's key starts with ``prefix`` (one request, one key at most)."""
    answer = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(answer.get("KeyCount") or answer.get("Contents"))


def get_small(client: Any, bucket: str, key: str, *, limit: int = INDEX_MAX) -> bytes | None:
    """The bytes of a small object, None when there is no such key; ``b""`` (which reads as
    no index) when it is larger than ``limit``: a bucket's object is never read whole on
    trust."""
    try:
        return _bounded(client.get_object(Bucket=bucket, Key=key)["Body"], limit)
    except Exception as exc:
        response = getattr(exc, "response", None) or {}
        if str(response.get("Error", {}).get("Code", "")) in _MISSING:
            return None
        raise


def put_small(client: Any, bucket: str, key: str, body: bytes) -> None:
    """Write a small JSON object in one PUT (S3 replaces an object whole: a reader sees the
    old bytes or the new ones, never a mix)."""
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        CacheControl="no-cache",
    )


def list_etags(client: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Key (without ``prefix``) -> ETag of every object under ``prefix``, every page."""
    found: dict[str, str] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            found[obj["Key"][len(prefix) :]] = str(obj.get("ETag", ""))
    return found


def get_tagged(client: Any, bucket: str, key: str) -> tuple[bytes, str] | None:
    """The bytes of a small object and the ETag of those very bytes; None when absent."""
    try:
        answer = client.get_object(Bucket=bucket, Key=key)
        return _bounded(answer["Body"], INDEX_MAX), str(answer.get("ETag", ""))
    except Exception as exc:
        response = getattr(exc, "response", None) or {}
        if str(response.get("Error", {}).get("Code", "")) in _MISSING:
            return None
        raise
