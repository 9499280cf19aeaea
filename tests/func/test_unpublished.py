"""`cpv status` and `cpv push --dry-run` tell the whole truth (issue 20): every ref the git
remote lacks is listed by kind (versions, alias moves, demotes, removal markers, branch
commits), in text and `--json`, and finding out changes nothing (real git remotes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cpv import ModelCheckpoints
from cpv.ops.pull import clone
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint


def _published(repo: Path, versions: int = 2) -> ModelCheckpoints:
    """``versions`` versions, all pushed."""
    manager = ModelCheckpoints(repo)
    for i in range(versions):
        write_checkpoint(repo, f"weights {i} ".encode() * 30)
        manager.tag(message=f"epoch {i}")
    manager.push()
    return manager


def _status(repo: Path) -> dict[str, Any]:
    return json.loads(run_cpv("status", "--json", cwd=repo).stdout)


def _dry_run(repo: Path) -> dict[str, Any]:
    return json.loads(run_cpv("push", "--dry-run", "--json", cwd=repo).stdout)


def test_an_unpushed_alias_move_is_listed_by_status_and_dry_run(repo: Path) -> None:
    manager = _published(repo)
    manager.promote("v0.1", "prod", message="ship it")
    move = {"ref": "alias/prod/1", "alias": "prod", "action": "promote", "tag": "model/v0.1"}

    status = _status(repo)
    assert status["unpublished"]["alias_moves"] == [move]
    assert status["unpublished"]["versions"] == [] and status["unpushed_tags"] == []
    text = run_cpv("status", cwd=repo).stdout
    assert "unpushed: 1 tag(s)" in text and "alias/prod/1 (prod -> model/v0.1)" in text

    before = repo_snapshot(repo)
    dry = _dry_run(repo)
    assert dry["records_pushed"] == ["alias/prod/1"]
    assert dry["unpublished"]["alias_moves"] == [move]
    text = run_cpv("push", "--dry-run", cwd=repo).stdout
    assert "would push 1 tag(s)" in text and "alias/prod/1 (prod -> model/v0.1)" in text
    assert repo_snapshot(repo) == before

    manager.push()
    after = _status(repo)["unpublished"]
    assert after["alias_moves"] == [] and after["branch_commits"] == 0


def test_demote_and_removal_marker_are_listed(repo: Path) -> None:
    manager = _published(repo, versions=3)
    manager.promote("v0.2", "canary")
    manager.push()
    manager.demote("canary", message="regressed")
    manager.delete("v0.1", why="bad run")

    for out in (_status(repo)["unpublished"], _dry_run(repo)["unpublished"]):
        assert out["demotes"] == [
            {"ref": "alias/canary/2", "alias": "canary", "action": "demote", "tag": None}
        ]
        assert out["removals"] == ["removed/model/v0.1"] and out["alias_moves"] == []
    text = run_cpv("status", cwd=repo).stdout
    assert "alias/canary/2 (canary demoted)" in text and "removed/model/v0.1" in text
    assert "unpushed: 2 tag(s)" in text
    assert "would push 2 tag(s)" in run_cpv("push", "--dry-run", cwd=repo).stdout
    assert _dry_run(repo)["records_pushed"] == ["alias/canary/2", "removed/model/v0.1"]


def test_versions_and_branch_commits_are_listed(repo: Path) -> None:
    manager = _published(repo, versions=1)
    write_checkpoint(repo, b"new weights " * 30)
    manager.tag(message="epoch 9")
    status = _status(repo)
    assert status["unpublished"]["versions"] == ["model/v0.2"]
    assert status["unpublished"]["branch_commits"] == status["unpushed_commits"] >= 1
    dry = _dry_run(repo)
    assert dry["unpublished"]["versions"] == ["model/v0.2"] == dry["pushed_tags"]
    assert dry["unpublished"]["branch_commits"] == status["unpushed_commits"]
    assert "1 version(s): model/v0.2" in " ".join(run_cpv("status", cwd=repo).stdout.split())


def test_a_move_another_clone_published_first_is_shown_renumbered_and_nothing_changes(
    repo: Path, tmp_path: Path
) -> None:
    manager = _published(repo)
    other, _ = clone(str(git(repo, "remote", "get-url", "origin").strip()), tmp_path / "other")
    ModelCheckpoints(other).promote("v0.2", "prod")
    ModelCheckpoints(other).push()  # alias/prod/1 is theirs on the remote
    manager.promote("v0.1", "prod")  # ours is alias/prod/1 too, locally

    before = repo_snapshot(repo)
    for out in (_status(repo)["unpublished"], _dry_run(repo)["unpublished"]):
        assert [m["ref"] for m in out["alias_moves"]] == ["alias/prod/2"]
    assert "alias/prod/2 (prod -> model/v0.1)" in run_cpv("push", "--dry-run", cwd=repo).stdout
    tags = git(repo, "tag", "-l", "alias/*")
    assert repo_snapshot(repo)["refs"] == before["refs"] and tags.split() == ["alias/prod/1"]
    assert manager.push().records_pushed == ["alias/prod/2"]  # what the dry run said
