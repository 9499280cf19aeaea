"""`cpv list` / `show` carry aliases and removals; deleted versions are hidden unless --all."""

from __future__ import annotations

import json
from pathlib import Path

from cpv import ModelCheckpoints
from tests.conftest import run_cpv, write_checkpoint


def test_list_and_show_mark_aliases_and_removed_versions(repo: Path) -> None:
    for i in (1, 2, 3):
        write_checkpoint(repo, f"weights {i}".encode() * 100)
        ModelCheckpoints(repo).tag()
    models = ModelCheckpoints(repo)
    models.promote("v0.1", "prod")
    models.push()  # a version never pushed is not deleted without --force
    models.delete("v0.2")
    text = run_cpv("list", cwd=repo).stdout
    assert "model/v0.1 [prod]" in text and "model/v0.2" not in text and "model/v0.3" in text
    everything = run_cpv("list", "--deleted", cwd=repo).stdout
    assert "model/v0.2 (deleted)" in everything
    rows = {
        r["tag"]: r for r in json.loads(run_cpv("list", "--deleted", "--json", cwd=repo).stdout)
    }
    assert rows["model/v0.1"]["aliases"] == ["prod"] and rows["model/v0.1"]["removed"] is None
    assert rows["model/v0.2"]["removed"]["action"] == "delete"
    assert [r.tag for r in models.list()] == ["model/v0.1", "model/v0.3"]
    shown = run_cpv("show", "prod", cwd=repo).stdout
    assert "aliases" in shown and "prod" in shown
    assert "removed" in run_cpv("show", "v0.2", cwd=repo).stdout
    # Read-time fields never reach a tag message.
    message = run_cpv("show", "v0.1", "--json", cwd=repo).stdout
    assert json.loads(message)["aliases"] == ["prod"]
    import subprocess

    raw = subprocess.run(
        ["git", "tag", "-l", "--format=%(contents)", "model/v0.1"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout
    assert '"aliases"' not in raw and '"removed"' not in raw
