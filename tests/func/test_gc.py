"""Retention: `cpv gc`, `cpv delete`, `cpv du`, removal markers, training keep_last (real
git, the local default storage, and moto S3 for --remote)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.core import refs
from cpv.core.repo import ModelRepo
from cpv.domain.errors import UsageError, VersionRemovedError
from cpv.integrations import versioning
from cpv.objects.layout import cache_dir
from cpv.ops.delete import removed_markers
from cpv.ops.init import init_repository
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint

SHARED = b"tokenizer " * 100  # one object every version shares


def blob(i: int) -> bytes:
    """~20 KB of content distinct per version."""
    seed = hashlib.sha256(f"version {i}".encode()).digest()
    return seed * 640


def _declare_best(repo: Path) -> None:
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write("best: {metric: loss, mode: min}\n")
    git(repo, "commit", "-qam", "best: loss")


def _ten(repo: Path) -> dict[str, bytes]:
    """v0.1..v0.10; the lowest loss at v0.5 (best); prod -> v0.2."""
    blobs = {}
    for i in range(1, 11):
        write_checkpoint(repo, blob(i))
        write_checkpoint(repo, SHARED, "tokenizer.json")
        ModelCheckpoints(repo).tag(metrics={"loss": 0.1 if i == 5 else 1 + i})
        blobs[f"v0.{i}"] = blob(i)
    r = ModelRepo.open(repo)
    move = refs.AliasMove(
        alias="prod", number=1, action="promote", tag="model/v0.2", by="t", at=refs.now()
    )
    r.git.create_tag("alias/prod/1", refs.encode_move(move), r.git.tag_commit("model/v0.2") or "")
    return blobs


def cache_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in cache_dir(repo).rglob("*") if p.is_file())


COLLECTED = ["model/v0.1", "model/v0.3", "model/v0.4", "model/v0.6", "model/v0.7"]
KEPT = ["v0.2", "v0.5", "v0.8", "v0.9", "v0.10"]


def test_gc_keeps_alias_best_latest_and_frees_exactly_the_unique_bytes(
    repo: Path, tmp_path: Path
) -> None:
    _declare_best(repo)
    blobs = _ten(repo)
    push(repo)
    usage = {v.tag: v for v in ModelCheckpoints(repo).du().versions}
    unique = sum(usage[t].unique_bytes for t in COLLECTED)
    assert unique > 5 * 20_000
    before = cache_bytes(repo)
    state = repo_snapshot(repo)
    dry = ModelCheckpoints(repo).gc(keep_last=3, dry_run=True)
    assert repo_snapshot(repo) == state and cache_bytes(repo) == before
    assert dry.freed_local == unique
    res = ModelCheckpoints(repo).gc(keep_last=3)
    kept = {k.tag: k.reasons for k in res.kept}
    assert kept["model/v0.2"] == ["alias prod"]
    assert kept["model/v0.5"] == ["best"]
    assert {"latest", "head", "keep-last"} <= set(kept["model/v0.10"])
    assert [c.tag for c in res.collected] == COLLECTED
    assert before - cache_bytes(repo) == res.freed_local == unique
    assert not res.markers and removed_markers(ModelRepo.open(repo)) == {}
    # Local gc is reversible: the storage still has the bytes.
    pull(repo, version="v0.1")
    assert (repo / "checkpoints/model.bin").read_bytes() == blobs["v0.1"]
    other, _ = clone(git(repo, "remote", "get-url", "origin").strip(), tmp_path / "other")
    for version in KEPT:
        pull(other, version=version)
        assert (other / "checkpoints/model.bin").read_bytes() == blobs[version]
        assert (other / "checkpoints/tokenizer.json").read_bytes() == SHARED


def test_gc_needs_a_policy_and_reads_cpv_yaml(repo: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    proc = run_cpv("gc", cwd=repo, check=False)
    assert proc.returncode == 2 and "Error:" in proc.stderr and "--keep-last" in proc.stderr
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write("retention: {keep_last: 1}\n")
    write_checkpoint(repo, b"two")
    ModelCheckpoints(repo).tag()
    out = json.loads(run_cpv("gc", "--dry-run", "--json", cwd=repo).stdout)
    assert out["collected"] == []  # never pushed: this clone's copy is the only one
    assert {"tag": "model/v0.1", "reasons": ["unpublished"]} in out["kept"]
    forced = json.loads(run_cpv("gc", "--dry-run", "--force", "--json", cwd=repo).stdout)
    assert [c["tag"] for c in forced["collected"]] == ["model/v0.1"]
    push(repo)
    out = json.loads(run_cpv("gc", "--dry-run", "--json", cwd=repo).stdout)
    assert out["keep_last"] == 1 and [c["tag"] for c in out["collected"]] == ["model/v0.1"]
    du = json.loads(run_cpv("du", "--json", cwd=repo).stdout)
    assert du["retention"]["collected"][0]["tag"] == "model/v0.1"


@pytest.mark.s3
def test_gc_remote_deletes_only_unreferenced_objects_and_marks_the_versions(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _declare_best(repo)
    blobs = _ten(repo)
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    def keys() -> set[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="cpv-test")
        return {o["Key"] for p in pages for o in p.get("Contents", [])}

    before = keys()
    res = ModelCheckpoints(repo).gc(keep_last=3, remote=True)
    assert [c.tag for c in res.collected] == COLLECTED
    gone = before - keys()
    assert len(gone) == res.objects_remote == 10  # each collected version's file + listing
    md5s = {hashlib.md5(blob(i)).hexdigest() for i in (1, 3, 4, 6, 7)}
    assert {k.split("files/md5/")[1].replace("/", "") for k in gone} >= md5s
    assert sorted(res.markers) == [f"removed/{t}" for t in COLLECTED]
    push(repo)
    # Plain git + dvc still get a kept version.
    bare = git(repo, "remote", "get-url", "origin").strip()
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", bare, str(plain)], check=True)
    subprocess.run(["git", "checkout", "-q", "model/v0.8"], cwd=plain, check=True)
    subprocess.run(["dvc", "pull", "-q"], cwd=plain, check=True, capture_output=True)
    assert (plain / "checkpoints/model.bin").read_bytes() == blobs["v0.8"]
    # A fresh clone: kept versions byte-exact, a collected one refused by name.
    other, _ = clone(bare, tmp_path / "other")
    for version in KEPT:
        pull(other, version=version)
        assert (other / "checkpoints/model.bin").read_bytes() == blobs[version]
    with pytest.raises(VersionRemovedError) as err:
        pull(other, version="v0.3")
    assert "model/v0.3 was removed (gc and from the storage) by Test User" in str(err.value)
    with pytest.raises(VersionRemovedError):
        clone(bare, tmp_path / "pinned", version="v0.1")


def test_delete_refused_under_alias_and_for_head(repo: Path) -> None:
    _ten(repo)
    state = repo_snapshot(repo)
    proc = run_cpv("delete", "v0.2", cwd=repo, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "aliased as prod" in proc.stderr and "cpv demote prod" in proc.stderr
    with pytest.raises(UsageError, match="HEAD holds"):
        ModelCheckpoints(repo).delete("v0.10")
    assert repo_snapshot(repo) == state


def test_delete_then_push_marks_the_version_removed_in_a_fresh_clone(
    repo: Path, tmp_path: Path
) -> None:
    blobs = _ten(repo)
    push(repo)
    before = cache_bytes(repo)
    res = ModelCheckpoints(repo).delete("v0.3", remote=True, why="leaked test data")
    assert res.marker == "removed/model/v0.3" and res.shared_objects == 1  # the tokenizer
    assert before - cache_bytes(repo) == res.freed_local > 20_000
    assert res.freed_remote == res.freed_local
    push(repo)
    bare = git(repo, "remote", "get-url", "origin").strip()
    other, _ = clone(bare, tmp_path / "other")
    marker = removed_markers(ModelRepo.open(other))["model/v0.3"]
    assert (marker.action, marker.remote, marker.why) == ("delete", True, "leaked test data")
    proc = run_cpv("pull", "v0.3", cwd=other, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "Error: model/v0.3 was removed (delete and from the storage) by Test User" in (
        proc.stderr
    )
    with pytest.raises(VersionRemovedError):
        ModelCheckpoints(other).revert("v0.3")
    pull(other, version="v0.4")  # its neighbours are intact
    assert (other / "checkpoints/model.bin").read_bytes() == blobs["v0.4"]
    again = run_cpv("delete", "v0.3", cwd=repo, check=False)
    assert again.returncode == 2 and "already removed" in again.stderr


def test_du_numbers_add_up(repo: Path) -> None:
    _ten(repo)
    write_checkpoint(repo, b"untagged")  # not a version: in no version's objects
    res = ModelCheckpoints(repo).du()
    assert len(res.versions) == 10
    assert sum(v.unique_bytes for v in res.versions) == res.unique_bytes
    assert res.unique_bytes + res.shared_bytes == res.versions_bytes
    assert res.shared_bytes == len(SHARED)
    assert all(v.shared_bytes == len(SHARED) for v in res.versions)
    assert res.cache_bytes == cache_bytes(repo) >= res.versions_bytes
    assert res.storage_bytes == 0  # nothing pushed yet
    text = run_cpv("du", cwd=repo).stdout
    assert "model/v0.10" in text and "local cache:" in text


def test_training_keep_last_leaves_two_versions_bytes(repo: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "run"
    ckpt.mkdir()
    with versioning(repo=repo, keep_last=2) as v:
        for i in range(1, 7):
            (ckpt / "model.bin").write_bytes(blob(i))
            v.log_checkpoint(ckpt, metrics={"step": i})
    assert v.gc_errors == []
    usage = {u.tag: u for u in ModelCheckpoints(repo).du().versions}
    assert [t for t, u in usage.items() if u.missing == 0] == ["model/v0.5", "model/v0.6"]
    assert sum(u.unique_bytes for u in usage.values()) == 2 * len(blob(1)) + sum(
        (cache_dir(repo) / "files/md5" / r.content_hash[:2] / r.content_hash[2:]).stat().st_size
        for r in ModelCheckpoints(repo).list()[-2:]
    )
