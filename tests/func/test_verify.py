"""`cpv verify`: every object of the chosen versions, locally and in storage; `--deep`
re-hashes; `--repair` fetches or uploads again (real git, the local default and moto S3)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.objects.layout import object_path
from cpv.ops.init import init_repository
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint


def _versions(repo: Path) -> None:
    for i in (1, 2):
        write_checkpoint(repo, f"weights {i}".encode(), "model.bin")
        write_checkpoint(repo, b"tokenizer", "tokenizer.json")
        ModelCheckpoints(repo).tag()
    push(repo)


def _cached(repo: Path, content: bytes) -> Path:
    return object_path(repo / ".dvc" / "cache", hashlib.md5(content).hexdigest())


def _overwrite(path: Path, content: bytes) -> None:
    os.chmod(path, 0o644)
    path.write_bytes(content)


def test_verify_finds_and_repairs_a_lost_local_object(tmp_path: Path) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo)
    result = ModelCheckpoints(repo).verify(all_versions=True, remote=True)
    assert result.ok and [v.version for v in result.versions] == ["model/v0.1", "model/v0.2"]
    assert result.versions[0].objects == 3  # listing, model.bin, tokenizer.json
    lost = _cached(repo, b"weights 1")
    os.chmod(lost, 0o644)
    lost.unlink()
    proc = run_cpv("verify", "--all-versions", "--json", cwd=repo, check=False)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    assert report["versions"][0]["missing_local"] == ["model/v0.1: checkpoints/model.bin"]
    assert report["versions"][1]["missing_local"] == []
    repaired = ModelCheckpoints(repo).verify(versions=["v0.1"], repair=True)
    assert repaired.ok and repaired.versions[0].repaired_local == 1
    assert lost.read_bytes() == b"weights 1"


def test_deep_verify_catches_same_size_corruption_on_both_sides(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo)
    md5 = hashlib.md5(b"weights 2").hexdigest()
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    key = f"acme/m/files/md5/{md5[:2]}/{md5[2:]}"
    s3.put_object(Bucket="cpv-test", Key=key, Body=b"weights X")  # same size
    _overwrite(_cached(repo, b"tokenizer"), b"tokenizeR")
    shallow = ModelCheckpoints(repo).verify(versions=["v0.2"], remote=True)
    assert shallow.ok  # sizes match: only hashing can tell
    deep = ModelCheckpoints(repo).verify(versions=["v0.2"], remote=True, deep=True)
    assert deep.versions[0].missing_remote == ["model/v0.2: checkpoints/model.bin"]
    assert deep.versions[0].missing_local == ["model/v0.2: checkpoints/tokenizer.json"]
    proc = run_cpv("verify", "v0.2", "--remote", "--deep", cwd=repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "checkpoints/model.bin" in proc.stdout + proc.stderr
    fixed = ModelCheckpoints(repo).verify(versions=["v0.2"], remote=True, deep=True, repair=True)
    assert fixed.ok
    assert (fixed.versions[0].repaired_local, fixed.versions[0].repaired_remote) == (1, 1)
    assert s3.get_object(Bucket="cpv-test", Key=key)["Body"].read() == b"weights 2"
    # The local corruption had no good copy anywhere but the storage: it was re-downloaded.
    assert _cached(repo, b"tokenizer").read_bytes() == b"tokenizer"


def test_verify_refuses_versions_and_all_together(tmp_path: Path) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo)
    proc = run_cpv("verify", "v0.1", "--all-versions", cwd=repo, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("Error:")


@pytest.mark.parametrize("name", ["v0.9", "model/v0.9"])
def test_verify_of_an_unknown_version_says_so(tmp_path: Path, name: str) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo)
    proc = run_cpv("verify", name, cwd=repo, check=False)
    assert proc.returncode != 0 and "v0.9" in proc.stderr and "Traceback" not in proc.stderr


def test_in_a_fresh_clone_versions_not_pulled_are_not_problems_with_remote(
    tmp_path: Path,
) -> None:
    from cpv.ops.pull import clone

    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo)
    dest, _ = clone("acme/m", tmp_path / "other")  # only HEAD's version is pulled
    remote = ModelCheckpoints(dest).verify(all_versions=True, remote=True)
    assert remote.ok
    old = remote.versions[0]
    assert old.version == "model/v0.1" and old.not_fetched == ["model/v0.1: checkpoints/model.bin"]
    assert remote.versions[1].not_fetched == []
    local_only = ModelCheckpoints(dest).verify(all_versions=True)
    assert not local_only.ok  # without the storage, absent is all it can say
    assert local_only.versions[0].missing_local == ["model/v0.1: checkpoints/model.bin"]
