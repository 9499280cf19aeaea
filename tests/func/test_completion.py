"""`cpv completion bash|zsh|fish`: the script, and what click's completion protocol offers
(`_CPV_COMPLETE=bash_complete COMP_WORDS=... COMP_CWORD=...`): commands, options, and the
versions and aliases of the repository here."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpv import DataCheckpoints, ModelCheckpoints
from tests.conftest import run_cpv, write_checkpoint


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef cpv"), ("fish", "complete --no-files")],
)
def test_the_script_is_printed_for_each_shell(tmp_path: Path, shell: str, marker: str) -> None:
    proc = run_cpv("completion", shell, cwd=tmp_path)
    assert marker in proc.stdout and "_CPV_COMPLETE" in proc.stdout
    assert proc.stderr == ""


def test_an_unknown_shell_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cpv("completion", "tcsh", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("Error: ")


def _complete(cwd: Path, line: str) -> list[str]:
    words = line.split(" ")
    proc = run_cpv(
        cwd=cwd,
        env={
            "_CPV_COMPLETE": "bash_complete",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) - 1),
        },
    )
    # bash_complete answers one "type,value" line per candidate
    return [row.split(",", 1)[1] for row in proc.stdout.splitlines() if row]


def test_versions_and_aliases_of_the_repository_here_are_offered(repo: Path) -> None:
    for content in (b"one", b"two"):
        write_checkpoint(repo, content)
        ModelCheckpoints(repo).tag()
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n")
    DataCheckpoints(repo).tag()
    ModelCheckpoints(repo).promote("v0.1", "prod")
    ModelCheckpoints(repo).promote("v0.2", "staging")
    ModelCheckpoints(repo).demote("staging")

    assert _complete(repo, "cpv show v0.") == ["v0.1", "v0.2"]
    assert _complete(repo, "cpv show data/") == ["data/v0.1"]
    assert _complete(repo, "cpv diff v0.1 p") == ["prod"]
    assert _complete(repo, "cpv promote v0.2 ") == ["prod"]  # staging points at nothing
    assert "latest" in _complete(repo, "cpv pull ")
    assert _complete(repo.parent, f"cpv -C {repo.name} show v0.") == ["v0.1", "v0.2"]


def test_outside_a_repository_no_version_is_offered_and_commands_are(tmp_path: Path) -> None:
    assert _complete(tmp_path, "cpv show v0.") == []
    assert {"compare", "completion"} <= set(_complete(tmp_path, "cpv comp"))
    assert "--kind" in _complete(tmp_path, "cpv tag --k")
