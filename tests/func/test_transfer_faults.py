"""The transfer engine rides out a flaky storage: throttling (503 SlowDown) and 5xx answers
are retried with backoff, a body cut mid-download is fetched again, and when the storage
keeps failing the command fails after a bounded number of attempts, with one clear error.

A real HTTP proxy on loopback stands between cpv and the S3 server and injects the faults.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import StorageError
from cpv.objects.store import ObjectStore
from cpv.ops.init import init_repository
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import write_checkpoint

_SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)

_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    b"<Message>Access Denied</Message></Error>"
)


class FaultyProxy:
    """Forwards to ``upstream``; ``put_failures`` object PUTs answer 503 SlowDown first,
    ``cut_gets`` object GETs send half their body and close the connection."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.put_failures = 0
        self.cut_gets = 0
        self.deny_upload_listing = False
        self.deny_abort = False
        self.seen: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                is_object = "/files/md5/" in self.path
                proxy.seen.append(f"{self.command} {self.path}")
                listing = self.command == "GET" and "uploads" in self.path
                abort = self.command == "DELETE" and "uploadId=" in self.path
                if (proxy.deny_upload_listing and listing) or (proxy.deny_abort and abort):
                    self.send_response(403)
                    self.send_header("Content-Length", str(len(_DENIED)))
                    self.end_headers()
                    self.wfile.write(_DENIED)
                    return
                if self.command == "PUT" and is_object and proxy.put_failures > 0:
                    proxy.put_failures -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(_SLOWDOWN)))
                    self.end_headers()
                    self.wfile.write(_SLOWDOWN)
                    return
                conn = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=30
                )
                headers = dict(self.headers.items())  # Host as signed by the client
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                cut = self.command == "GET" and is_object and proxy.cut_gets > 0 and len(data) > 1
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if cut:
                    proxy.cut_gets -= 1
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def proxy(s3_endpoint: str, s3_bucket: str) -> Iterator[FaultyProxy]:
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    faulty = FaultyProxy(s3_endpoint)
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket=s3_bucket, endpoint_url=faulty.url, region="us-east-1"
            )
        )
    )
    yield faulty
    faulty.server.shutdown()


@pytest.mark.s3
def test_throttling_and_cut_downloads_are_retried(proxy: FaultyProxy, tmp_path: Path) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    blob = os.urandom(300_000)
    write_checkpoint(repo, blob)
    ModelCheckpoints(repo).tag()
    proxy.put_failures = 2
    push(repo)
    assert proxy.put_failures == 0  # both 503s were answered, and retried
    puts = [s for s in proxy.seen if s.startswith("PUT") and "/files/md5/" in s]
    assert len(puts) >= 4  # 2 objects (file + listing) + 2 retried attempts
    proxy.cut_gets = 1
    dest, _ = clone("acme/m", tmp_path / "other")
    assert proxy.cut_gets == 0  # one body was cut mid-way, and fetched again
    got = (dest / "checkpoints" / "model.bin").read_bytes()
    assert hashlib.md5(got).digest() == hashlib.md5(blob).digest()


@pytest.mark.s3
def test_credentials_that_may_not_list_multipart_uploads_still_push(
    proxy: FaultyProxy, tmp_path: Path
) -> None:
    """Listing open multipart uploads is a permission of its own: refused, the push goes on
    and says what it could not do; a push with nothing to send does not even ask."""
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, os.urandom(1000))
    ModelCheckpoints(repo).tag()
    proxy.deny_upload_listing = True
    first = push(repo)
    assert first.objects_pushed == 2 and first.pushed_tags == ["model/v0.1"]
    assert "s3:ListBucketMultipartUploads" in (first.storage_warning or "")
    assert any("uploads" in s for s in proxy.seen)
    again = push(repo)
    assert again.up_to_date and again.storage_warning is None
    dest, _ = clone("acme/m", tmp_path / "other")  # what was pushed is all there
    assert (dest / "checkpoints" / "model.bin").read_bytes() == (
        repo / "checkpoints" / "model.bin"
    ).read_bytes()


@pytest.mark.s3
def test_credentials_that_may_not_abort_multipart_uploads_still_push(
    proxy: FaultyProxy, s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    """An interrupted push left parts of the object about to be uploaded; these keys may
    list them but not abort them: the push publishes anyway and says the parts stay."""
    import boto3

    from cpv.settings.dvc_remote import remote_settings

    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    blob = os.urandom(1000)
    write_checkpoint(repo, blob)
    ModelCheckpoints(repo).tag()
    prefix = remote_settings(repo)["url"].removeprefix(f"s3://{s3_bucket}/")
    md5 = hashlib.md5(blob).hexdigest()
    key = f"{prefix}/files/md5/{md5[:2]}/{md5[2:]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_multipart_upload(Bucket=s3_bucket, Key=key)  # the interrupted push's
    proxy.deny_abort = True
    result = push(repo)
    assert result.pushed_tags == ["model/v0.1"] and result.objects_pushed == 2
    assert "s3:AbortMultipartUpload" in (result.storage_warning or "")
    assert "1 interrupted upload(s)" in (result.storage_warning or "")
    assert any(s.startswith("DELETE") and "uploadId=" in s for s in proxy.seen)  # it tried
    left = s3.list_multipart_uploads(Bucket=s3_bucket, Prefix=prefix).get("Uploads", [])
    assert [u["Key"] for u in left] == [key]  # refused, so still there (as the warning says)
    dest, _ = clone("acme/m", tmp_path / "other")
    assert (dest / "checkpoints" / "model.bin").read_bytes() == blob


@pytest.mark.s3
def test_a_storage_that_keeps_failing_fails_the_push_after_bounded_attempts(
    proxy: FaultyProxy, tmp_path: Path
) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    proxy.put_failures = 1000
    with pytest.raises(StorageError):
        push(repo)
    attempts = [s for s in proxy.seen if s.startswith("PUT") and "/files/md5/" in s]
    assert 2 <= len(attempts) <= 16  # retried, but not forever (5 attempts per object)
    bare = repo / ".git"
    assert bare.exists()
    from tests.func.test_transfer_integrity import _remote_tags

    assert _remote_tags(repo) == []  # no tag without its bytes


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _counting_store(tmp_path: Path, endpoint: str) -> tuple[ObjectStore, list[str]]:
    """The model's store for ``endpoint``, and the requests its client sends (every attempt)."""
    from cpv.objects.transfer import store_for
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    settings = StorageSettings(
        provider="minio", bucket="cpv-test", endpoint_url=endpoint, region="us-east-1"
    )
    save_user_config(UserConfig(storage=settings))
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    store = store_for(repo)
    store.connect()
    sent: list[str] = []
    store._client.meta.events.register(
        "before-send.s3", lambda request, **kw: sent.append(request.method)
    )
    return store, sent


def test_an_endpoint_that_refuses_connections_is_tried_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong or down endpoint is reported after a second try, not after botocore's whole
    budget of six attempts with backoff (~20 s)."""
    from cpv.domain.errors import StorageUnreachableError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    store, sent = _counting_store(tmp_path, f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(StorageUnreachableError):
        store.sizes()
    assert sent == ["GET", "GET"]


@pytest.mark.s3
def test_throttling_keeps_the_whole_retry_budget(
    proxy: FaultyProxy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """503 SlowDown on every try: six attempts, each retry after botocore's backoff (asked
    for, not slept here: up to 31 s), then one error."""
    from botocore.retries.standard import ExponentialBackoff

    waits: list[int] = []
    monkeypatch.setattr(
        ExponentialBackoff, "delay_amount", lambda self, context: waits.append(1) or 0.0
    )
    store, _ = _counting_store(tmp_path, proxy.url)
    blob = tmp_path / "blob"
    blob.write_bytes(b"x" * 1000)
    proxy.put_failures = 1000
    with pytest.raises(StorageError):
        store.upload(hashlib.md5(b"x" * 1000).hexdigest(), blob)  # only true names go up
    assert len([s for s in proxy.seen if s.startswith("PUT")]) == 6
    assert len(waits) == 5
