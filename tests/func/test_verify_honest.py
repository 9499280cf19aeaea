"""Issue 19 family 5 (verify) and issue 20: ``cpv verify`` tells the truth.

Versions removed on purpose (``gc``, ``delete``: a ``removed/...`` marker) are reported as
removed, with who, when and why, not as missing; ``verify --all-versions [--remote]`` exits 0
when everything else is fine, here and in a fresh clone. After a commit that is not a version,
``cpv verify`` checks the versions HEAD holds (else the latest) and says so.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cpv import ModelCheckpoints
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint


def _three(repo: Path) -> None:
    for i in (1, 2, 3):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag()
    push(repo)


def _report(repo: Path, *args: str) -> dict:  # type: ignore[type-arg]
    proc = run_cpv("verify", "--all-versions", *args, "--json", cwd=repo, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_removed_versions_are_reported_as_removed_not_as_failures(
    repo: Path, tmp_path: Path
) -> None:
    _three(repo)
    ModelCheckpoints(repo).gc(keep_last=2, remote=True)  # v0.1: bytes gone everywhere
    ModelCheckpoints(repo).delete("v0.2", why="bad run")  # v0.2: gone from this cache
    for args in ((), ("--remote",)):
        report = _report(repo, *args)
        assert report["ok"] is True
        by = {v["version"]: v for v in report["versions"]}
        assert by["model/v0.1"]["removed"]["action"] == "gc"
        assert by["model/v0.1"]["removed"]["remote"] is True
        assert by["model/v0.2"]["removed"]["action"] == "delete"
        assert by["model/v0.2"]["removed"]["why"] == "bad run"
        assert by["model/v0.2"]["removed"]["by"] and by["model/v0.2"]["removed"]["at"]
        assert by["model/v0.3"]["removed"] is None and by["model/v0.3"]["objects"] == 2
        assert all(not v["missing_local"] and not v["missing_remote"] for v in by.values())
    text = run_cpv("verify", "--all-versions", "--remote", "--repair", cwd=repo)
    assert "model/v0.2: removed on purpose (delete, by " in text.stdout
    assert "bad run" in text.stdout and "PROBLEMS" not in text.stdout
    push(repo)  # the markers travel: a fresh clone says the same
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    fresh = _report(other, "--remote")
    assert fresh["ok"] and [v["version"] for v in fresh["versions"] if v["removed"]] == [
        "model/v0.1",
        "model/v0.2",
    ]


def test_a_removed_version_named_is_removed_and_a_lost_object_still_fails(repo: Path) -> None:
    _three(repo)
    ModelCheckpoints(repo).delete("v0.1")
    named = run_cpv("verify", "v0.1", "--json", cwd=repo)
    assert json.loads(named.stdout)["versions"][0]["removed"]["action"] == "delete"
    lost = next((repo / ".dvc" / "cache" / "files" / "md5").glob("*/*"))
    lost.chmod(0o644)
    lost.unlink()  # a live version losing an object is still a failure
    proc = run_cpv("verify", "--all-versions", cwd=repo, check=False)
    assert proc.returncode == 1 and "missing or corrupt" in proc.stdout + proc.stderr


def test_verify_after_a_commit_that_is_not_a_version_checks_what_head_holds(repo: Path) -> None:
    _three(repo)
    (repo / "train.py").write_text("print('lr 3e-4')\n")
    subprocess.run(["git", "add", "train.py"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "train.py"], cwd=repo, check=True)
    status = run_cpv("status", cwd=repo)
    assert "v0.3" in status.stdout
    proc = run_cpv("verify", cwd=repo)
    assert "is not a version: checked model/v0.3" in proc.stdout
    assert "the bytes HEAD holds" in proc.stdout
    report = json.loads(run_cpv("verify", "--json", cwd=repo).stdout)
    assert report["ok"] and [v["version"] for v in report["versions"]] == ["model/v0.3"]
    assert report["note"].startswith("HEAD (")
