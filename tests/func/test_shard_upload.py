"""One rank's part of a save by many ranks, uploaded (see tests/integrations/
test_distributed_saves.py for whole runs of many processes)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cpv.objects.layout import MemorySnapshot
from cpv.objects.shards import upload_rank_files
from cpv.ops.init import init_repository


def test_another_rank_uploads_from_its_snapshot_and_leaves_its_cache_alone(tmp_path: Path) -> None:
    """Rank 1's files go to the storage; its clone's cache stays empty (ranks of a node may
    share a clone), and a snapshot in memory is written out only while it is uploaded."""
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    snap = MemorySnapshot([("__1_0.distcp", b"shard one"), ("__1_1.distcp", b"shard two")])
    staging = tmp_path / "staging"
    entries = upload_rank_files(repo, snap, keep=False, staging=staging)
    assert [e.relpath for e in entries] == ["__1_0.distcp", "__1_1.distcp"]
    storage = Path(os.environ["CPV_HOME"]) / "storage" / "acme" / "m" / "files" / "md5"
    for e, data in zip(entries, (b"shard one", b"shard two"), strict=True):
        assert (storage / e.md5[:2] / e.md5[2:]).read_bytes() == data
    assert not [p for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert not [p for p in staging.rglob("*") if p.is_file()]
    assert snap.files == []  # the snapshot's bytes are freed


def test_a_distributed_save_in_a_compact_model_keeps_its_files_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files of a save by many ranks are on their ranks' nodes: rank 0 cannot cut them
    into segments, and must not read a file of the same name from anywhere else (here, a
    decoy ``extra.pt`` in the working directory). The version holds them whole."""
    import subprocess

    from cpv.api.managers import ModelCheckpoints
    from cpv.integrations import versioning

    repo = init_repository(team="acme", model="c", path=tmp_path / "c")
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write("storage: {layout: compact, compress: none}\n")
    subprocess.run(["git", "commit", "-qam", "compact"], cwd=repo, check=True)
    shards = tmp_path / "dcp"
    shards.mkdir()
    files = {".metadata": b"m" * 100, "__0_0.distcp": b"s" * 5000, "extra.pt": b"p" * 3000}
    for name, data in files.items():
        (shards / name).write_bytes(data)
    decoy = tmp_path / "cwd"
    decoy.mkdir()
    (decoy / "extra.pt").write_bytes(b"decoy" * 10)
    monkeypatch.chdir(decoy)
    with versioning(repo=repo) as v:
        future = v.log_checkpoint(shards, distributed=True)
        assert future is not None and future.result().status == "versioned"
    (record,) = ModelCheckpoints(repo).list()
    listing = {e["relpath"]: e["md5"] for e in _listing(repo, record.content_hash)}
    assert listing == {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


def _listing(repo: Path, oid: str) -> list[dict]:
    import json

    return json.loads((repo / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]).read_text())
