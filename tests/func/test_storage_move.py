"""Storage moves are whole (issue 20) and a model keeps to its own prefix (issue 19):
`cpv remote set` onto a bucket root, onto another model's prefix, and what the catalog,
older clones and plain git + DVC users see afterwards (moto S3 over HTTP, real git)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.config import StorageSettings, UserConfig, save_user_config
from cpv.ops.init import init_repository
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def _configure_s3(endpoint: str, bucket: str) -> None:
    """`cpv configure` after the fact: the models started on the local default."""
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket=bucket, endpoint_url=endpoint, region="us-east-1"
            )
        )
    )


def _model(tmp_path: Path, name: str, versions: int = 2) -> Path:
    """A published model on the local default storage with ``versions`` versions."""
    repo = init_repository(team="acme", model=name, path=tmp_path / name)
    manager = ModelCheckpoints(repo)
    for i in range(versions):
        write_checkpoint(repo, f"{name} weights {i} ".encode() * 40)
        manager.tag(message=f"epoch {i}", metrics={"loss": 1 / (i + 1)})
    manager.push()
    return repo


def _keys(endpoint: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _catalog() -> dict[str, dict[str, Any]]:
    out = json.loads(run_cpv("models", "--json").stdout)
    return {f"{m['team']}/{m['model']}": m for m in out["models"]}


@pytest.mark.s3
def test_bucket_root_lays_the_model_out_under_team_and_model(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    repo = _model(tmp_path, "asr")
    _configure_s3(s3_endpoint, s3_bucket)
    dry = json.loads(
        run_cpv("remote", "set", f"s3://{s3_bucket}", "--dry-run", "--json", cwd=repo).stdout
    )
    assert dry["new_url"] == f"s3://{s3_bucket}/acme/asr"
    out = json.loads(
        run_cpv("remote", "set", f"s3://{s3_bucket}", "--all-versions", "--json", cwd=repo).stdout
    )
    assert out["new_url"] == f"s3://{s3_bucket}/acme/asr" and out["verified"]
    keys = _keys(s3_endpoint, s3_bucket)
    assert keys and all(k.startswith("acme/asr/") for k in keys if "cpv-catalog" not in k)
    assert not any(k.startswith("files/") for k in keys)  # nothing at the bucket root
    # The catalog shows the moved model at once (its index came along), and after the push.
    assert _catalog()["acme/asr"]["model_versions"] == 2
    run_cpv("push", cwd=repo)
    assert _catalog()["acme/asr"]["model_version"] == "v0.2"


@pytest.mark.s3
def test_url_already_naming_team_and_model_is_taken_as_is(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    repo = _model(tmp_path, "asr", versions=1)
    _configure_s3(s3_endpoint, s3_bucket)
    url = f"s3://{s3_bucket}/zone/acme/asr"
    out = json.loads(run_cpv("remote", "set", url, "--json", cwd=repo).stdout)
    assert out["new_url"] == url
    keys = [k for k in _keys(s3_endpoint, s3_bucket) if "cpv-catalog" not in k]
    assert keys and all(k.startswith("zone/acme/asr/") for k in keys)


@pytest.mark.s3
def test_prefix_of_another_model_is_refused(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    first = _model(tmp_path, "asr", versions=1)
    second = _model(tmp_path, "tts", versions=1)
    _configure_s3(s3_endpoint, s3_bucket)
    run_cpv("remote", "set", f"s3://{s3_bucket}", cwd=first)
    keys = sorted(_keys(s3_endpoint, s3_bucket))
    before = repo_snapshot(second)
    taken = f"s3://{s3_bucket}/acme/asr"
    for args in (["--dry-run"], []):
        proc = run_cpv("remote", "set", taken, *args, cwd=second, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "is the storage of the model acme/asr" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert proc.stderr.startswith("Error: ")
    assert repo_snapshot(second) == before
    assert sorted(_keys(s3_endpoint, s3_bucket)) == keys  # not one object written


@pytest.mark.s3
def test_prefix_holding_unknown_objects_is_refused(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    repo = _model(tmp_path, "asr", versions=1)
    _configure_s3(s3_endpoint, s3_bucket)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    stranger = "acme/asr/files/md5/00/112233445566778899aabbccddeeff"
    s3.put_object(Bucket=s3_bucket, Key=stranger, Body=b"someone else's bytes")
    before = repo_snapshot(repo)
    proc = run_cpv("remote", "set", f"s3://{s3_bucket}", cwd=repo, check=False)
    assert proc.returncode == 2 and "1 object(s) that no version" in proc.stderr, proc.stderr
    assert repo_snapshot(repo) == before
    assert _keys(s3_endpoint, s3_bucket) == [stranger]


@pytest.mark.s3
def test_own_prefix_indexed_as_another_model_is_refused(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    """acme/tts's own prefix already indexed as acme/asr (placed there by hand, or by an
    older cpv): sharing it would let one model's `gc --remote` delete the other's bytes."""
    first = _model(tmp_path, "asr", versions=1)
    second = _model(tmp_path, "tts", versions=1)
    _configure_s3(s3_endpoint, s3_bucket)
    run_cpv("remote", "set", f"s3://{s3_bucket}", cwd=first)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    index = s3.get_object(Bucket=s3_bucket, Key="acme/asr/cpv-index.json")["Body"].read()
    s3.put_object(Bucket=s3_bucket, Key="acme/tts/cpv-index.json", Body=index)
    before = repo_snapshot(second)
    proc = run_cpv("remote", "set", f"s3://{s3_bucket}", cwd=second, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "s3://cpv-test/acme/tts holds the model acme/asr" in proc.stderr
    assert repo_snapshot(second) == before
    assert not [k for k in _keys(s3_endpoint, s3_bucket) if k.startswith("acme/tts/files/")]
