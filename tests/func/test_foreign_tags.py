"""cpv touches only the tags it made: a hand-made tag under model/ is skipped, never deleted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cpv.api.managers import CombinedCheckpoints, ModelCheckpoints
from cpv.domain.errors import CpvError, VersionExistsError


def _git_cli(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_hand_made_tag_is_skipped_and_kept(repo: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"one")
    ModelCheckpoints(repo).tag()
    _git_cli(repo, "tag", "-a", "-m", "by hand", "model/v0.2")
    hand_made = _git_cli(repo, "rev-parse", "model/v0.2")
    (repo / "checkpoints" / "w.bin").write_bytes(b"two")

    result = ModelCheckpoints(repo).tag()

    assert result.tag == "model/v0.3"  # the next number nobody holds
    assert _git_cli(repo, "rev-parse", "model/v0.2") == hand_made
    assert [r.version for r in ModelCheckpoints(repo).list()] == ["v0.1", "v0.3"]
    with pytest.raises(VersionExistsError, match="model/v0.2 already exists"):
        ModelCheckpoints(repo).tag(version="v0.2", force=True)
    assert _git_cli(repo, "rev-parse", "model/v0.2") == hand_made


def test_a_rollback_never_deletes_a_tag_it_did_not_make(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone tags data/v0.1 by hand while a combined version is being made: cpv's
    create fails, the rollback removes cpv's own model/v0.1 and leaves theirs alone."""
    from cpv._git import repo as _git

    (repo / "checkpoints" / "w.bin").write_bytes(b"w")
    (repo / "data" / "train" / "rows.csv").write_text("x\n1\n")
    real = _git.GitRepo.create_tag

    def racing_create_tag(self: _git.GitRepo, name: str, message: str, commit: str) -> None:
        if name.startswith("data/"):
            _git_cli(repo, "tag", "-a", "-m", "by hand", name, "HEAD~1")
        real(self, name, message, commit)

    monkeypatch.setattr(_git.GitRepo, "create_tag", racing_create_tag)
    with pytest.raises(CpvError, match="data/v0.1"):
        CombinedCheckpoints(repo).tag()
    assert _git_cli(repo, "tag", "--list", "model/*") == ""  # ours, rolled back
    assert _git_cli(repo, "cat-file", "-p", "data/v0.1").endswith("by hand")  # theirs, kept
    assert _git_cli(repo, "log", "--format=%s", "-1").startswith("cpv init")  # branch reset


def test_show_of_a_bare_version_held_by_both_kinds_says_so(repo: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"w")
    (repo / "data" / "train" / "rows.csv").write_text("x\n1\n")
    CombinedCheckpoints(repo).tag()
    proc = subprocess.run(
        ["cpv", "-C", str(repo), "show", "v0.1", "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert '"tag": "model/v0.1"' in proc.stdout.replace('":"', '": "')
    assert "data/v0.1 also exists" in proc.stderr
    (repo / "data" / "train" / "rows.csv").write_text("x\n1\n2\n")
    from cpv.api.managers import DataCheckpoints

    DataCheckpoints(repo).tag()  # data/v0.2 alone
    proc = subprocess.run(["cpv", "-C", str(repo), "show", "0.2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "data/v0.2" in proc.stdout and "also exists" not in proc.stderr
