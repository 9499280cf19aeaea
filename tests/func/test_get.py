"""`cpv get TEAM/MODEL[@REF] [DEST]`: one version's bytes without a clone, hash-verified, from
a shallow mirror holding only the refs the reference needs; a second get is served by the
local object cache (the storage is gone and it still works); removed versions are refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import cpv
from cpv import CombinedCheckpoints, DataCheckpoints, ModelCheckpoints
from cpv.domain.errors import IntegrityError, MissingDataError, VersionRemovedError
from cpv.domain.paths import cpv_home
from cpv.objects.layout import object_path
from cpv.ops.get import get_version
from tests.conftest import run_cpv, write_checkpoint

V1 = {"model.bin": b"weights one " * 300, "tokenizer.json": b'{"v": 1}'}
V2 = {"model.bin": b"weights two " * 300, "tokenizer.json": b'{"v": 1}'}


def _tags(mirror: Path) -> list[str]:
    out = subprocess.run(["git", "tag"], cwd=mirror, capture_output=True, text=True, check=True)
    return sorted(out.stdout.split())


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def published(repo: Path) -> Path:
    """acme/whisper-small: v0.1 (wer 0.3, prod), v0.2 (wer 0.2), data/v0.1; pushed."""
    for files, wer in ((V1, 0.3), (V2, 0.2)):
        for name, content in files.items():
            write_checkpoint(repo, content, name)
        ModelCheckpoints(repo).tag(metrics={"wer": wer}, message=f"wer {wer}")
    (repo / "data" / "train").mkdir(parents=True, exist_ok=True)
    (repo / "data" / "train" / "rows.csv").write_text("a,b\n1,2\n")
    DataCheckpoints(repo).tag(message="data")
    ModelCheckpoints(repo).promote("v0.1", "prod")
    CombinedCheckpoints(repo).push()
    return repo


@pytest.fixture
def away(tmp_path: Path) -> Path:
    """An empty working folder that is no repository."""
    folder = tmp_path / "consumer"
    folder.mkdir()
    return folder


def test_get_by_alias_version_latest_and_best(published: Path, away: Path) -> None:
    proc = run_cpv("get", "acme/whisper-small@prod", "w", "--json", cwd=away)
    out = json.loads(proc.stdout)
    assert (out["tag"], out["ref"], out["files"]) == ("model/v0.1", "prod", 2)
    assert out["bytes"] == sum(len(b) for b in V1.values()) and out["metrics"] == {"wer": 0.3}
    assert _files(away / "w") == V1
    assert json.loads(run_cpv("get", "acme/whisper-small", "--json", cwd=away).stdout)["tag"] == (
        "model/v0.2"
    )  # latest by default, into ./whisper-small
    assert _files(away / "whisper-small") == V2
    best = run_cpv("get", "acme/whisper-small@best:wer:min", "b", cwd=away).stdout
    assert "model/v0.2" in best and "hash-verified" in best
    assert _files(away / "b") == V2
    path = cpv.get("acme/whisper-small@v0.1", dest=away / "api")
    assert path == (away / "api").resolve() and _files(path) == V1
    data = json.loads(run_cpv("get", "acme/whisper-small", "d", "--kind", "data", "--json",
                              cwd=away).stdout)  # fmt: skip
    assert data["tag"] == "data/v0.1" and (away / "d" / "train" / "rows.csv").is_file()
    assert not (away / ".git").exists()  # nothing was cloned here


def test_reads_only_the_refs_it_needs_shallowly(published: Path, away: Path) -> None:
    cpv.get("acme/whisper-small@v0.1", dest=away / "one")
    mirror = cpv_home() / "get" / "acme" / "whisper-small"
    assert _tags(mirror) == ["model/v0.1"]  # not v0.2, the data version or the alias moves
    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=mirror,
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert shallow == "true"
    cpv.get("acme/whisper-small@prod", dest=away / "two")
    assert _tags(mirror) == ["alias/prod/1", "model/v0.1"]


def test_second_get_asks_the_storage_nothing(published: Path, away: Path) -> None:
    first = get_version("acme/whisper-small@v0.2", away / "first")
    assert first.downloaded == 3  # two files and the folder's listing
    storage = cpv_home() / "storage"
    shutil.move(storage, cpv_home() / "storage-gone")  # the storage is unreachable now
    second = get_version("acme/whisper-small@v0.2", away / "second")
    assert second.downloaded == 0 and _files(away / "second") == V2
    with pytest.raises(MissingDataError):  # not cached: it really needs the storage
        cpv.get("acme/whisper-small@v0.1", dest=away / "third")
    assert not (away / "third").exists()


def test_removed_version_is_refused(published: Path, away: Path) -> None:
    write_checkpoint(published, b"weights three")
    ModelCheckpoints(published).tag(message="three")  # HEAD moves on: v0.2 may be deleted
    CombinedCheckpoints(published).push()  # and the remote's branch too
    ModelCheckpoints(published).delete("v0.2", why="leaked test set")
    CombinedCheckpoints(published).push()
    proc = run_cpv("get", "acme/whisper-small@v0.2", "x", cwd=away, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "model/v0.2 was removed" in proc.stderr and "leaked test set" in proc.stderr
    with pytest.raises(VersionRemovedError):
        cpv.get("acme/whisper-small@v0.2", dest=away / "y")
    assert not (away / "x").exists() and not (away / "y").exists()


def test_corrupt_storage_object_never_lands(published: Path, away: Path) -> None:
    md5 = hashlib.md5(V1["model.bin"]).hexdigest()
    stored = object_path(cpv_home() / "storage" / "acme" / "whisper-small", md5)
    os.chmod(stored, 0o644)
    stored.write_bytes(b"x" * len(V1["model.bin"]))
    with pytest.raises(IntegrityError):
        cpv.get("acme/whisper-small@prod", dest=away / "bad")
    assert not (away / "bad").exists()
    assert not object_path(cpv_home() / "get" / "objects", md5).exists()


def test_bad_input_is_one_line_and_touches_nothing(published: Path, away: Path) -> None:
    (away / "full").mkdir()
    (away / "full" / "mine.txt").write_text("keep me")
    proc = run_cpv("get", "acme/whisper-small", "full", cwd=away, check=False)
    assert proc.returncode == 2 and "is not empty" in proc.stderr and "--force" in proc.stderr
    assert _files(away / "full") == {"mine.txt": b"keep me"}
    run_cpv("get", "acme/whisper-small@prod", "full", "--force", cwd=away)
    assert _files(away / "full") == V1
    for spec, code, needle in (
        ("acme/whisper-small@v9.9", 1, "model/v9.9 does not exist"),
        ("acme/whisper-small@nope", 1, "no version or alias named 'nope'"),
        ("acme/whisper-small@data/v0.3", 2, "data"),
        ("whisper-small", 2, "TEAM/MODEL"),
        ("acme/whisper-small@", 2, "nothing after '@'"),
        ("acme/missing", 1, "missing"),
    ):
        proc = run_cpv("get", spec, "out", cwd=away, check=False)
        assert proc.returncode == code, (spec, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr, (spec, proc.stderr)
        assert not (away / "out").exists()


def test_get_from_s3_with_env_config_only(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "CPV_PROVIDER": "minio", "CPV_BUCKET": s3_bucket, "CPV_ENDPOINT_URL": s3_endpoint,
        "CPV_GIT_REMOTE_TEMPLATE": str(tmp_path / "git" / "{team}" / "{model}.git"),
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    root = cpv.init_repository(team="acme", model="s3m", path=tmp_path / "s3m")
    for name, content in V1.items():
        write_checkpoint(root, content, name)
    ModelCheckpoints(root).tag(message="one")
    ModelCheckpoints(root).push()
    out = json.loads(run_cpv("get", "acme/s3m@v0.1", "w", "--json", cwd=tmp_path).stdout)
    assert out["downloaded"] == 3 and _files(tmp_path / "w") == V1
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for obj in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", []):
        s3.delete_object(Bucket=s3_bucket, Key=obj["Key"])  # the storage holds nothing now
    again = json.loads(run_cpv("get", "acme/s3m@v0.1", "w2", "--json", cwd=tmp_path).stdout)
    assert again["downloaded"] == 0 and _files(tmp_path / "w2") == V1


def test_concurrent_gets_of_one_model_share_the_mirror(published: Path, away: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    refs = ["prod", "v0.2", "latest", "best:wer:min"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = list(pool.map(lambda r: cpv.get(f"acme/whisper-small@{r}", dest=away / r), refs))
    assert [_files(p) for p in paths] == [V1, V2, V2, V2]


def test_a_cached_object_that_rotted_is_fetched_again(published: Path, away: Path) -> None:
    cpv.get("acme/whisper-small@prod", dest=away / "one")
    cached = object_path(cpv_home() / "get" / "objects", hashlib.md5(V1["model.bin"]).hexdigest())
    os.chmod(cached, 0o644)
    cached.write_bytes(b"y" * len(V1["model.bin"]))  # same size, other bytes
    again = get_version("acme/whisper-small@prod", away / "two")
    assert again.downloaded == 1 and _files(away / "two") == V1
    assert cached.read_bytes() == V1["model.bin"]


def test_get_after_the_model_moved_reads_the_new_storage(
    published: Path, away: Path, tmp_path: Path
) -> None:
    CombinedCheckpoints(published).move_storage(str(tmp_path / "new-storage"))
    CombinedCheckpoints(published).push()
    shutil.rmtree(cpv_home() / "storage" / "acme" / "whisper-small")  # the old one is gone
    out = get_version("acme/whisper-small@prod", away / "moved")  # v0.1, tagged before the move
    assert out.tag == "model/v0.1" and out.downloaded == 3 and _files(away / "moved") == V1
