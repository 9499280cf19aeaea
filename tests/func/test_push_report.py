"""`cpv push` says "up to date" only when nothing at all was sent (issue 9)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def _cpv(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cpv", "-C", str(repo), *args], capture_output=True, text=True)


def test_a_pushed_branch_commit_is_not_reported_as_up_to_date(repo: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"w")
    assert _cpv(repo, "tag", "model").returncode == 0
    first = json.loads(_cpv(repo, "push", "--json").stdout)
    assert first["pushed_tags"] == ["model/v0.1"] and first["branch_pushed"]

    (repo / "README.md").write_text("notes on the model\n")
    subprocess.run(["git", "commit", "-qam", "docs"], cwd=repo, check=True)
    text = _cpv(repo, "push")
    assert text.returncode == 0, text.stderr
    assert "up to date" not in text.stdout and "branch main" in text.stdout
    assert "unchanged" not in text.stdout

    again = json.loads(_cpv(repo, "push", "--json").stdout)
    assert again["up_to_date"] and not again["branch_pushed"] and again["pushed_tags"] == []
    assert "everything up to date" in _cpv(repo, "push").stdout
