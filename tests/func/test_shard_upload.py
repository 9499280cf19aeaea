"""One rank's part of a save by many ranks, uploaded (see tests/integrations/
test_distributed_saves.py for whole runs of many processes)."""

from __future__ import annotations

import os
from pathlib import Path

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
