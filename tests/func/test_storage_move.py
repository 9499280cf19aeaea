"""Storage moves are whole (issue 20) and a model keeps to its own prefix (issue 19):
`cpv remote set` onto a bucket root, onto another model's prefix, and what the catalog,
older clones and plain git + DVC users see afterwards (moto S3 over HTTP, real git)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.domain.paths import cpv_home
from cpv.ops.init import init_repository
from cpv.settings.config import StorageSettings, UserConfig, save_user_config
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint


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
@pytest.mark.slow
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


def _dvc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The plain `dvc` CLI (no cpv), as a user without cpv runs it."""
    return subprocess.run(["dvc", *args], cwd=cwd, capture_output=True, text=True)


def _weights(repo: Path) -> bytes:
    return (repo / "checkpoints" / "model.bin").read_bytes()


@pytest.mark.s3
@pytest.mark.slow
def test_clones_made_before_a_move_and_plain_git_dvc_read_every_version(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    mover = _model(tmp_path, "asr")  # model/v0.1, model/v0.2 on the local default
    ModelCheckpoints(mover).promote("v0.1", "prod")
    ModelCheckpoints(mover).push()
    origin = git(mover, "remote", "get-url", "origin").strip()
    early = tmp_path / "early"
    run_cpv("clone", origin, str(early))  # a teammate's clone, made before the move
    early_head = git(early, "rev-parse", "HEAD")

    _configure_s3(s3_endpoint, s3_bucket)
    run_cpv("remote", "set", f"s3://{s3_bucket}", cwd=mover)
    run_cpv("push", cwd=mover)
    shutil.rmtree(cpv_home() / "storage")  # the old storage is gone

    # The early clone: a versioned pull works the first time and leaves the branch alone.
    out = json.loads(run_cpv("pull", "v0.1", "--json", cwd=early).stdout)
    assert out["updated_branch"] is False and out["fetched_objects"] > 0
    assert git(early, "rev-parse", "HEAD") == early_head
    assert _weights(early) == b"asr weights 0 " * 40
    # ... and plain DVC in it reads an old version from the new storage.
    shutil.rmtree(early / ".dvc" / "cache")
    git(early, "checkout", "-q", "alias/prod/1")
    proc = _dvc(early, "pull", "-q")
    assert proc.returncode == 0, proc.stderr
    assert _weights(early) == b"asr weights 0 " * 40
    git(early, "checkout", "-q", "main")
    pulled = json.loads(run_cpv("pull", "--json", cwd=early).stdout)
    assert pulled["updated_branch"] is True  # a pull without a version moves the branch

    # A plain git + dvc user: one command after the clone, then any version.
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", origin, str(plain)], check=True)
    git(plain, "checkout", "-q", "model/v0.1")
    assert _dvc(plain, "pull", "-q").returncode != 0  # v0.1's own .dvc/config: the old storage
    config = git(plain, "show", "origin/HEAD:.dvc/config")
    (plain / ".dvc" / "config.local").write_text(config)
    for tag, body in (("model/v0.1", b"asr weights 0 "), ("alias/prod/1", b"asr weights 0 ")):
        git(plain, "checkout", "-q", tag)
        proc = _dvc(plain, "pull", "-q")
        assert proc.returncode == 0, proc.stderr
        assert _weights(plain) == body * 40
    git(plain, "checkout", "-q", "model/v0.2")
    assert _dvc(plain, "pull", "-q").returncode == 0 and _weights(plain) == b"asr weights 1 " * 40


def test_a_later_move_brought_in_by_plain_git_pull_is_followed(tmp_path: Path) -> None:
    """A clone pinned to the first move's storage follows a teammate's second move that
    plain `git pull` brought in: its next push uploads to where the model is now."""
    mover = _model(tmp_path, "asr", versions=1)
    first, second = tmp_path / "first", tmp_path / "second"
    ModelCheckpoints(mover).move_storage(str(first))
    ModelCheckpoints(mover).push()
    origin = git(mover, "remote", "get-url", "origin").strip()
    early = tmp_path / "early"
    run_cpv("clone", origin, str(early))
    assert str(first / "acme" / "asr") in (early / ".dvc" / "config.local").read_text()

    ModelCheckpoints(mover).move_storage(str(second))
    ModelCheckpoints(mover).push()
    git(early, "pull", "-q", "--ff-only")  # plain git: cpv is not there to re-pin
    write_checkpoint(early, b"early's new weights " * 20)
    tagged = ModelCheckpoints(early).tag(message="after the second move")
    ModelCheckpoints(early).push()
    oid = tagged.records[0].content_hash
    where = f"files/md5/{oid[:2]}/{oid[2:]}"
    assert (second / "acme" / "asr" / where).is_file()
    assert not (first / "acme" / "asr" / where).exists()
    assert str(second / "acme" / "asr") in (early / ".dvc" / "config.local").read_text()


def test_a_push_that_brings_in_a_teammates_move_uploads_to_the_new_storage(
    tmp_path: Path,
) -> None:
    """A clone with an unpublished version pushes after a teammate moved the model: push
    merges the move in, and the version's bytes go where the model now is."""
    mover = _model(tmp_path, "asr", versions=1)
    origin = git(mover, "remote", "get-url", "origin").strip()
    early = tmp_path / "early"
    run_cpv("clone", origin, str(early))
    write_checkpoint(early, b"early's new weights " * 20)
    oid = ModelCheckpoints(early).tag(message="before the move").records[0].content_hash

    moved = tmp_path / "moved"
    ModelCheckpoints(mover).move_storage(str(moved))
    ModelCheckpoints(mover).push()
    ModelCheckpoints(early).push()
    assert (moved / "acme" / "asr" / f"files/md5/{oid[:2]}/{oid[2:]}").is_file()
    assert str(moved / "acme" / "asr") in (early / ".dvc" / "config").read_text()


@pytest.mark.s3
@pytest.mark.slow
def test_a_model_an_older_cpv_put_at_the_bucket_root_moves_into_place(
    tmp_path: Path, s3_bucket: str, s3_endpoint: str
) -> None:
    """The issue's case: `remote set s3://BUCKET` once put the objects (and the index) at the
    bucket root; the same command now moves the model to BUCKET/TEAM/MODEL, even when another
    model moved to the root since rewrote the root's index."""
    from cpv.core.repo import ModelRepo
    from cpv.objects.store import ObjectStore
    from cpv.ops import remote as remote_ops
    from cpv.settings.config_env import load_user_config

    repo = _model(tmp_path, "asr")
    _configure_s3(s3_endpoint, s3_bucket)
    opened, cfg, root = ModelRepo.open(repo), load_user_config(), f"s3://{s3_bucket}"
    versions = remote_ops._versions_to_move(opened, cfg, None, all_versions=True)
    remote_ops._copy(  # what the older cpv did: the root itself as the model's storage
        repo, ObjectStore(cfg, root), None, versions, owner=("acme", "asr"), dry_run=False,
        step=lambda *_: None,
    )  # fmt: skip
    remote_ops._switch_remote(opened, cfg, root)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="cpv-index.json", Body=b'{"team": "acme", "model": "tts"}')
    assert "acme/asr" not in _catalog()

    out = json.loads(run_cpv("remote", "set", root, "--json", cwd=repo).stdout)
    assert out["old_url"] == root and out["new_url"] == f"{root}/acme/asr" and out["verified"]
    for key in [k for k in _keys(s3_endpoint, s3_bucket) if k.startswith("files/")]:
        s3.delete_object(Bucket=s3_bucket, Key=key)  # the root's copies, once every model moved
    shutil.rmtree(repo / ".dvc" / "cache")
    pulled = json.loads(run_cpv("pull", "v0.1", "--json", cwd=repo).stdout)
    assert pulled["fetched_objects"] > 0 and _weights(repo) == b"asr weights 0 " * 40
    run_cpv("push", cwd=repo)
    assert _catalog()["acme/asr"]["model_versions"] == 2
