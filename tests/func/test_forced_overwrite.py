"""Issue 19 family 6: a forced overwrite of unsaved work keeps it recoverable, and says where.

``cpv pull --force`` (a version, or the branch) used to promise "the current content is saved
to the cache first" and save nothing. Now, like ``revert --force``, the unsaved bytes go into
the cache and their pointer under ``refs/cpv/backups/…``, named in the output and the result
with the command that restores them; the command is run here and gives the bytes back.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from cpv import ModelCheckpoints
from cpv.objects.layout import cache_dir, object_path
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint

UNSAVED = b"three hours of fine-tuning, never tagged"


def _two(repo: Path) -> None:
    for content in (b"weights one", b"weights two"):
        write_checkpoint(repo, content)
        ModelCheckpoints(repo).tag()


def _restore(repo: Path, command: str) -> None:
    subprocess.run(command, shell=True, cwd=repo, check=True, capture_output=True)


def test_pull_of_a_version_with_force_keeps_the_unsaved_work(repo: Path) -> None:
    _two(repo)
    write_checkpoint(repo, UNSAVED)
    (repo / "checkpoints" / "notes.txt").write_text("lr 3e-4")
    refused = run_cpv("pull", "v0.1", cwd=repo, check=False)
    assert refused.returncode == 1 and "refs/cpv/backups/" in refused.stderr
    assert (repo / "checkpoints" / "model.bin").read_bytes() == UNSAVED  # refused: untouched
    proc = run_cpv("pull", "v0.1", "--force", "--json", cwd=repo)
    result = json.loads(proc.stdout)
    [ref] = result["backups"]
    assert ref.startswith("refs/cpv/backups/") and ref.endswith("-model")
    assert (repo / "checkpoints" / "model.bin").read_bytes() == b"weights one"
    assert not (repo / "checkpoints" / "notes.txt").exists()
    assert object_path(cache_dir(repo), hashlib.md5(UNSAVED).hexdigest()).is_file()
    pointer = subprocess.run(
        ["git", "show", f"{ref}:checkpoints.dvc"], cwd=repo, capture_output=True, text=True
    )
    assert pointer.returncode == 0 and ".dir" in pointer.stdout
    assert not subprocess.run(
        ["git", "status", "--porcelain", "checkpoints.dvc", ".gitignore"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout  # the pointer file and .gitignore are as they were
    _restore(repo, result["restore"][0])
    assert (repo / "checkpoints" / "model.bin").read_bytes() == UNSAVED
    assert (repo / "checkpoints" / "notes.txt").read_text() == "lr 3e-4"


def test_pull_of_the_branch_with_force_keeps_the_unsaved_work_and_says_where(
    repo: Path, tmp_path: Path
) -> None:
    _two(repo)
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    write_checkpoint(other, b"weights three")
    ModelCheckpoints(other).tag()
    push(other)
    write_checkpoint(repo, UNSAVED)
    proc = run_cpv("pull", "--force", cwd=repo)
    assert "kept your unsaved work as refs/cpv/backups/" in proc.stdout + proc.stderr
    assert "dvc checkout --force checkpoints.dvc" in proc.stdout + proc.stderr
    assert (repo / "checkpoints" / "model.bin").read_bytes() == b"weights three"
    [ref] = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/cpv/backups/"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ref in proc.stdout + proc.stderr
    assert object_path(cache_dir(repo), hashlib.md5(UNSAVED).hexdigest()).is_file()


def test_nothing_is_kept_when_nothing_unsaved_is_overwritten(repo: Path) -> None:
    _two(repo)
    result = ModelCheckpoints(repo).pull("v0.1", force=True)
    assert result.backups == [] and result.restore == []
    result = ModelCheckpoints(repo).pull("v0.2", force=True)  # the workspace held v0.1
    assert result.backups == []
