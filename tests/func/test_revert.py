from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from cpv import CombinedCheckpoints, ModelCheckpoints
from cpv.domain.errors import DirtyWorkspaceError, MissingDataError, VersionNotFoundError
from tests.conftest import repo_snapshot, write_checkpoint


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_revert_is_byte_exact_and_a_new_commit(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    blobs = [bytes([i]) * (50_000 + i) for i in range(3)]
    for blob in blobs:
        write_checkpoint(repo, blob)
        (repo / "checkpoints" / "extra.txt").write_text(f"{len(blob)}")
        m.tag()
    (repo / "checkpoints" / "only-in-v3.txt").write_text("x")
    m.tag()
    head_before = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    res = m.revert("v0.1")
    assert res.commit and res.commit != head_before
    assert md5(repo / "checkpoints/model.bin") == hashlib.md5(blobs[0]).hexdigest()
    assert not (repo / "checkpoints/only-in-v3.txt").exists()
    assert [r.version for r in m.list()] == ["v0.1", "v0.2", "v0.3", "v0.4"]  # history stays
    assert m.revert("v0.1").already_current
    m.revert("v0.3")
    assert md5(repo / "checkpoints/model.bin") == hashlib.md5(blobs[2]).hexdigest()


def test_revert_refuses_dirty_workspace_then_force_saves_it(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    write_checkpoint(repo, b"one")
    m.tag()
    write_checkpoint(repo, b"two")
    m.tag()
    write_checkpoint(repo, b"precious unsaved")
    before = repo_snapshot(repo)
    with pytest.raises(DirtyWorkspaceError):
        m.revert("v0.1")
    assert repo_snapshot(repo) == before
    res = m.revert("v0.1", force=True)
    assert (repo / "checkpoints/model.bin").read_bytes() == b"one"
    assert len(res.backups) == 1
    # The unsaved content is recoverable from the backup ref + cache.
    pointer = subprocess.run(
        ["git", "show", f"{res.backups[0]}:checkpoints.dvc"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (repo / "checkpoints.dvc").write_text(pointer)
    subprocess.run(
        ["dvc", "checkout", "--force", "checkpoints.dvc"], cwd=repo, check=True, capture_output=True
    )
    assert (repo / "checkpoints/model.bin").read_bytes() == b"precious unsaved"


def test_revert_with_missing_data_touches_nothing(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    write_checkpoint(repo, b"one")
    m.tag()
    write_checkpoint(repo, b"two")
    m.tag()
    shutil.rmtree(repo / ".dvc/cache")  # v0.1's bytes exist nowhere now (never pushed)
    before = repo_snapshot(repo)
    with pytest.raises(MissingDataError):
        m.revert("v0.1")
    assert repo_snapshot(repo) == before
    assert (repo / "checkpoints/model.bin").read_bytes() == b"two"


def test_revert_unknown_version(repo: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    with pytest.raises(VersionNotFoundError):
        ModelCheckpoints(repo).revert("v0.9")


def test_revert_all_restores_both(repo: Path) -> None:
    write_checkpoint(repo, b"w1")
    (repo / "data/train/x.txt").write_text("a\n")
    CombinedCheckpoints(repo).tag()
    write_checkpoint(repo, b"w2")
    (repo / "data/train/x.txt").write_text("b\nc\n")
    CombinedCheckpoints(repo).tag()
    CombinedCheckpoints(repo).revert("v0.1")
    assert (repo / "checkpoints/model.bin").read_bytes() == b"w1"
    assert (repo / "data/train/x.txt").read_text() == "a\n"


def test_forced_reverts_in_one_second_each_keep_their_backup(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    write_checkpoint(repo, b"one")
    m.tag()
    backups = []
    for i in range(3):
        write_checkpoint(repo, f"unsaved {i}".encode())
        backups += m.revert("v0.1", force=True).backups
    assert len(set(backups)) == 3
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/cpv/backups/"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(refs) == sorted(backups)
    pointers = {
        subprocess.run(
            ["git", "show", f"{ref}:checkpoints.dvc"], cwd=repo, capture_output=True, text=True
        ).stdout
        for ref in backups
    }
    assert len(pointers) == 3  # each keeps the pointer of its own unsaved content
