"""Fixtures of the training-integration tests (names prefixed ``integ_``).

The root ``tests/conftest.py`` isolates every test (HOME, CPV_HOME, git identity,
``HF_HUB_OFFLINE``) and runs it in its own ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpv.ops.init import init_repository


@pytest.fixture
def integ_repo(tmp_path: Path) -> Path:
    """A fresh model repository on the local default storage."""
    return init_repository(team="acme", model="tiny", path=tmp_path / "tiny")


def dvc_file_md5s(repo: Path, content_hash: str) -> dict[str, str]:
    """relpath -> md5 of each file in a version, read from the DVC cache's .dir object."""
    assert content_hash.endswith(".dir"), content_hash
    digest = content_hash
    obj = repo / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]
    return {entry["relpath"]: entry["md5"] for entry in json.loads(obj.read_text())}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def run_script(
    script: Path, *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{script.name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def metrics_log(repo: Path) -> list[dict]:
    """The versions' lines of ``metrics.log`` (the training steps' lines left out)."""
    return [e for e in _log_entries(repo) if e.get("kind") != "step"]


def step_lines(repo: Path) -> list[dict]:
    """The training steps' lines of ``metrics.log`` (``{"kind": "step", "run", "step", …}``)."""
    return [e for e in _log_entries(repo) if e.get("kind") == "step"]


def _log_entries(repo: Path) -> list[dict]:
    return [json.loads(line) for line in (repo / "metrics.log").read_text().splitlines() if line]
