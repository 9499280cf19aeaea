"""cpv works where Python lacks Linux's calls (macOS, the BSDs): the save and tag paths run
with ``os.fdatasync``, ``copy_file_range``, ``posix_fadvise``, ``SCHED_IDLE``, ``preadv``
(and the nice calls Windows lacks) removed from ``os`` — in this process, and in ``cpv``
child processes through a ``sitecustomize`` that removes them at start-up (issue 20)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.integrations import log_checkpoint, versioning
from tests.conftest import run_cpv, write_checkpoint

#: Calls Python's ``os`` has on Linux only (or not on macOS / Windows); cpv must not need them.
NOT_EVERYWHERE = (
    "fdatasync",
    "copy_file_range",
    "posix_fadvise",
    "POSIX_FADV_DONTNEED",
    "sched_setscheduler",
    "sched_param",
    "SCHED_IDLE",
    "preadv",
    "getpriority",
    "setpriority",
    "PRIO_PROCESS",
)


@pytest.fixture
def without_linux_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NOT_EVERYWHERE:
        monkeypatch.delattr(os, name, raising=False)


@pytest.fixture
def macos_like_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a child process whose ``os`` lacks every call above."""
    hook = tmp_path / "macos-like"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        f"import os\nfor _name in {NOT_EVERYWHERE!r}:\n"
        "    if hasattr(os, _name):\n        delattr(os, _name)\n",
        encoding="utf-8",
    )
    path = os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path}
    probe = f"import os; print([n for n in {NOT_EVERYWHERE!r} if hasattr(os, n)])"
    out = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "[]", out.stderr  # the hook really runs in children
    return env


def _digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.mark.usefixtures("without_linux_calls")
def test_tag_and_training_saves_in_process(repo: Path) -> None:
    write_checkpoint(repo, b"weights one" * 1000)
    assert ModelCheckpoints(repo).tag(message="one").tag == "model/v0.1"

    saved = repo.parent / "step-2.bin"
    saved.write_bytes(b"weights two" * 1000)
    outcome = log_checkpoint(saved, repo=repo, metrics={"loss": 0.5})
    assert outcome is not None and outcome.tag == "model/v0.2", outcome

    with versioning(repo=repo) as v:  # the background worker (SCHED_IDLE / nice on Linux)
        for step in (3, 4):
            saved.write_bytes(f"weights {step}".encode() * 1000)
            v.log_checkpoint(saved, metrics={"loss": 1 / step})
    report = v.report()
    assert [o.tag for o in report.outcomes] == ["model/v0.3", "model/v0.4"]
    assert all(o.status == "versioned" for o in report.outcomes), report
    assert ModelCheckpoints(repo).verify(all_versions=True).ok


def test_cpv_commands_and_a_training_run_in_child_processes(
    repo: Path, macos_like_env: dict[str, str]
) -> None:
    write_checkpoint(repo, b"weights one" * 1000)
    run_cpv("tag", "--kind", "model", "-m", "one", cwd=repo, env=macos_like_env)
    script = textwrap.dedent(
        """
        from pathlib import Path
        from cpv.integrations import versioning
        saved = Path("../save.bin")
        with versioning(repo=".") as v:
            for step in (2, 3):
                saved.write_bytes(b"weights %d" % step * 1000)
                v.log_checkpoint(saved, metrics={"loss": 1 / step})
        print(",".join(o.status for o in v.report().outcomes))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo,
        env={**os.environ, **macos_like_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "versioned,versioned", out.stderr
    run_cpv("push", cwd=repo, env=macos_like_env)
    run_cpv("clone", "acme/whisper-small", "other", cwd=repo.parent, env=macos_like_env)
    run_cpv("pull", "v0.1", "--kind", "model", cwd=repo.parent / "other", env=macos_like_env)
    assert (
        _digest(repo.parent / "other" / "checkpoints" / "model.bin")
        == hashlib.md5(b"weights one" * 1000, usedforsecurity=False).hexdigest()
    )
    run_cpv("verify", "--all-versions", cwd=repo, env=macos_like_env)


@pytest.mark.usefixtures("without_linux_calls")
def test_a_ranged_download_is_hashed_without_preadv(tmp_path: Path) -> None:
    from cpv._s3 import io as _s3_io

    blob = tmp_path / "blob"
    blob.write_bytes(os.urandom(3 * (256 << 10) + 17))
    digest = hashlib.md5(usedforsecurity=False)
    fd = os.open(blob, os.O_RDONLY)
    try:
        _s3_io._hash_range(fd, digest, 5, blob.stat().st_size)
    finally:
        os.close(fd)
    want = hashlib.md5(blob.read_bytes()[5:], usedforsecurity=False).hexdigest()
    assert digest.hexdigest() == want
