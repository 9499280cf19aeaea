"""`cpv tag` of the workspace without DVC: each file read once, the stat cache, `.dvcignore`."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from cpv import ModelCheckpoints
from cpv.objects.layout import object_path
from tests.conftest import write_checkpoint


def _leftovers(repo: Path) -> list[Path]:
    return [p for p in (repo / ".dvc" / "cache").rglob("*.tmp")]


def test_tag_caches_each_file_and_leaves_no_staging_copy(repo: Path) -> None:
    write_checkpoint(repo, b"weights one", "model.bin")
    write_checkpoint(repo, b"config", "sub/config.json")
    first = ModelCheckpoints(repo).tag().records[0]
    cache = repo / ".dvc" / "cache"
    assert (
        object_path(cache, hashlib.md5(b"weights one").hexdigest()).read_bytes() == b"weights one"
    )
    assert first.file_count == 2 and _leftovers(repo) == []
    # Unchanged: no version, nothing copied (the stat cache knows both files).
    stats = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    again = ModelCheckpoints(repo).tag()
    assert not again.created and _leftovers(repo) == []
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == stats
    write_checkpoint(repo, b"weights two", "model.bin")
    second = ModelCheckpoints(repo).tag().records[0]
    assert second.version == "v0.2" and _leftovers(repo) == []
    # What plain DVC computes for the folder is what cpv recorded.
    status = subprocess.run(
        ["dvc", "status", "checkpoints.dvc"], cwd=repo, capture_output=True, text=True
    )
    assert status.returncode == 0 and "changed" not in status.stdout, status.stdout


def test_dvcignore_rules_are_honoured(repo: Path) -> None:
    (repo / ".dvcignore").write_text("*.log\n")
    write_checkpoint(repo, b"weights", "model.bin")
    write_checkpoint(repo, b"noise", "train.log")
    record = ModelCheckpoints(repo).tag().records[0]
    assert record.file_count == 1
