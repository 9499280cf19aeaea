"""Moving a model off the embedded local default to S3 with its whole history (`cpv remote set`)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from cpv._dvc import repo as _dvc
from cpv.api.managers import ModelCheckpoints
from cpv.domain.errors import StorageError
from cpv.domain.paths import cpv_home
from cpv.ops.init import init_repository
from cpv.ops.remote import move_storage
from cpv.settings.config_env import load_user_config
from tests.conftest import git as _git
from tests.conftest import run_cpv

SENTINEL = "SENTINEL-move-secret-0c4f9e1d2a"


def _make_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int = 3
) -> tuple[Path, dict[str, dict[str, bytes]]]:
    """A model on the local default with ``n`` versions; returns tag -> {relpath: bytes}."""
    repo = init_repository(team="acme", model="mover", path=tmp_path / "mover")
    monkeypatch.chdir(repo)  # DVC resolves paths from the working directory
    files: dict[str, bytes] = {}
    history: dict[str, dict[str, bytes]] = {}
    for i in range(n):
        files["weights.bin"] = f"weights {i} ".encode() * (i + 3)
        files[f"extra/shard{i}.bin"] = bytes([i]) * 17
        for rel, data in files.items():
            (repo / "checkpoints" / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / "checkpoints" / rel).write_bytes(data)
        result = ModelCheckpoints(repo).tag(message=f"epoch {i}", metrics={"loss": 1 / (i + 1)})
        history[result.records[0].tag] = dict(files)
    return repo, history


def _configure_s3(endpoint: str, bucket: str) -> None:
    """`cpv configure` after the fact: the user started on the local default."""
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    save_user_config(UserConfig(storage=StorageSettings(
        provider="minio", bucket=bucket, endpoint_url=endpoint, region="us-east-1", checksum_when_required=True,
    )))  # fmt: skip


def _s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def _bytes_from_s3(client: Any, bucket: str, prefix: str, pointer_text: str) -> dict[str, bytes]:
    """Rebuild a version's files from the remote alone, checking every object's md5."""

    def get(oid: str) -> bytes:
        body = client.get_object(Bucket=bucket, Key=f"{prefix}/files/md5/{oid[:2]}/{oid[2:]}")[
            "Body"
        ].read()
        if not oid.endswith(".dir"):
            assert hashlib.md5(body).hexdigest() == oid
        return body

    top = yaml.safe_load(pointer_text)["outs"][0]["md5"]
    listing = json.loads(get(top))
    return {entry["relpath"]: get(entry["md5"]) for entry in listing}


def test_dry_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, s3_endpoint: str
) -> None:
    repo, history = _make_history(tmp_path, monkeypatch, n=2)
    _configure_s3(s3_endpoint, s3_bucket)
    head = _git(repo, "rev-parse", "HEAD")
    config = (repo / ".dvc" / "config").read_text()
    out = json.loads(
        run_cpv("remote", "set", "--all-versions", "--dry-run", "--json", cwd=repo).stdout
    )
    assert out["dry_run"] is True and out["new_url"] == f"s3://{s3_bucket}/acme/mover"
    assert [v["tag"] for v in out["versions"]] == list(history)
    assert out["objects_to_upload"] == out["objects_total"] > 0
    assert _git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".dvc" / "config").read_text() == config
    assert _s3(s3_endpoint).list_objects_v2(Bucket=s3_bucket).get("KeyCount", 0) == 0


def test_move_keeps_every_versions_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, s3_endpoint: str
) -> None:
    repo, history = _make_history(tmp_path, monkeypatch)
    _configure_s3(s3_endpoint, s3_bucket)
    seen: list[tuple[int, int, str]] = []
    result = move_storage(
        repo, all_versions=True, progress=lambda d, t, tag: seen.append((d, t, tag))
    )
    assert result.verified and result.commit
    assert [s[2] for s in seen] == [*history, ""] and seen[-1][:2] == (3, 3)
    assert _dvc.remote_url(repo) == f"s3://{s3_bucket}/acme/mover"
    assert _git(repo, "status", "--porcelain") == ""
    assert "move storage to s3://" in _git(repo, "log", "-1", "--format=%s")

    # The old storage is gone: every version must come from S3 alone.
    shutil.rmtree(cpv_home() / "storage")
    client = _s3(s3_endpoint)
    for tag, files in history.items():
        pointer = _git(repo, "show", f"{tag}:checkpoints.dvc")
        assert _bytes_from_s3(client, s3_bucket, "acme/mover", pointer) == files

    again = move_storage(repo, new_url=str(tmp_path / "elsewhere"), all_versions=True)
    assert again.objects_to_upload == again.objects_total  # and back to a local path works too
    assert _dvc.remote_url(repo) == str(tmp_path / "elsewhere" / "acme" / "mover")  # layout


def test_clone_and_pull_each_version_after_the_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, s3_endpoint: str
) -> None:
    from cpv.ops.pull import clone, pull
    from cpv.ops.push import push as publish

    repo, history = _make_history(tmp_path, monkeypatch)

    _configure_s3(s3_endpoint, s3_bucket)
    move_storage(repo, all_versions=True)
    publish(repo)
    shutil.rmtree(cpv_home() / "storage")
    monkeypatch.chdir(tmp_path)
    copy, _ = clone(str(cpv_home() / "git" / "acme" / "mover.git"), tmp_path / "copy")
    monkeypatch.chdir(copy)
    for tag, files in history.items():
        pull(copy, version=tag)
        got = {
            p.relative_to(copy / "checkpoints").as_posix(): p.read_bytes()
            for p in (copy / "checkpoints").rglob("*")
            if p.is_file()
        }
        assert got == files, tag


def test_failed_move_leaves_the_model_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, s3_endpoint: str
) -> None:
    repo, _ = _make_history(tmp_path, monkeypatch, n=1)
    _configure_s3(s3_endpoint, s3_bucket)
    head, config = _git(repo, "rev-parse", "HEAD"), (repo / ".dvc" / "config").read_bytes()
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        move_storage(repo, new_url="s3://no-such-bucket/acme/mover", all_versions=True)
    assert _git(repo, "rev-parse", "HEAD") == head
    assert (repo / ".dvc" / "config").read_bytes() == config


def test_without_all_versions_only_the_current_commit_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_bucket: str, s3_endpoint: str
) -> None:
    repo, history = _make_history(tmp_path, monkeypatch, n=2)
    _configure_s3(s3_endpoint, s3_bucket)
    result = move_storage(repo, dry_run=True, all_versions=False)
    assert [v.tag for v in result.versions] == ["HEAD"]
    assert result.objects_total < move_storage(repo, dry_run=True, all_versions=True).objects_total


@pytest.mark.moto_only  # moto accepts any key; a real gateway checks them
def test_secret_never_leaks_during_move_and_push(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_bucket: str,
    s3_endpoint: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from cpv.ops.push import push as publish
    from cpv.settings import credentials

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials.store_credentials(access_key_id="AKIASENTINEL0001", secret_access_key=SENTINEL)
    caplog.set_level(logging.DEBUG)
    repo, _ = _make_history(tmp_path, monkeypatch, n=2)
    _configure_s3(s3_endpoint, s3_bucket)

    samples: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            samples.append(
                subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
            )
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        assert credentials.resolve_credentials(load_user_config()).source == "cpv"
        move_storage(repo, all_versions=True)
        (repo / "checkpoints" / "weights.bin").write_bytes(b"after the move")
        ModelCheckpoints(repo).tag(message="after move")
        publish(repo)  # DVC push (credentials in memory) + git push
    finally:
        done.set()
        watcher.join()

    assert samples and all(SENTINEL not in s for s in samples)
    assert SENTINEL not in caplog.text
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err
    for path in repo.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path
    history = _git(repo, "log", "--all", "-p", "--format=%H %B") + _git(
        repo, "for-each-ref", "--format=%(contents)", "refs/tags"
    )
    assert SENTINEL not in history
    bare = cpv_home() / "git" / "acme" / "mover.git"
    assert (
        SENTINEL
        not in subprocess.run(
            ["git", "log", "--all", "-p"], cwd=bare, capture_output=True, text=True, check=True
        ).stdout
    )
