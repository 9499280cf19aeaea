"""The transfer engine never publishes, keeps or shows a wrong byte (issue 8), tried as an
attacker would, against a real S3 endpoint (moto's server; the RGW tier runs them again)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import DiskFullError, InjectedFault, IntegrityError, MissingDataError
from cpv.objects.layout import object_path
from cpv.ops.init import init_repository
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint


def _s3(endpoint: str) -> object:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _remote_tags(repo: Path) -> list[str]:
    bare = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    out = subprocess.run(["git", "ls-remote", "--tags", bare], capture_output=True, text=True)
    return sorted(x.split("refs/tags/")[1] for x in out.stdout.split("\n") if "refs/tags/" in x)


def _key(md5: str, model: str = "m") -> str:
    return f"acme/{model}/files/md5/{md5[:2]}/{md5[2:]}"


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp") if p.is_file()]


@pytest.fixture
def model(tmp_path: Path, s3_user_config: str) -> Path:
    """A model on the S3 bucket with two files in its checkpoint, tagged, not pushed."""
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"weights one", "model.bin")
    write_checkpoint(repo, b"tokenizer one", "tokenizer.json")
    ModelCheckpoints(repo).tag()
    return repo


@pytest.mark.s3
def test_a_version_missing_a_local_object_is_not_published(model: Path, s3_endpoint: str) -> None:
    md5 = hashlib.md5(b"tokenizer one").hexdigest()
    os.chmod(object_path(model / ".dvc" / "cache", md5), 0o644)
    object_path(model / ".dvc" / "cache", md5).unlink()
    with pytest.raises(MissingDataError) as err:
        push(model)
    assert "model/v0.1" in err.value.message and "checkpoints/tokenizer.json" in err.value.message
    assert _remote_tags(model) == []
    assert "Contents" not in _s3(s3_endpoint).list_objects_v2(Bucket="cpv-test")  # type: ignore[attr-defined]
    proc = run_cpv("push", cwd=model, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "tokenizer.json" in proc.stderr and "Nothing was published" in proc.stderr


@pytest.mark.s3
def test_an_object_deleted_from_the_bucket_is_uploaded_again(model: Path, s3_endpoint: str) -> None:
    push(model)
    md5 = hashlib.md5(b"weights one").hexdigest()
    _s3(s3_endpoint).delete_object(Bucket="cpv-test", Key=_key(md5))  # type: ignore[attr-defined]
    result = push(model)
    assert result.objects_pushed == 1 and not result.up_to_date
    body = _s3(s3_endpoint).get_object(Bucket="cpv-test", Key=_key(md5))["Body"].read()  # type: ignore[attr-defined]
    assert body == b"weights one"
    assert push(model).up_to_date


@pytest.mark.s3
def test_a_corrupt_object_in_the_bucket_never_lands_and_a_later_pull_succeeds(
    model: Path, s3_endpoint: str, tmp_path: Path
) -> None:
    push(model)
    write_checkpoint(model, b"weights two", "model.bin")
    ModelCheckpoints(model).tag()
    push(model)
    dest, _ = clone("acme/m", tmp_path / "other", version="v0.1")
    md5 = hashlib.md5(b"weights two").hexdigest()
    s3 = _s3(s3_endpoint)
    s3.put_object(Bucket="cpv-test", Key=_key(md5), Body=b"weights tw0")  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError) as err:
        pull(dest, version="v0.2")
    assert md5 in err.value.message
    assert (dest / "checkpoints/model.bin").read_bytes() == b"weights one"  # workspace untouched
    assert not object_path(dest / ".dvc" / "cache", md5).exists()  # nor the cache
    assert _temp_files(dest / ".dvc") == []
    s3.put_object(Bucket="cpv-test", Key=_key(md5), Body=b"weights two")  # type: ignore[attr-defined]
    pull(dest, version="v0.2")
    assert (dest / "checkpoints/model.bin").read_bytes() == b"weights two"


@pytest.mark.s3
def test_an_interrupted_multipart_upload_leaves_no_open_upload(
    model: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(17 << 20)  # 3 parts of 8 MiB
    write_checkpoint(model, big, "model.bin")
    ModelCheckpoints(model).tag()
    monkeypatch.setenv("CPV_FAULT", "upload_midway")
    with pytest.raises(InjectedFault):
        push(model)
    s3 = _s3(s3_endpoint)
    assert s3.list_multipart_uploads(Bucket="cpv-test").get("Uploads", []) == []  # type: ignore[attr-defined]
    assert _remote_tags(model) == []
    monkeypatch.delenv("CPV_FAULT")
    push(model)
    md5 = hashlib.md5(big).hexdigest()
    got = s3.get_object(Bucket="cpv-test", Key=_key(md5))["Body"].read()  # type: ignore[attr-defined]
    assert hashlib.md5(got).hexdigest() == md5


@pytest.mark.s3
def test_an_upload_left_open_by_a_killed_push_is_aborted_by_the_next(
    model: Path, s3_endpoint: str
) -> None:
    s3 = _s3(s3_endpoint)
    md5 = hashlib.md5(b"weights one").hexdigest()
    started = s3.create_multipart_upload(Bucket="cpv-test", Key=_key(md5))  # type: ignore[attr-defined]
    s3.upload_part(  # type: ignore[attr-defined]
        Bucket="cpv-test", Key=_key(md5), UploadId=started["UploadId"], PartNumber=1, Body=b"w"
    )
    push(model)
    assert s3.list_multipart_uploads(Bucket="cpv-test").get("Uploads", []) == []  # type: ignore[attr-defined]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MiB filesystem (tmpfs), for a disk that fills up."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.s3
def test_disk_full_while_pulling_says_so_and_leaves_no_temp_file(
    model: Path, s3_endpoint: str, tmp_path: Path, small_disk: Path
) -> None:
    write_checkpoint(model, os.urandom(3 << 20), "model.bin")
    ModelCheckpoints(model).tag()
    push(model)
    dest, _ = clone("acme/m", tmp_path / "other", version="v0.1")
    (dest / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {small_disk}\n")
    with pytest.raises(DiskFullError) as err:
        pull(dest, version="v0.2")
    assert str(small_disk) in err.value.message
    assert _temp_files(small_disk) == []
    assert (dest / "checkpoints/model.bin").read_bytes() == b"weights one"


def test_a_symlink_leaving_the_repository_is_refused_at_tag(tmp_path: Path) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    secret = tmp_path / "home" / "secret.txt"
    secret.write_text("aws_secret_access_key = hunter2")
    write_checkpoint(repo, b"weights", "model.bin")
    (repo / "checkpoints" / "leak.txt").symlink_to(secret)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    proc = run_cpv("tag", "--kind", "model", cwd=repo, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "leak.txt" in proc.stderr and "symlink" in proc.stderr.lower()
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    assert after.stdout == head.stdout
    cached = [p.read_bytes() for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert not any(b"hunter2" in c for c in cached)


@pytest.mark.s3
def test_a_ranged_download_is_verified_and_lands_whole(
    model: Path, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpv._s3 import io as _s3_io

    monkeypatch.setattr(_s3_io, "_RANGE", 1 << 20)  # 1 MiB ranges: a 3.5 MiB object has 4
    big = os.urandom((7 << 20) // 2)
    write_checkpoint(model, big, "model.bin")
    ModelCheckpoints(model).tag()
    push(model)
    dest, _ = clone("acme/m", tmp_path / "other")
    assert (
        hashlib.md5((dest / "checkpoints/model.bin").read_bytes()).digest()
        == hashlib.md5(big).digest()
    )
    md5 = hashlib.md5(big).hexdigest()
    tampered = bytearray(big)
    tampered[-1] ^= 1  # the last range is wrong: only hashing the whole can tell
    _s3(s3_endpoint).put_object(Bucket="cpv-test", Key=_key(md5), Body=bytes(tampered))  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError):
        clone("acme/m", tmp_path / "victim")
    assert not (tmp_path / "victim").exists()


def _gc_elsewhere_during_the_upload(
    monkeypatch: pytest.MonkeyPatch, s3: object, key: str
) -> list[str]:
    """Another machine's `cpv gc --remote` removes ``key`` once this push has listed the
    storage and begun uploading (the first upload call); what it removed is appended."""
    from cpv.objects.store import ObjectStore

    real, removed = ObjectStore.upload, []

    def upload(self: ObjectStore, oid: str, source: Path, **kwargs: object) -> None:
        if not removed:
            s3.delete_object(Bucket="cpv-test", Key=key)  # type: ignore[attr-defined]
            removed.append(key)
        real(self, oid, source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ObjectStore, "upload", upload)
    return removed


@pytest.mark.s3
def test_an_object_removed_during_the_push_is_uploaded_again_before_publishing(
    model: Path, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(model)
    write_checkpoint(model, b"weights two", "model.bin")
    ModelCheckpoints(model).tag()  # v0.2 shares tokenizer.json, already stored, with v0.1
    key = _key(hashlib.md5(b"tokenizer one").hexdigest())
    s3 = _s3(s3_endpoint)
    removed = _gc_elsewhere_during_the_upload(monkeypatch, s3, key)
    result = push(model)
    assert removed == [key] and result.pushed_tags == ["model/v0.2"]
    assert "uploaded again" in (result.storage_warning or "")
    body = s3.get_object(Bucket="cpv-test", Key=key)["Body"].read()  # type: ignore[attr-defined]
    assert body == b"tokenizer one"
    dest, _ = clone("acme/m", tmp_path / "other")
    assert (dest / "checkpoints" / "tokenizer.json").read_bytes() == b"tokenizer one"


@pytest.mark.s3
def test_an_object_removed_during_the_push_and_not_here_stops_it_before_git(
    model: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    push(model)
    write_checkpoint(model, b"weights two", "model.bin")
    ModelCheckpoints(model).tag()
    md5 = hashlib.md5(b"tokenizer one").hexdigest()
    cached = object_path(model / ".dvc" / "cache", md5)
    os.chmod(cached, 0o644)
    cached.unlink()  # this clone relies on the storage's copy alone
    _gc_elsewhere_during_the_upload(monkeypatch, _s3(s3_endpoint), _key(md5))
    with pytest.raises(MissingDataError) as err:
        push(model)
    assert "left the storage during this push" in err.value.message
    assert "checkpoints/tokenizer.json" in err.value.message
    published = _remote_tags(model)
    assert "model/v0.1" in published and not any("v0.2" in t for t in published)
