"""The shape of a command's cost, not its timing: at 5 and at 40 versions a command starts
the same git processes, and naming one version reads that version's tag, not every tag's
message. (``benchmarks/bench_scale.py`` times the same commands at 10,000 versions.)

The models are built by the benchmark's own builder (``benchmarks/scale_build.py``: what N
``cpv tag`` runs write, through ``git fast-import``); every git process the CLI starts is
logged by a ``git`` wrapper first on ``PATH``."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cpv

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import scale_build  # noqa: E402

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the git wrapper is a shell script")

#: ``cpv list``'s read of every version: the messages of every tag under model/ or data/
WHOLE_NAMESPACE = {"refs/tags/model", "refs/tags/data"}

READS = [
    ["list"],
    ["list", "--json"],
    ["show", "v0.3"],
    ["show", "latest"],
    ["show", "prod"],
    ["diff", "v0.2", "v0.3"],
    ["status", "--no-remote"],
    ["du", "--json"],
    ["verify", "v0.3"],
    ["verify", "--all-versions"],
]
#: these need one or two versions (status: the latest, which the workspace holds; verify:
#: the version named): they read those tags' messages, never all of them
NAMED = {"show", "diff", "status", "verify v0.3"}


def _git_logger(tmp_path: Path) -> Path:
    """A ``git`` that writes its arguments (one call a line, NUL-separated) to a log."""
    folder = tmp_path / "gitlog-bin"
    folder.mkdir()
    real = shutil.which("git")
    assert real
    wrapper = folder / "git"
    wrapper.write_text(
        '#!/bin/sh\nprintf "%s\\0" "$@" >> "$CPV_TEST_GIT_LOG"\necho >> "$CPV_TEST_GIT_LOG"\n'
        f'exec "{real}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return folder


def _calls(repo: Path, args: list[str], folder: Path, log: Path) -> list[list[str]]:
    log.write_text("")
    env = {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "CPV_TEST_GIT_LOG": str(log)}
    run_cpv("-C", str(repo), *args, env=env)
    return [line.split("\0")[:-1] for line in log.read_text().splitlines() if line]


def _build(tmp_path: Path, count: int) -> Path:
    repo = scale_build.build(tmp_path / f"m{count}", count=count)
    run_cpv("-C", str(repo), "promote", "v0.3", "prod", "-m", "shape")
    return repo


def _reads_every_message(call: list[str]) -> bool:
    """A ``for-each-ref`` of a whole kind's tags with their messages (not just the highest
    few, ``--count``)."""
    return (
        call[:1] == ["for-each-ref"]
        and any("%(contents)" in a for a in call)
        and not any(a.startswith("--count=") for a in call)
        and bool(WHOLE_NAMESPACE & set(call))
    )


def test_read_commands_start_as_many_git_processes_at_40_versions_as_at_5(
    tmp_path: Path,
) -> None:
    folder, log = _git_logger(tmp_path), tmp_path / "git.log"
    small, large = _build(tmp_path, 5), _build(tmp_path, 40)
    grew, read_all = {}, []
    for args in READS:
        at_small = _calls(small, args, folder, log)
        at_large = _calls(large, args, folder, log)
        assert at_small, f"cpv {' '.join(args)}: no git call logged (is the wrapper used?)"
        if len(at_large) != len(at_small):
            grew[" ".join(args)] = (len(at_small), len(at_large))
        named = args[0] in NAMED or " ".join(args) in NAMED
        if named and any(_reads_every_message(c) for c in at_large):
            read_all.append(" ".join(args))
    assert not grew, f"git processes at 5 and at 40 versions: {grew}"
    assert not read_all, f"these read every version's message: {read_all}"


def test_tagging_one_version_reads_the_newest_tags_not_every_message(tmp_path: Path) -> None:
    folder, log = _git_logger(tmp_path), tmp_path / "git.log"
    counts = []
    for count in (5, 40):
        repo = scale_build.build(tmp_path / f"m{count}", count=count)
        (repo / "checkpoints" / "w.bin").write_bytes(b"one more version")
        calls = _calls(repo, ["tag", "-m", "next"], folder, log)
        assert not [c for c in calls if _reads_every_message(c)], calls
        counts.append(len(calls))
    assert counts[0] == counts[1], f"git processes of a tag at 5 and at 40 versions: {counts}"
    shown = run_cpv("-C", str(repo), "show", "latest", "--json").stdout
    assert '"version": "v0.41"' in shown
