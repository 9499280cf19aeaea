"""Issue 19, family 2: repair and upload trust only bytes that hash to their name, then.

A truncated or damaged local cache object must never replace the storage's good copy:
``verify --remote --repair`` (without ``--deep``) sets it aside and fetches the good one,
``push`` refuses to upload it, and an S3 upload that reads other bytes than its name says
(small or multipart) never replaces the key's object (real git, moto S3, the local default).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import IntegrityError
from cpv.objects.layout import cache_dir, object_path
from cpv.objects.store import ObjectStore
from cpv.ops.init import init_repository
from cpv.ops.push import push
from cpv.settings.config import StorageSettings, UserConfig
from tests.conftest import run_cpv, write_checkpoint

GOOD = b"good weights " * 1000


def _damage(path: Path, content: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(content)
    os.chmod(path, 0o444)


def _key(md5: str) -> str:
    return f"acme/m/files/md5/{md5[:2]}/{md5[2:]}"


@pytest.fixture
def s3_repo(tmp_path: Path, s3_user_config: str) -> Path:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, GOOD)
    ModelCheckpoints(repo).tag()
    push(repo)
    return repo


def _stored(s3_endpoint: str, md5: str) -> bytes:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    return bytes(s3.get_object(Bucket="cpv-test", Key=_key(md5))["Body"].read())


def test_remote_repair_sets_a_truncated_local_copy_aside_and_keeps_the_good_one(
    s3_repo: Path, s3_endpoint: str
) -> None:
    md5 = hashlib.md5(GOOD).hexdigest()
    local = object_path(cache_dir(s3_repo), md5)
    _damage(local, GOOD[:100])  # truncated
    proc = run_cpv("verify", "--all", "--remote", "--repair", "--json", cwd=s3_repo)
    report = json.loads(proc.stdout)
    version = report["versions"][0]
    assert report["ok"] and version["repaired_local"] == 1 and version["repaired_remote"] == 0
    assert _stored(s3_endpoint, md5) == GOOD  # the storage's copy was never replaced
    assert local.read_bytes() == GOOD  # the good copy came back, verified
    [aside] = version["quarantined"]
    assert Path(aside).read_bytes() == GOOD[:100]  # kept, not deleted
    assert Path(aside).parent == cache_dir(s3_repo) / "quarantine"
    text = run_cpv("verify", "--all", "--remote", cwd=s3_repo)
    assert "ok" in text.stdout and "set aside" not in text.stdout


def test_without_repair_the_truncated_side_is_the_one_reported(
    s3_repo: Path, s3_endpoint: str
) -> None:
    md5 = hashlib.md5(GOOD).hexdigest()
    _damage(object_path(cache_dir(s3_repo), md5), GOOD[:100])
    proc = run_cpv("verify", "--all", "--remote", "--json", cwd=s3_repo, check=False)
    assert proc.returncode == 1
    version = json.loads(proc.stdout)["versions"][0]
    assert version["missing_local"] == ["model/v0.1: checkpoints/model.bin"]
    assert version["missing_remote"] == [] and version["quarantined"] == []
    assert _stored(s3_endpoint, md5) == GOOD


def test_remote_repair_with_both_copies_bad_uploads_nothing(
    s3_repo: Path, s3_endpoint: str
) -> None:
    md5 = hashlib.md5(GOOD).hexdigest()
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").put_object(
        Bucket="cpv-test", Key=_key(md5), Body=b"X" * len(GOOD)
    )
    _damage(object_path(cache_dir(s3_repo), md5), GOOD[:100])
    proc = run_cpv("verify", "--all", "--remote", "--repair", "--json", cwd=s3_repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    version = json.loads(proc.stdout)["versions"][0]
    assert version["missing_local"] and version["missing_remote"]
    assert version["repaired_remote"] == 0 and len(version["quarantined"]) == 1
    assert _stored(s3_endpoint, md5) == b"X" * len(GOOD)  # untouched: nothing good to send


def test_push_never_uploads_a_corrupt_local_copy(s3_repo: Path, s3_endpoint: str) -> None:
    md5 = hashlib.md5(GOOD).hexdigest()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.delete_object(Bucket="cpv-test", Key=_key(md5))  # the storage lost it
    _damage(object_path(cache_dir(s3_repo), md5), GOOD[:100])
    write_checkpoint(s3_repo, b"second", "extra.bin")  # the new version shares model.bin
    ModelCheckpoints(s3_repo).tag()
    proc = run_cpv("push", cwd=s3_repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (
        f"object {md5} is corrupt" in proc.stderr
        and "verify --all-versions --deep --repair" in proc.stderr
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cpv-test").get("Contents", [])]
    assert _key(md5) not in keys


@pytest.mark.parametrize("size", [1000, (8 << 20) + 1000], ids=["one PUT", "multipart"])
def test_an_upload_of_bytes_that_are_not_the_object_replaces_nothing(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, size: int
) -> None:
    good = os.urandom(size)
    md5 = hashlib.md5(good).hexdigest()
    store = ObjectStore(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket=s3_bucket, endpoint_url=s3_endpoint, region="us-east-1"
            )
        ),
        f"s3://{s3_bucket}/acme/m",
    )
    source = tmp_path / "object"
    source.write_bytes(good)
    store.upload(md5, source)
    bad = bytearray(good)
    bad[-1] ^= 1  # same size, last byte flipped: only the end of the read can tell
    source.write_bytes(bytes(bad))
    with pytest.raises(IntegrityError, match="not uploaded"):
        store.upload(md5, source)
    assert _stored(s3_endpoint, md5) == good
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")


def test_a_local_storage_keeps_its_copy_too(tmp_path: Path) -> None:
    store = ObjectStore(UserConfig(), str(tmp_path / "storage"))
    md5 = hashlib.md5(b"good").hexdigest()
    source = tmp_path / "object"
    source.write_bytes(b"good")
    store.upload(md5, source)
    source.write_bytes(b"bad!")
    with pytest.raises(IntegrityError):
        store.upload(md5, source)
    assert (tmp_path / "storage" / "files" / "md5" / md5[:2] / md5[2:]).read_bytes() == b"good"
    assert [p.name for p in (tmp_path / "storage" / "files" / "md5" / md5[:2]).iterdir()] == [
        md5[2:]
    ]


def test_the_hint_of_a_corrupt_cache_object_repairs_it(s3_repo: Path) -> None:
    """Same size, one byte flipped: pull refuses it, and what its hint says to run sets it
    aside and brings the good copy back."""
    md5 = hashlib.md5(GOOD).hexdigest()
    local = object_path(cache_dir(s3_repo), md5)
    _damage(local, GOOD[:-1] + b"!")
    (s3_repo / "checkpoints" / "model.bin").unlink()
    pull = run_cpv("pull", "v0.1", "--force", cwd=s3_repo, check=False)
    assert pull.returncode == 1 and "corrupt" in pull.stderr
    assert "`cpv verify --deep --repair`" in pull.stderr
    fixed = json.loads(run_cpv("verify", "--deep", "--repair", "--json", cwd=s3_repo).stdout)
    assert fixed["ok"] and len(fixed["versions"][0]["quarantined"]) == 1
    run_cpv("pull", "v0.1", "--force", cwd=s3_repo)
    assert (s3_repo / "checkpoints" / "model.bin").read_bytes() == GOOD
