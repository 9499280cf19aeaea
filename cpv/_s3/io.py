"""Moving object bytes to and from S3 (the byte-level half of the boto3 adapter; clients and
error translation are in :mod:`cpv._s3.client`).

* Nothing is uploaded unless the bytes sent hash to the object's name. An object of one
  part (8 MiB) or less is read, hashed, then sent as one PUT of those very bytes. Larger ones
  go through s3transfer with parts sized to the object (8 MiB up to 80 GiB, then larger so
  an object stays under S3's 10,000 parts) and 10 concurrent parts, read once in order and
  hashed as they are read (memory near ``part × concurrency``); a digest that does not match
  fails the upload before its parts are completed. A failed or interrupted multipart upload
  is aborted by s3transfer's failure cleanup.
* Downloads write to a temporary file the caller names and hash the bytes *as they arrive*:
  one streamed GET for objects up to 64 MiB, otherwise 64 MiB ranges fetched concurrently
  while the calling thread hashes the finished prefix (read back from the page cache). The
  caller renames the file into place only when the md5 matches.
* Reads of a body cut short are retried (bounded, with backoff); botocore's own retries cover
  throttling (SlowDown), 5xx answers and refused connections.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from cpv._faults import fault_point
from cpv.domain.oids import check_bytes

MiB = 1 << 20
_MAX_PARTS = 10_000
_RANGE = 64 * MiB
_READ = 256 << 10  # chunks that stay in the CPU's caches: 1 MiB ones wrote 4-8x slower here
_BODY_ATTEMPTS = 4


def part_size(size: int) -> int:
    """Multipart part size for an object of ``size`` bytes: 8 MiB, or larger so the
    object fits in S3's 10,000 parts."""
    part = 8 * MiB
    while size > part * _MAX_PARTS:
        part *= 2
    return part


class _Hashed:
    """A file read once, front to back, hashed as it is read (s3transfer reads a stream that
    cannot seek in order, one part at a time, in its submitting thread). At the end the
    digest must be the object's name ``oid``, else :class:`IntegrityError` is raised before
    the parts are completed: s3transfer aborts the upload, the key keeps what it held."""

    def __init__(self, fh: Any, oid: str) -> None:
        self._fh, self._oid = fh, oid
        self._digest = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, amount: int | None = -1) -> bytes:
        data: bytes = self._fh.read(amount)
        self._digest.update(data)
        if not data or amount is None or amount < 0:
            check_bytes(self._oid, self._digest.hexdigest())
        return data


def upload(
    client: Any,
    bucket: str,
    key: str,
    source: Path,
    *,
    oid: str,
    concurrency: int = 10,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Upload ``source`` to ``bucket/key`` (multipart above one part) only if the bytes sent
    hash to the object's name ``oid``, checked on the very bytes read for the upload (:class:`_Hashed`);
    ``on_bytes`` hears of the bytes sent (from s3transfer's threads).

    Raises:
        IntegrityError: the bytes do not hash to ``oid`` (nothing replaced the key's object).
    """
    size = source.stat().st_size
    part = part_size(size)
    if size <= part:  # one request; no transfer manager (its thread pools) per small object
        body = source.read_bytes()
        check_bytes(oid, hashlib.md5(body, usedforsecurity=False).hexdigest())
        client.put_object(Bucket=bucket, Key=key, Body=body)
        if on_bytes is not None:
            on_bytes(size)
        return
    sent = [0]
    faults = bool(os.environ.get("CPV_FAULT"))

    def callback(n: int) -> None:
        sent[0] += n
        if on_bytes is not None:
            on_bytes(n)
        if faults and sent[0] > size // 2:  # a fault midway through a big object's bytes
            fault_point("upload_midway")

    with open(source, "rb") as fh:
        hashed = _Hashed(fh, oid)
        _multipart(client, bucket, key, hashed, part=part, concurrency=concurrency, heard=callback)


def _multipart(
    client: Any,
    bucket: str,
    key: str,
    source: _Hashed,
    *,
    part: int,
    concurrency: int,
    heard: Callable[[int], None],
) -> None:
    """One object in ``part``-sized parts, ``concurrency`` at a time (s3transfer's manager,
    which aborts the multipart upload when a part fails)."""
    from s3transfer.futures import NonThreadedExecutor
    from s3transfer.manager import TransferConfig, TransferManager
    from s3transfer.subscribers import BaseSubscriber

    class Heard(BaseSubscriber):  # type: ignore[misc]
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            heard(bytes_transferred)

    config = TransferConfig(
        multipart_threshold=part + 1,
        multipart_chunksize=part,
        max_request_concurrency=concurrency,
    )
    executor = None if concurrency > 1 else NonThreadedExecutor
    with TransferManager(client, config, executor_cls=executor) as manager:
        manager.upload(source, bucket, key, subscribers=[Heard()]).result()


def exists(client: Any, bucket: str, key: str) -> bool:
    """Whether ``bucket/key`` is there now (one HEAD; a 404 is False, other errors raise)."""
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return False
        raise
    return True


def delete_keys(client: Any, bucket: str, keys: list[str]) -> list[str]:
    """Delete ``keys`` (1,000 per request); the keys the storage refused to delete."""
    failed: list[str] = []
    for i in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[i : i + 1000]]
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        failed += [e["Key"] for e in answer.get("Errors", [])]
    return failed


def list_sizes(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    """(key without ``prefix``, size) of every object under ``prefix``."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"][len(prefix) :], int(obj["Size"])


def open_uploads(client: Any, bucket: str, prefix: str) -> list[tuple[str, str]]:
    """(key, upload id) of every multipart upload still open under ``prefix``."""
    found = []
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
    return found


def abort_upload(client: Any, bucket: str, key: str, upload_id: str) -> None:
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def _is_cut(exc: BaseException) -> bool:
    """A body read that ended early: worth another attempt."""
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )
    from urllib3.exceptions import ProtocolError

    retryable = (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
        ProtocolError,
        ConnectionError,
    )
    return isinstance(exc, retryable)


def _with_retries(fn: Callable[[], None]) -> None:
    for attempt in range(_BODY_ATTEMPTS):
        try:
            return fn()
        except Exception as exc:
            if attempt == _BODY_ATTEMPTS - 1 or not _is_cut(exc):
                raise
            time.sleep(0.2 * 2**attempt)


def download(
    client: Any,
    bucket: str,
    key: str,
    dest: Path,
    *,
    size: int | None,
    on_bytes: Callable[[int], None] | None = None,
) -> str:
    """Write ``bucket/key`` (``size`` bytes; None: unknown, one streamed GET) to ``dest``;
    its md5, computed as bytes arrive.

    ``dest`` is created (truncated); the caller removes it on failure or mismatch.
    ``on_bytes`` hears of the bytes written (progress; a retried body counts again).
    """
    fd = os.open(dest, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)  # read back to hash
    heard = on_bytes or (lambda n: None)
    try:
        if size is None or size <= _RANGE:
            return _download_stream(client, bucket, key, fd, heard)
        return _download_ranges(client, bucket, key, fd, size, heard)
    finally:
        os.close(fd)


def _download_stream(
    client: Any, bucket: str, key: str, fd: int, heard: Callable[[int], None]
) -> str:
    digest = hashlib.md5(usedforsecurity=False)

    def attempt() -> None:
        nonlocal digest
        digest = hashlib.md5(usedforsecurity=False)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        try:
            while chunk := body.read(_READ):
                digest.update(chunk)
                os.write(fd, chunk)
                heard(len(chunk))
        finally:
            body.close()

    _with_retries(attempt)
    return digest.hexdigest()


def _download_ranges(
    client: Any, bucket: str, key: str, fd: int, size: int, heard: Callable[[int], None]
) -> str:
    """Ranges fetched concurrently; the prefix finished so far is hashed meanwhile."""
    ranges = [(start, min(start + _RANGE, size)) for start in range(0, size, _RANGE)]
    done = [threading.Event() for _ in ranges]

    def fetch(i: int) -> None:
        start, end = ranges[i]

        def attempt() -> None:
            body = client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")[
                "Body"
            ]
            offset = start
            try:
                while chunk := body.read(_READ):
                    os.pwrite(fd, chunk, offset)
                    offset += len(chunk)
                    heard(len(chunk))
            finally:
                body.close()
            if offset != end:
                raise _short(offset, end)

        _with_retries(attempt)
        done[i].set()

    digest = hashlib.md5(usedforsecurity=False)
    with ThreadPoolExecutor(max_workers=min(4, len(ranges))) as pool:
        futures = [pool.submit(fetch, i) for i in range(len(ranges))]
        try:
            for i, (start, end) in enumerate(ranges):
                _wait_part(done[i], futures)
                _hash_range(fd, digest, start, end)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return digest.hexdigest()


def _short(got: int, want: int) -> Exception:
    from botocore.exceptions import IncompleteReadError

    return IncompleteReadError(actual_bytes=got, expected_bytes=want)


def _wait_part(event: threading.Event, futures: list[Future[None]]) -> None:
    """Wait for one range; re-raise the first failure of any range at once."""
    while not event.wait(0.05):
        finished, _ = wait(futures, timeout=0, return_when=FIRST_EXCEPTION)
        for f in finished:
            if f.exception() is not None:
                raise f.exception()  # type: ignore[misc]


def _hash_range(fd: int, digest: Any, start: int, end: int) -> None:
    view = memoryview(bytearray(_READ))
    offset = start
    while offset < end:
        n = _read_at(fd, view[: min(_READ, end - offset)], offset)
        if not n:
            raise OSError(f"short read at {offset}")
        digest.update(view[:n])
        offset += n


def _read_at(fd: int, into: memoryview, offset: int) -> int:
    """Read into ``into`` at ``offset`` without a copy (``preadv``: Linux and the BSDs); where
    Python has no ``preadv`` (macOS before 11, some builds), ``pread`` and one copy."""
    if hasattr(os, "preadv"):
        return os.preadv(fd, [into], offset)
    data = os.pread(fd, len(into), offset)
    into[: len(data)] = data
    return len(data)
