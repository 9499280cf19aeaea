"""cpv's git adapter runs git's own CLI: remote URLs never read as options, a repository git
refuses is named as such."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cpv._git import repo as _git
from cpv.domain.errors import GitError


def test_a_remote_url_that_looks_like_an_option_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = f"--upload-pack=touch {marker}"
    with pytest.raises(GitError, match="not a git remote URL"):
        _git.ls_remote(evil)
    with pytest.raises(GitError, match="not a git remote URL"):
        _git.clone(evil, tmp_path / "dest")
    repo = _git.GitRepo.init(tmp_path / "m")
    with pytest.raises(GitError, match="not a git remote URL"):
        repo.set_remote("origin", evil)
    assert "origin" not in repo.run("remote").split()
    assert not marker.exists() and not (tmp_path / "dest").exists()


def test_find_root_from_a_subfolder_and_outside_any_repository(tmp_path: Path) -> None:
    repo = tmp_path / "m"
    _git.GitRepo.init(repo)
    (repo / "a" / "b").mkdir(parents=True)
    assert _git.find_root(repo / "a" / "b") == repo
    assert _git.find_root(tmp_path) is None
    assert _git.find_root(tmp_path / "missing") is None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository away")
def test_a_repository_git_refuses_to_work_in_is_named_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "theirs"
    _git.GitRepo.init(repo)
    subprocess.run(["chown", "-R", "65534:65534", str(repo)], check=True)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-safe-directory-here"))
    with pytest.raises(GitError, match="belongs to another user") as caught:
        _git.find_root(repo)
    assert f"git config --global --add safe.directory {repo}" in (caught.value.hint or "")
