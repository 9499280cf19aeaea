"""Saves made while the background worker is busy: every save keeps its own bytes.

The loop writes straight into the repository's own ``checkpoints/`` (the documented
example), in place (same inode, truncated), as fast as it can; each version must hold the
bytes of the save it was logged for, checked by sha256 after a real ``pull`` in a fresh
clone (bytes pushed to the local default remote, downloaded and hash-verified by cpv).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from cpv.api.managers import ModelCheckpoints
from cpv.core import snapshots as snapshot
from cpv.integrations import VersioningError, versioning

from .conftest import dvc_file_md5s, md5


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _payload(i: int, size: int) -> bytes:
    # distinct content per save, not compressible into a repeated prefix
    return hashlib.sha256(str(i).encode()).digest() * (size // 32) + bytes([i]) * (size % 32)


def _write_in_place(path: Path, data: bytes) -> None:
    """Overwrite like torch.save does: truncate the same inode and write in chunks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for start in range(0, len(data), 64 << 10):
            fh.write(data[start : start + (64 << 10)])
            fh.flush()


def _clone_and_check(repo: Path, tmp_path: Path, expected: dict[str, dict[str, str]]) -> None:
    """Clone from the remote and pull every version: its files' sha256 must be the save's."""
    dest = tmp_path / "clone"
    proc = subprocess.run(
        ["cpv", "clone", "acme/tiny", str(dest)], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    manager = ModelCheckpoints(dest)
    for version, files in expected.items():
        manager.pull(version, force=True)
        got = {
            p.relative_to(dest / "checkpoints").as_posix(): sha256(p.read_bytes())
            for p in (dest / "checkpoints").rglob("*")
            if p.is_file()
        }
        assert got == files, version


@pytest.mark.parametrize(
    "layout",
    ["folder", "subfolder", "varying-sizes", "disk-snapshots"],
)
def test_twenty_rapid_saves_into_checkpoints_each_keep_their_bytes(
    integ_repo: Path, tmp_path: Path, layout: str
) -> None:
    ckpt_dir = integ_repo / "checkpoints"
    target = ckpt_dir / ("run" if layout == "subfolder" else "") / "model.pt"
    logged = target.parent
    sizes = [(1 << 20) + 4096 * i * (7 if layout == "varying-sizes" else 1) for i in range(20)]
    if layout == "varying-sizes":
        sizes = [s if i % 3 else 1000 + i for i, s in enumerate(sizes)]
    saved: list[bytes] = []
    # disk-snapshots: every save copied to a staging folder (as when it exceeds the memory budget)
    memory = 0 if layout == "disk-snapshots" else None
    with versioning(repo=integ_repo, push=False, snapshot_memory=memory) as v:
        for i, size in enumerate(sizes):
            data = _payload(i, size)
            _write_in_place(target, data)
            saved.append(data)
            future = v.log_checkpoint(logged, metrics={"step": i})
            assert future is not None
            time.sleep(0.01)
    outcomes = v.outcomes
    assert [o.status for o in outcomes] == ["versioned"] * 20
    records = ModelCheckpoints(integ_repo).list()
    assert [r.metrics["step"] for r in records] == list(range(20))
    # The version holds the logged folder's files at the root of checkpoints/.
    for record, data in zip(records, saved, strict=True):
        assert dvc_file_md5s(integ_repo, record.content_hash) == {"model.pt": md5(data)}
    # The loop's folder was never written by cpv: it still holds the loop's last save only.
    assert target.read_bytes() == saved[-1]
    assert sorted(p.name for p in ckpt_dir.rglob("*") if p.is_file()) == ["model.pt"]
    assert not any((integ_repo / ".git" / "cpv-staging").iterdir())

    ModelCheckpoints(integ_repo).push()
    _clone_and_check(
        integ_repo,
        tmp_path,
        {r.version: {"model.pt": sha256(d)} for r, d in zip(records, saved, strict=True)},
    )


def test_a_save_made_while_the_worker_is_mid_tag(
    integ_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker is held inside commit-and-tag while the loop writes and logs the next save."""
    in_tag, release = threading.Event(), threading.Event()
    real = snapshot.commit_and_tag

    def slow_commit_and_tag(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not in_tag.is_set():
            in_tag.set()
            assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshot, "commit_and_tag", slow_commit_and_tag)
    model = integ_repo / "checkpoints" / "model.pt"
    with versioning(repo=integ_repo) as v:
        _write_in_place(model, b"first save")
        v.log_checkpoint(integ_repo / "checkpoints")
        assert in_tag.wait(30)  # the worker is now between hashing and tagging save 1
        inode = model.stat().st_ino
        _write_in_place(model, b"second save, written mid-tag")
        v.log_checkpoint(integ_repo / "checkpoints")
        release.set()
    records = ModelCheckpoints(integ_repo).list()
    assert [dvc_file_md5s(integ_repo, r.content_hash) for r in records] == [
        {"model.pt": md5(b"first save")},
        {"model.pt": md5(b"second save, written mid-tag")},
    ]
    assert model.read_bytes() == b"second save, written mid-tag"
    assert model.stat().st_ino == inode  # the loop's file was never replaced by the worker


def test_saves_outside_the_repository_leave_the_newest_version_in_checkpoints(
    integ_repo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with versioning(repo=integ_repo) as v:
        for i in range(3):
            _write_in_place(out / "weights.bin", _payload(i, 5000))
            v.log_checkpoint(out)
    files = list((integ_repo / "checkpoints").rglob("*"))
    assert [p.name for p in files] == ["weights.bin"]
    assert files[0].read_bytes() == _payload(2, 5000)
    latest = ModelCheckpoints(integ_repo).latest()
    assert latest is not None and latest.version == "v0.3"
    assert dvc_file_md5s(integ_repo, latest.content_hash) == {"weights.bin": md5(_payload(2, 5000))}


def test_bytes_of_a_save_that_fails_before_the_cache_are_kept(
    integ_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot, "tag_snapshot", _raise_lock_timeout)
    out = tmp_path / "out"
    _write_in_place(out / "model.pt", b"precious")
    v = versioning(repo=integ_repo)
    v.log_checkpoint(out)
    with pytest.raises(VersioningError, match="its bytes are kept in") as info:
        v.close()
    (failed,) = info.value.failures
    assert failed.kept is not None and (failed.kept / "model.pt").read_bytes() == b"precious"


def _raise_lock_timeout(*args, **kwargs):  # type: ignore[no-untyped-def]
    from cpv.domain.errors import LockTimeoutError

    raise LockTimeoutError("another cpv command held the lock")


def test_a_worker_failure_surfaces_at_the_end_and_training_goes_on(
    integ_repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One save breaks inside the worker, one cannot be snapshotted; the loop never sees an
    exception until the end, and the report accounts for every save."""
    real = snapshot.tag_snapshot
    calls = {"n": 0}

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the disk went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(snapshot, "tag_snapshot", flaky)
    out = tmp_path / "out"
    secret = tmp_path / "secret.txt"
    secret.write_text("token")
    v = versioning(repo=integ_repo)
    for i in range(5):
        _write_in_place(out / "model.pt", _payload(2 if i == 4 else i, 3000))  # 5th = 3rd
        if i == 3:
            os.symlink(secret, out / "leak.txt")  # a link out of the checkpoint: refused
        elif i == 4:
            (out / "leak.txt").unlink()
        assert v.log_checkpoint(out) is not None  # never raises in the loop
    with caplog.at_level(logging.INFO, logger="cpv"), pytest.raises(VersioningError) as info:
        v.close()
    report = info.value.report
    assert [o.status for o in report.outcomes] == [
        "versioned",
        "failed",
        "versioned",
        "failed",
        "unchanged",
    ]
    assert "the disk went away" in str(report.outcomes[1].error)
    assert "a symlink to" in str(report.outcomes[3].error)
    assert "outside out/" in str(report.outcomes[3].error)
    assert report.outcomes[4].tag == report.outcomes[2].tag == "model/v0.2"
    assert "5 save(s): 2 versioned" in str(report) and "2 failed" in str(report)
    assert "same bytes as model/v0.2" in caplog.text
    assert [r.version for r in ModelCheckpoints(integ_repo).list()] == ["v0.1", "v0.2"]
    assert not any("token" in p.read_text(errors="ignore") for p in _cache_files(integ_repo))


def _cache_files(repo: Path) -> list[Path]:
    return [p for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file()]


def test_queue_bounded_by_bytes_makes_the_loop_wait_and_say_so(
    integ_repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from cpv.core.repo import ModelRepo

    out = tmp_path / "out"
    repo = ModelRepo.open(integ_repo)
    logged = []
    with caplog.at_level(logging.WARNING, logger="cpv"):
        v = versioning(repo=integ_repo, max_pending_bytes=150_000)

        def loop() -> None:
            for i in range(4):
                _write_in_place(out / "m.bin", _payload(i, 100_000))
                v.log_checkpoint(out)
                logged.append(i)

        with repo.locked():  # the worker cannot finish a version until this block ends
            thread = threading.Thread(target=loop)
            thread.start()
            thread.join(timeout=3)
            assert thread.is_alive() and len(logged) < 4  # waiting, not dropping
        thread.join(timeout=60)
        v.close()
    assert "the loop waits for room" in caplog.text
    assert len(ModelCheckpoints(integ_repo).list()) == 4
