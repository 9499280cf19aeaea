"""`cpv clone` on a machine where `cpv configure` was never run, of a model whose bytes are
on S3: the error says the storage is not configured here and what `cpv configure` needs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import StorageError, StorageNotConfiguredError
from cpv.ops.init import init_repository
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint

pytestmark = pytest.mark.s3


def _pushed_model(tmp_path: Path) -> str:
    """A model pushed to the moto bucket from the first machine; its git remote URL."""
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    push(repo)
    return subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def new_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Another CPV_HOME with no configuration, and no AWS credentials in the environment."""
    env = {"CPV_HOME": str(tmp_path / "new-machine"), "AWS_ACCESS_KEY_ID": ""}
    env["AWS_SECRET_ACCESS_KEY"] = ""
    return env


def test_clone_on_an_unconfigured_machine_says_to_run_configure(
    tmp_path: Path, s3_user_config: str, new_machine: dict[str, str]
) -> None:
    bare = _pushed_model(tmp_path)
    proc = run_cpv("clone", bare, str(tmp_path / "copy"), env=new_machine, check=False)
    assert proc.returncode == 1, proc.stderr
    error, hint = proc.stderr.strip().splitlines()
    assert error.startswith("Error:") and "no storage is configured on this machine" in error
    assert "s3://cpv-test/acme/m" in error
    assert "Push the data" not in proc.stderr
    assert hint.startswith("Hint:") and "cpv configure" in hint
    for what in ("cpv-test", "--endpoint-url", "--access-key-id", "--profile"):
        assert what in hint
    assert not (tmp_path / "copy").exists()  # a failed clone leaves nothing


def test_the_python_api_raises_the_same_error(
    tmp_path: Path,
    s3_user_config: str,
    new_machine: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bare = _pushed_model(tmp_path)
    for name, value in new_machine.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(StorageNotConfiguredError) as caught:
        clone(bare, tmp_path / "copy")
    assert isinstance(caught.value, StorageError)  # `except StorageError` still catches it
    assert caught.value.bucket == "cpv-test"
    assert caught.value.url == "s3://cpv-test/acme/m"
    assert not (tmp_path / "copy").exists()


def test_a_configured_machine_without_keys_keeps_the_credentials_error(
    tmp_path: Path, s3_user_config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storage configured here: the precise storage error stays (no 'not configured')."""
    bare = _pushed_model(tmp_path)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError) as caught:
        clone(bare, tmp_path / "copy")
    assert not isinstance(caught.value, StorageNotConfiguredError)
