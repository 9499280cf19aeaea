"""Atomicity under injected failures and SIGKILL, locking, and cache integrity."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpv import CombinedCheckpoints, ModelCheckpoints
from cpv.core.transaction import repo_lock
from cpv.domain.errors import InjectedFault, LockTimeoutError
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint


def _prepare(repo: Path) -> None:
    write_checkpoint(repo, b"v1 weights")
    (repo / "data/train/a.txt").write_text("one\ntwo\n")
    CombinedCheckpoints(repo).tag()
    write_checkpoint(repo, b"v2 weights")
    (repo / "data/train/a.txt").write_text("one\ntwo\nthree\n")


@pytest.mark.parametrize("point", ["after_add", "after_commit", "after_first_tag"])
def test_combined_tag_is_all_or_nothing_on_exception(
    repo: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    _prepare(repo)
    before = repo_snapshot(repo)
    monkeypatch.setenv("CPV_FAULT", point)
    with pytest.raises(InjectedFault):
        CombinedCheckpoints(repo).tag(message="boom")
    assert repo_snapshot(repo) == before
    monkeypatch.delenv("CPV_FAULT")
    res = CombinedCheckpoints(repo).tag()
    assert [r.tag for r in res.records] == ["model/v0.2", "data/v0.2"]


@pytest.mark.parametrize("point", ["after_add", "after_commit", "after_first_tag"])
def test_sigkill_mid_tag_is_repaired_by_next_command(repo: Path, point: str) -> None:
    _prepare(repo)
    before = repo_snapshot(repo)
    proc = run_cpv(
        "tag", "--kind", "all", cwd=repo, env={"CPV_FAULT": f"kill:{point}"}, check=False
    )
    assert proc.returncode == -9
    assert (repo / ".git/cpv/txn.json").exists()
    status = json.loads(run_cpv("status", "--no-remote", "--json", cwd=repo).stdout)
    assert status["interrupted"] == "tag"
    out = run_cpv("tag", "--kind", "all", "--dry-run", cwd=repo)  # any locked command repairs first
    assert "repaired" in out.stderr
    assert repo_snapshot(repo) == before
    run_cpv("tag", "--kind", "all", cwd=repo)
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout.split()
    assert sorted(tags) == ["data/v0.1", "data/v0.2", "model/v0.1", "model/v0.2"]


def test_second_writer_waits_then_fails_clearly(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_checkpoint(repo, b"x")
    monkeypatch.setenv("CPV_LOCK_TIMEOUT", "0.5")
    with repo_lock(repo / ".git"):
        with pytest.raises(LockTimeoutError) as err:
            ModelCheckpoints(repo).tag()
    assert "busy" in str(err.value)
    assert ModelCheckpoints(repo).tag().version == "v0.1"


def test_concurrent_processes_never_duplicate_a_version(repo: Path) -> None:
    write_checkpoint(repo, b"seed")
    ModelCheckpoints(repo).tag()
    script = (
        "import sys, pathlib; from cpv import ModelCheckpoints;"
        "p = pathlib.Path(sys.argv[1]); n = sys.argv[2];"
        "(p / 'checkpoints' / f'w{n}.bin').write_bytes(n.encode() * 10);"
        "print(ModelCheckpoints(p).tag(force=True).version)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(repo), str(i)], stdout=subprocess.PIPE, text=True
        )
        for i in range(4)
    ]
    versions = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(versions) == ["v0.2", "v0.3", "v0.4", "v0.5"]


def test_in_place_overwrite_never_changes_an_earlier_version(repo: Path) -> None:
    ckpt = repo / "checkpoints" / "model.bin"
    original = os.urandom(300_000)
    ckpt.write_bytes(original)
    ModelCheckpoints(repo).tag()
    inode = ckpt.stat().st_ino
    with open(
        ckpt, "r+b"
    ) as fh:  # what torch.save(...) to the same path does: same inode, new bytes
        fh.write(b"\0" * 1000)
    assert ckpt.stat().st_ino == inode
    ModelCheckpoints(repo).tag()
    ModelCheckpoints(repo).revert("v0.1")
    assert hashlib.md5(ckpt.read_bytes()).hexdigest() == hashlib.md5(original).hexdigest()


def test_waiting_writer_says_so_then_proceeds(repo: Path) -> None:
    write_checkpoint(repo, b"x")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from cpv.core.transaction import repo_lock\n"
            "with repo_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(3)",
            str(repo / ".git"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    proc = run_cpv("tag", cwd=repo)
    holder.wait(timeout=30)
    assert "waiting up to" in proc.stderr and "cpv pid" in proc.stderr
    assert "created model/v0.1" in proc.stdout
