"""The storage over HTTPS, through a TLS front (:mod:`tests.tls_front`) before moto or, on the
RGW tier (``make test-rgw``), before a real Ceph RADOS Gateway.

Over HTTPS, boto3's default (``when_supported``) sends each upload's body as
``aws-chunked`` with a trailing checksum. Ceph 16's gateway refuses that
(``MissingContentLength``), as older MinIO, R2 and B2 did: the presets for those servers
and for any custom endpoint ask for checksums "when required". These tests push and clone
through a custom endpoint over HTTPS and check that no streaming checksum was sent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.ops.init import init_repository
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import RGW, write_checkpoint
from tests.tls_front import TlsFront, self_signed_certificate


@pytest.fixture
def https_storage(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TlsFront, Path]]:
    """The test bucket behind a TLS front, configured as `cpv configure --provider custom`
    would (the certificate trusted through AWS_CA_BUNDLE, as a user would for a private CA)."""
    from cpv.settings.config import UserConfig, save_user_config
    from cpv.settings.providers import resolve_storage

    cert, key = self_signed_certificate(tmp_path)
    front = TlsFront(s3_endpoint, cert, key)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert))
    storage = resolve_storage(provider="custom", bucket=s3_bucket, endpoint_url=front.url)
    assert storage.checksum_when_required
    save_user_config(UserConfig(storage=storage))
    yield front, cert
    front.close()


@pytest.mark.s3
def test_push_and_clone_over_https_send_no_streaming_checksum(
    https_storage: tuple[TlsFront, Path], tmp_path: Path
) -> None:
    front, _ = https_storage
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    big = os.urandom(9 << 20)  # above one part: a multipart upload
    write_checkpoint(repo, big)
    write_checkpoint(repo, b"config", name="config.json")
    ModelCheckpoints(repo).tag()
    result = push(repo)
    assert result.pushed_tags == ["model/v0.1"] and result.objects_pushed == 3
    assert b"partNumber=" in front.sent  # the parts went through the front too
    assert b"aws-chunked" not in front.sent.lower()
    dest, _ = clone("acme/m", tmp_path / "other")
    got = (dest / "checkpoints" / "model.bin").read_bytes()
    assert hashlib.md5(got).digest() == hashlib.md5(big).digest()
    assert (dest / "checkpoints" / "config.json").read_bytes() == b"config"


@pytest.mark.s3
@pytest.mark.skipif(not RGW["endpoint"], reason="moto takes either; the gateway is the point")
def test_the_gateway_refuses_boto3s_default_streaming_checksums_over_https(
    https_storage: tuple[TlsFront, Path], s3_bucket: str
) -> None:
    """Why the presets ask for checksums "when required": this is what cpv would hit."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    front, cert = https_storage
    default = boto3.client("s3", endpoint_url=front.url, region_name="us-east-1", verify=str(cert))
    with pytest.raises(ClientError, match="MissingContentLength"):
        default.put_object(Bucket=s3_bucket, Key="probe", Body=b"x" * 1000)
    assert b"aws-chunked" in front.sent.lower()
    careful = boto3.client(
        "s3",
        endpoint_url=front.url,
        region_name="us-east-1",
        verify=str(cert),
        config=Config(request_checksum_calculation="when_required"),
    )
    careful.put_object(Bucket=s3_bucket, Key="probe", Body=b"x" * 1000)
