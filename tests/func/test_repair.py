"""A journal that cannot be replayed never wedges every command: it is reported with the
journal and the reason, read-only commands still work, and `cpv repair` shows it and
(`--discard`) moves it aside, after which commands work again."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from cpv import ModelCheckpoints
from cpv.core.transaction import Intent, Journal, transaction
from cpv.domain.errors import GitError, JournalReplayError
from cpv.ops.repair import repair
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint

HINT = "Run `cpv repair` to see it, `cpv repair --discard` to drop it."


def _one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Error: "), proc.stderr
    assert lines[1] == f"Hint: {HINT}"
    return lines[0]


@pytest.fixture
def wedged(repo: Path) -> Path:
    """A repository with one version and a journal whose rollback fails: the change would
    restore a path that lies outside the repository (git refuses it)."""
    write_checkpoint(repo, b"v1")
    ModelCheckpoints(repo).tag(metrics={"loss": 0.5})
    write_checkpoint(repo, b"v2")
    head = git(repo, "rev-parse", "HEAD").strip()
    Journal(repo / ".git").begin(
        **Intent(op="tag", head=head, paths=["../outside.dvc"], tags=["model/v0.2"]).to_json()
    )
    return repo


def test_a_journal_that_cannot_be_replayed_is_named_with_its_reason(wedged: Path) -> None:
    before = repo_snapshot(wedged)
    error = _one_error(run_cpv("tag", "--kind", "model", cwd=wedged, check=False))
    assert "cannot roll back the interrupted tag journaled in" in error
    assert str(wedged / ".git/cpv/txn.json") in error
    assert "../outside.dvc" in error  # git's reason, in one line
    assert repo_snapshot(wedged) == before  # refused: nothing changed
    assert (wedged / ".git/cpv/txn.json").exists()  # kept for `cpv repair`
    with pytest.raises(JournalReplayError) as caught:
        ModelCheckpoints(wedged).tag()
    assert caught.value.path == wedged / ".git/cpv/txn.json"
    assert caught.value.op == "tag" and caught.value.reason
    assert caught.value.hint == HINT


def test_read_only_commands_work_while_the_journal_is_there(wedged: Path) -> None:
    assert "model/v0.1" in run_cpv("list", cwd=wedged).stdout
    assert json.loads(run_cpv("show", "v0.1", "--json", cwd=wedged).stdout)["tag"] == "model/v0.1"
    status = json.loads(run_cpv("status", "--no-remote", "--json", cwd=wedged).stdout)
    assert status["interrupted"] == "tag"


def test_repair_shows_the_journal_and_changes_nothing(wedged: Path) -> None:
    before = repo_snapshot(wedged)
    journal = (wedged / ".git/cpv/txn.json").read_text()
    shown = json.loads(run_cpv("repair", "--json", cwd=wedged).stdout)
    assert shown["pending"] is True and shown["readable"] is True
    assert shown["op"] == "tag" and shown["tags"] == ["model/v0.2"]
    assert shown["files"] == ["../outside.dvc"]
    assert shown["head"] == git(wedged, "rev-parse", "HEAD").strip()
    assert shown["started"] and shown["pid"]
    assert shown["discarded_to"] is None
    text = run_cpv("repair", cwd=wedged).stdout
    assert "an interrupted tag" in text and "model/v0.2" in text and "--discard" in text
    assert (wedged / ".git/cpv/txn.json").read_text() == journal
    assert repo_snapshot(wedged) == before


def test_discard_moves_the_journal_aside_and_commands_work_again(wedged: Path) -> None:
    journal = (wedged / ".git/cpv/txn.json").read_text()
    proc = run_cpv("repair", "--discard", cwd=wedged)
    assert "moved aside to" in proc.stdout
    assert not (wedged / ".git/cpv/txn.json").exists()
    (kept,) = (wedged / ".git/cpv").glob("txn.discarded-*.json")
    assert kept.read_text() == journal  # never deleted
    assert kept.name in proc.stdout
    res = ModelCheckpoints(wedged).tag()
    assert res.tag == "model/v0.2"
    # a second discard has nothing to move; the first one's copy stays
    again = repair(wedged, discard=True)
    assert again.pending is False and again.discarded_to is None
    assert kept.exists()


def test_repair_without_a_journal(repo: Path) -> None:
    result = repair(repo)
    assert result.pending is False and result.journal == str(repo / ".git/cpv/txn.json")
    assert "no interrupted change" in run_cpv("repair", cwd=repo).stdout


def test_a_torn_journal_is_shown_raw_and_can_be_discarded(repo: Path) -> None:
    path = repo / ".git/cpv/txn.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text('{"op": "tag", "hea')
    shown = repair(repo)
    assert shown.pending and not shown.readable and shown.raw == '{"op": "tag", "hea'
    assert path.exists()  # shown, not removed
    assert repair(repo, discard=True).discarded_to is not None
    assert not path.exists()


def test_a_tag_ref_held_by_another_process(repo: Path) -> None:
    """SIGKILL after the first tag of a combined version, then the ref it must delete is
    locked (``.lock``): the replay fails, names the lock, and succeeds once it is gone."""
    write_checkpoint(repo, b"v1 weights")
    (repo / "data/train/a.txt").write_text("one\n")
    run_cpv("tag", "--kind", "all", cwd=repo)
    write_checkpoint(repo, b"v2 weights")
    (repo / "data/train/a.txt").write_text("one\ntwo\n")
    killed = run_cpv(
        "tag", "--kind", "all", cwd=repo, env={"CPV_FAULT": "kill:after_first_tag"}, check=False
    )
    assert killed.returncode == -9
    lock = repo / ".git/refs/tags/model/v0.2.lock"
    lock.write_text("held\n")
    before = repo_snapshot(repo)
    error = _one_error(run_cpv("tag", "--kind", "all", cwd=repo, check=False))
    assert "interrupted tag" in error and "v0.2.lock" in error
    assert repo_snapshot(repo) == before
    lock.unlink()
    run_cpv("tag", "--kind", "all", cwd=repo)  # the replay succeeds now, then the version is made
    assert git(repo, "tag").strip().split() == [
        "data/v0.1",
        "data/v0.2",
        "model/v0.1",
        "model/v0.2",
    ]


def test_a_rollback_that_fails_in_process_keeps_the_journal(tmp_path: Path) -> None:
    git_dir = tmp_path / ".git"
    git_dir.mkdir()

    def refuse(commit: str) -> None:
        raise GitError("git reset failed: index is locked")

    fake_git = SimpleNamespace(head_commit=lambda: "new", reset_branch=refuse)
    repo = SimpleNamespace(git_dir=git_dir, git=fake_git, root=tmp_path)
    with pytest.raises(JournalReplayError) as caught:
        with transaction(repo, Intent(op="revert", head="old")):  # type: ignore[arg-type]
            raise RuntimeError("disk on fire")
    message = str(caught.value)
    assert message.startswith("the revert failed (disk on fire), then could not be rolled back")
    assert "index is locked" in message and str(git_dir / "cpv/txn.json") in message
    assert isinstance(caught.value.__cause__, GitError)
    assert (git_dir / "cpv/txn.json").exists()
