"""Configured paths stay inside the repository; a bad one is an error, never a wedge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from cpv.settings.config import check_repo_path


@pytest.mark.parametrize(
    "bad", ["checkpoints/../../victim", "..", "./", "/tmp/x", ".git/objects", "a//b", ""]
)
def test_paths_that_leave_the_repository_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="inside the repository"):
        check_repo_path(bad)


def test_a_bad_model_path_is_reported_and_fixing_it_is_enough(repo: Path, tmp_path: Path) -> None:
    config = repo / "cpv.yaml"
    good = config.read_text()
    data = yaml.safe_load(good)
    config.write_text(yaml.safe_dump({**data, "model_path": "checkpoints/../../victim"}))
    (repo / "checkpoints" / "w.bin").write_bytes(b"w")

    proc = subprocess.run(
        ["cpv", "-C", str(repo), "tag", "--kind", "model"], capture_output=True, text=True
    )

    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: ") and "cpv.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "victim").exists()
    assert not (repo / ".git" / "cpv" / "txn.json").exists()  # nothing left to replay
    config.write_text(good)
    proc = subprocess.run(
        ["cpv", "-C", str(repo), "tag", "--kind", "model"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_an_ssh_key_path_never_runs_as_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git runs GIT_SSH_COMMAND through sh: a key path with $(…) must stay a file name."""
    from cpv._git import repo as _git
    from cpv.domain.errors import CpvError
    from cpv.settings.config import GitSettings, UserConfig, save_user_config

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "ssh-args"
    (bin_dir / "ssh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{seen}"\nexit 255\n')
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.chdir(tmp_path)
    key = tmp_path / "keys" / "id_'$(touch pwned)'"  # quotes end any quoting around it
    save_user_config(UserConfig(git=GitSettings(ssh_key=str(key))))

    with pytest.raises(CpvError):
        _git.ls_remote("ssh://git@example.invalid/acme/model.git")

    assert not (tmp_path / "pwned").exists()
    args = seen.read_text().splitlines()
    assert args[args.index("-i") + 1] == str(key)  # passed to ssh as one literal argument


def test_a_stale_index_lock_is_named_and_the_workspace_is_restored(repo: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"one")
    assert subprocess.run(["cpv", "-C", str(repo), "tag", "--kind", "model"]).returncode == 0
    (repo / "checkpoints" / "w.bin").write_bytes(b"two")
    lock = repo / ".git" / "index.lock"
    lock.touch()

    proc = subprocess.run(
        ["cpv", "-C", str(repo), "tag", "--kind", "model"], capture_output=True, text=True
    )

    assert proc.returncode == 1
    error, hint = proc.stderr.splitlines()
    assert error.startswith("Error: ") and str(lock) in error
    assert hint.startswith("Hint: ") and f"remove {lock}" in hint
    lock.unlink()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True
    ).stdout
    assert status == ""  # the pointer and metrics.log were put back, not left modified


def test_init_refuses_a_model_that_exists_and_a_nested_repository(tmp_path: Path) -> None:
    first = subprocess.run(
        ["cpv", "init", "acme/whisper", str(tmp_path / "one")], capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        ["cpv", "init", "acme/whisper", str(tmp_path / "two")], capture_output=True, text=True
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr and "cpv clone" in again.stderr
    assert not (tmp_path / "two").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".two.cpv-init")]

    nested = subprocess.run(
        ["cpv", "init", "acme/other", str(tmp_path / "one" / "inner")],
        capture_output=True,
        text=True,
    )
    assert nested.returncode == 1 and "inside the git repository" in nested.stderr
    assert not (tmp_path / "one" / "inner").exists()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path / "one", capture_output=True, text=True
    ).stdout
    assert status == ""


def test_init_makes_cpv_home_private_and_the_model_ordinary(
    tmp_path: Path, isolated_env: Path
) -> None:
    import os
    import stat

    home = isolated_env / ".cpv"
    assert not home.exists()
    old = os.umask(0o022)
    try:
        proc = subprocess.run(
            ["cpv", "init", "acme/perm", str(tmp_path / "perm")], capture_output=True, text=True
        )
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700  # holds credentials: doctor's rule
    assert stat.S_IMODE((tmp_path / "perm").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "perm" / "cpv.yaml").stat().st_mode) == 0o644  # no secrets
    doctor = subprocess.run(["cpv", "doctor", "--json"], capture_output=True, text=True)
    assert "has mode" not in doctor.stdout
