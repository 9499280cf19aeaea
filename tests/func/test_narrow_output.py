"""Human output at 80 columns, and plain output for pipes and NO_COLOR (issue 9, item 7).

Every command runs the real CLI in a child process with ``COLUMNS=80``; its stdout is a pipe,
so what is checked is also what ``cpv list | grep`` sees.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cpv.api.managers import ModelCheckpoints
from cpv.domain.metadata import VersionRecord, encode_tag_message
from tests.conftest import run_cpv, write_checkpoint

NARROW = {"COLUMNS": "80"}
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")
LONG_MESSAGE = "first run with lr 3e-4, warmup 500 steps and the cleaned transcripts"


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _assert_fits(text: str, columns: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > columns]
    assert not too_wide, "\n".join(too_wide)
    assert "\x1b[" not in text and "…" not in _without_message(text)
    assert not set(text) & set("─━│┃┏┓┗┛╇╋┼╸"), text  # no box drawing


def _without_message(text: str) -> str:
    """``cpv list`` may cut the message (prose) with ``…``; nothing else is ever cut."""
    return "\n".join(line.split("  ")[0] if "…" in line else line for line in text.splitlines())


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """v0.1 with three metrics and a long message, v0.2 with one metric and nested params."""
    run_cpv("init", "acme/whisper-small", cwd=tmp_path)
    repo = tmp_path / "whisper-small"
    write_checkpoint(repo, b"a" * 1000)
    ModelCheckpoints(repo).tag(
        message=LONG_MESSAGE,
        metrics={"train_loss": 0.1234, "val_loss": 0.2345, "wer": 0.2112},
        params={"optimizer": {"name": "adamw", "lr": 0.0003}, "epochs": 3},
    )
    write_checkpoint(repo, b"b" * 2000)
    ModelCheckpoints(repo).tag(
        message="longer warmup",
        metrics={"wer": 0.1987},
        params={"optimizer": {"name": "adamw", "lr": 0.0001}, "epochs": 3},
    )
    return repo


def test_list_is_one_line_per_version_at_80_columns(repo: Path) -> None:
    out = run_cpv("list", cwd=repo, env=NARROW).stdout
    _assert_fits(out)
    lines = _lines(out)
    assert lines[0].split() == ["tag", "created", "size", "metrics", "message"]
    starts = [i for i, line in enumerate(lines) if line.startswith("model/")]
    assert [lines[i].split()[0] for i in starts] == ["model/v0.1", "model/v0.2"]
    assert starts[1] - starts[0] <= 2, out  # three metrics: at most two lines
    assert len(lines) - starts[1] == 1, out  # one metric: one line
    for pair in ("train_loss=0.1234", "val_loss=0.2345", "wer=0.2112", "wer=0.1987"):
        assert re.search(rf"(^|\s){re.escape(pair)}(\s|$)", out, re.M), (pair, out)
    assert all(DATE.search(lines[i]) for i in starts), out
    assert "first run with" in out and "longer warmup" in out


def test_piped_list_without_columns_is_one_greppable_line_per_version(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS")
    monkeypatch.delenv("NO_COLOR")  # a pipe alone is enough for plain output
    out = run_cpv("list", cwd=repo).stdout
    first = next(line for line in out.splitlines() if line.startswith("model/v0.1"))
    assert "train_loss=0.1234 val_loss=0.2345 wer=0.2112" in first and LONG_MESSAGE in first
    assert len(_lines(out)) == 3 and "\x1b[" not in out
    assert not set(out) & set("─━│┃╇")


def test_diff_keeps_hashes_and_numbers_whole_and_shows_params(repo: Path) -> None:
    out = run_cpv("diff", "v0.1", "v0.2", cwd=repo, env=NARROW).stdout
    _assert_fits(out)
    full = json.loads(run_cpv("diff", "v0.1", "v0.2", "--json", cwd=repo).stdout)
    rows = {line.split()[0] + " " + line.split()[1]: line.split() for line in _lines(out)[1:]}
    for side, record in (("a", full["a"]), ("b", full["b"])):
        assert len(record["content_hash"]) > 12 and len(record["commit"]) == 40
        assert re.search(rf"\b{record['content_hash'][:12]}\b", out), (side, out)
        assert re.search(rf"\b{record['commit'][:12]}\b", out), (side, out)
    assert rows["param optimizer.lr"][2:] == ["0.0003", "0.0001", "changed"]
    assert rows["param optimizer.name"][2:] == ["adamw", "adamw"]  # same: not marked
    assert rows["param epochs"][2:] == ["3", "3"]
    assert rows["metric train_loss"][2:] == ["0.1234", "-", "removed"]
    assert rows["metric wer"][2:5] == ["0.2112", "0.1987", "-0.0125"]


def _rewrite_tag(repo: Path, tag: str, **extra: Any) -> None:
    """Re-create ``tag`` with extra record fields, as a newer cpv would write it."""
    shown = json.loads(run_cpv("show", tag, "--json", cwd=repo).stdout)
    shown.pop("size_mb")
    record = VersionRecord.model_validate({**shown, **extra})
    subprocess.run(
        ["git", "tag", "-f", "-a", tag, record.commit, "-m", encode_tag_message(record)],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_show_has_a_dirty_line_only_for_a_dirty_version(repo: Path) -> None:
    clean = run_cpv("show", "v0.2", cwd=repo, env=NARROW).stdout
    _assert_fits(clean)
    assert not any(line.startswith("dirty") for line in clean.splitlines())
    assert re.search(r"^param optimizer\.lr\s+0\.0001$", clean, re.M), clean
    _rewrite_tag(
        repo, "model/v0.2", dirty=True, dirty_paths=["train.py", "utils.py"], dirty_count=2
    )
    dirty = run_cpv("show", "v0.2", cwd=repo, env=NARROW).stdout
    _assert_fits(dirty)
    assert re.search(r"^dirty\s+yes \(train\.py, utils\.py\)$", dirty, re.M), dirty
    _rewrite_tag(repo, "model/v0.2", dirty=True, dirty_paths=["a.py", "b.py"], dirty_count=9)
    capped = run_cpv("show", "v0.2", cwd=repo, env=NARROW).stdout
    assert re.search(r"^dirty\s+yes \(a\.py, b\.py and 7 more\)$", capped, re.M), capped
    _rewrite_tag(repo, "model/v0.2", dirty=False, dirty_paths=[], dirty_count=0)
    assert "dirty" not in run_cpv("show", "v0.2", cwd=repo, env=NARROW).stdout


def test_status_fits_and_wraps_between_tags(repo: Path) -> None:
    for i in range(3, 12):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag()
    out = run_cpv("status", cwd=repo, env=NARROW).stdout
    _assert_fits(out)
    for i in range(1, 12):
        assert re.search(rf"(^|\s)model/v0\.{i}(;|\s|$)", out, re.M), (i, out)


def test_wizard_questions_break_between_words_at_80_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cpv.cli.commands import wizard
    from cpv.settings.config import UserConfig

    asked: list[str] = []

    class Recording:
        def select(self, message: str, *, choices: list[tuple[str, str]], default: Any) -> str:
            asked.append(message)
            return {"Storage provider": "aws", "Credentials": "profile"}.get(message, choices[0][0])

        def text(self, message: str, *, default: str = "", validate: Any = None) -> str:
            asked.append(message)
            return {"Bucket": "my-bucket"}.get(message, "git@bitbucket.org:a/{team}-{model}.git")

        def secret(self, message: str, *, validate: Any = None) -> str:
            raise AssertionError(message)

        def confirm(self, message: str, *, default: bool) -> bool:
            asked.append(message)
            return False

    monkeypatch.setenv("COLUMNS", "80")
    wizard.ask(Recording(), current=UserConfig(), say=asked.append)
    assert any(len(message) > 80 for message in asked)  # the git remote question
    for message in asked:
        shown = "? " + wizard._question(message)  # as questionary draws it
        assert all(len(line) <= 80 for line in shown.splitlines()), shown
        assert shown[2:].split() == message.split(), shown  # no word cut or lost


def _on_a_terminal(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """``cpv ARGS`` with stdout on a pseudo-terminal: all it wrote."""
    import os
    import pty
    import sys

    leader, follower = pty.openpty()
    proc = subprocess.run(
        [sys.executable, "-m", "cpv", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
        timeout=120,
    )
    os.close(follower)
    chunks = []
    try:
        while data := os.read(leader, 65536):
            chunks.append(data)
    except OSError:  # the terminal is closed and drained
        pass
    os.close(leader)
    assert proc.returncode == 0
    return b"".join(chunks).decode()


def test_no_color_on_a_terminal_means_no_escape_codes(repo: Path) -> None:
    styled = _on_a_terminal("diff", "v0.1", "v0.2", cwd=repo, env={**NARROW, "NO_COLOR": ""})
    assert "\x1b[" in styled  # a terminal without NO_COLOR gets a bold header
    # Not `status`: it imports DVC, whose logger setup calls colorama.init(), and colorama
    # writes one "\x1b[0m" to a terminal's stdout at exit (not cpv's renderer; reported).
    for args in (["list"], ["diff", "v0.1", "v0.2"], ["show", "v0.1"]):
        out = _on_a_terminal(*args, cwd=repo, env={**NARROW, "NO_COLOR": "1"})
        assert "\x1b[" not in out and "model/v0.1" in out, out
        assert all(len(line) <= 80 for line in out.splitlines()), out
