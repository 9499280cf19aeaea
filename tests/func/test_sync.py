"""push / clone / pull against real remotes: a local bare git repo, and S3 over HTTP (moto)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import boto3
import pytest

from cpv import CombinedCheckpoints, ModelCheckpoints
from cpv.domain.errors import InjectedFault
from cpv.ops.init import init_repository
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import git, write_checkpoint


def remote_tags(bare: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-remote", "--tags", bare], capture_output=True, text=True, check=True
    ).stdout
    return sorted(
        line.split("refs/tags/")[1] for line in out.splitlines() if not line.endswith("^{}")
    )


def _three_versions(repo: Path) -> dict[str, bytes]:
    blobs = {}
    for i in range(1, 4):
        blob = f"weights {i} ".encode() * (1000 * i)
        write_checkpoint(repo, blob)
        ModelCheckpoints(repo).tag(metrics={"loss": 1 / i})
        blobs[f"v0.{i}"] = blob
    return blobs


def test_push_clone_pull_local_default(repo: Path, tmp_path: Path) -> None:
    blobs = _three_versions(repo)
    res = push(repo)
    bare = git(repo, "remote", "get-url", "origin").strip()
    assert remote_tags(bare) == ["model/v0.1", "model/v0.2", "model/v0.3"]
    assert res.pushed_tags == ["model/v0.1", "model/v0.2", "model/v0.3"]
    assert push(repo).up_to_date
    dest, result = clone("acme/whisper-small", tmp_path / "elsewhere")
    assert (dest / "checkpoints/model.bin").read_bytes() == blobs["v0.3"]
    assert "checkpoints" in result.verified_paths
    for version, blob in blobs.items():
        pull(dest, version=f"model/{version}")
        assert (dest / "checkpoints/model.bin").read_bytes() == blob
    dest2, _ = clone(bare, tmp_path / "pinned", version="v0.1")
    assert (dest2 / "checkpoints/model.bin").read_bytes() == blobs["v0.1"]


def test_failed_data_push_publishes_no_tag(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _three_versions(repo)
    bare = git(repo, "remote", "get-url", "origin").strip()
    monkeypatch.setenv("CPV_FAULT", "after_data_push")
    with pytest.raises(InjectedFault):
        push(repo)
    assert remote_tags(bare) == []
    monkeypatch.delenv("CPV_FAULT")
    push(repo)
    assert len(remote_tags(bare)) == 3


def test_two_writers_racing_for_one_version(repo: Path, tmp_path: Path) -> None:
    write_checkpoint(repo, b"base")
    ModelCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    # Both make v0.2 with different content; A publishes first.
    write_checkpoint(repo, b"writer A")
    assert ModelCheckpoints(repo).tag(message="A").version == "v0.2"
    write_checkpoint(other, b"writer B")
    assert ModelCheckpoints(other).tag(message="B").version == "v0.2"
    push(repo)
    res = push(other)
    assert res.renamed == {"model/v0.2": "model/v0.3"}
    bare = git(repo, "remote", "get-url", "origin").strip()
    assert remote_tags(bare) == ["model/v0.1", "model/v0.2", "model/v0.3"]
    records = {r.version: r for r in ModelCheckpoints(other).list()}
    assert records["v0.2"].message == "A" and records["v0.3"].message == "B"
    # Both versions' bytes are intact for anyone who clones.
    third, _ = clone(bare, tmp_path / "third")
    pull(third, version="v0.2")
    assert (third / "checkpoints/model.bin").read_bytes() == b"writer A"
    pull(third, version="v0.3")
    assert (third / "checkpoints/model.bin").read_bytes() == b"writer B"
    # Writer A catches up and sees B's renamed version.
    pull(repo)
    assert [r.version for r in ModelCheckpoints(repo).list()] == ["v0.1", "v0.2", "v0.3"]


@pytest.mark.s3
def test_s3_push_then_plain_git_and_dvc_get_every_version(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = init_repository(team="acme", model="bert-tiny", path=tmp_path / "bert-tiny")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bert-tiny", "home"]  # nothing else
    dvc_config = (repo / ".dvc/config").read_text()
    assert "s3://cpv-test/acme/bert-tiny" in dvc_config and s3_endpoint in dvc_config
    assert "testing" not in dvc_config  # credentials never committed
    blobs = _three_versions(repo)
    (repo / "data/train/rows.txt").write_text("a\nb\n")
    CombinedCheckpoints(repo).tag()
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cpv-test")["Contents"]]
    for catalog in ("acme/bert-tiny/cpv-index.json", "cpv-catalog.d/acme/bert-tiny.json"):
        assert catalog in keys  # the catalog's index and its copy (cpv models)
        keys.remove(catalog)
    assert keys and all(k.startswith("acme/bert-tiny/files/md5/") for k in keys)
    # Without cpv: git clone + dvc pull at each tag gets that version's bytes.
    bare = git(repo, "remote", "get-url", "origin").strip()
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", bare, str(plain)], check=True)
    for version, blob in blobs.items():
        subprocess.run(["git", "checkout", "-q", f"model/{version}"], cwd=plain, check=True)
        subprocess.run(["dvc", "pull", "-q"], cwd=plain, check=True, capture_output=True)
        assert (
            hashlib.md5((plain / "checkpoints/model.bin").read_bytes()).digest()
            == hashlib.md5(blob).digest()
        )
    # And with cpv on another machine.
    dest, result = clone("acme/bert-tiny", tmp_path / "clone")
    assert (dest / "data/train/rows.txt").read_text() == "a\nb\n"
    assert set(result.verified_paths) == {"checkpoints", "data"}


@pytest.mark.s3
def test_pull_detects_corrupted_remote_object(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"genuine bytes")
    ModelCheckpoints(repo).tag()
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    md5 = hashlib.md5(b"genuine bytes").hexdigest()
    s3.put_object(
        Bucket="cpv-test", Key=f"acme/m/files/md5/{md5[:2]}/{md5[2:]}", Body=b"tampered bytes"
    )
    from cpv.domain.errors import IntegrityError

    with pytest.raises(IntegrityError):
        clone("acme/m", tmp_path / "victim")
    assert not (tmp_path / "victim").exists()


def test_conflicting_code_changes_stop_the_push_and_change_nothing(
    repo: Path, tmp_path: Path
) -> None:
    from cpv.domain.errors import GitError

    write_checkpoint(repo, b"base")
    ModelCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    for where, text in ((repo, "lr = 1e-3\n"), (other, "lr = 3e-4\n")):
        (where / "train.py").write_text(text)
        git(where, "add", "train.py")
        git(where, "commit", "-qm", f"train.py {text.strip()}")
    push(repo)
    write_checkpoint(other, b"B")
    ModelCheckpoints(other).tag()
    head = git(other, "rev-parse", "HEAD")
    with pytest.raises(GitError, match="conflicts in train.py"):
        push(other)
    assert git(other, "rev-parse", "HEAD") == head  # merge aborted, nothing lost
    assert git(other, "status", "--porcelain") == ""
    assert (other / "train.py").read_text() == "lr = 3e-4\n"
    bare = git(repo, "remote", "get-url", "origin").strip()
    assert remote_tags(bare) == ["model/v0.1"]  # B's version was not published half-way
