"""The journal of a multi-step change (``.git/cpv/txn.json``) and the one-writer lock."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from cpv.core.transaction import Intent, Journal, pending, repo_lock, transaction
from cpv.domain.errors import LockTimeoutError
from cpv.domain.progress import NoProgress, reporting


@pytest.fixture
def git_dir(tmp_path: Path) -> Path:
    path = tmp_path / ".git"
    path.mkdir()
    return path


def test_the_journal_lives_in_the_cpv_state_directory(git_dir: Path) -> None:
    journal = Journal(git_dir)
    assert journal.path == git_dir / "cpv" / "txn.json"
    assert journal.path.parent.is_dir()  # created on first use
    assert not journal.path.exists()  # nothing is written before begin()


def test_nothing_pending_without_a_journal(git_dir: Path) -> None:
    assert Journal(git_dir).pending() is None


def test_begin_records_the_intent_with_pid_and_start_time(git_dir: Path) -> None:
    before = time.time()
    Journal(git_dir).begin(op="tag", head="abc123", paths=["checkpoints.dvc"], tags=["model/v0.1"])
    pending = Journal(git_dir).pending()  # a fresh object: it reads the file, not memory
    assert pending is not None
    assert pending["op"] == "tag"
    assert pending["head"] == "abc123"
    assert pending["paths"] == ["checkpoints.dvc"]
    assert pending["tags"] == ["model/v0.1"]
    assert pending["pid"] == os.getpid()
    assert before <= pending["started"] <= time.time()


def test_the_journal_file_is_plain_json(git_dir: Path) -> None:
    journal = Journal(git_dir)
    journal.begin(op="revert", tags=[])
    assert json.loads(journal.path.read_text())["op"] == "revert"


def test_the_recorded_pid_is_always_the_writer(git_dir: Path) -> None:
    journal = Journal(git_dir)
    journal.begin(op="tag", pid=1)
    pending = journal.pending()
    assert pending is not None and pending["pid"] == os.getpid()


def test_a_second_begin_replaces_the_intent(git_dir: Path) -> None:
    """tag writes the journal again once the commit exists, so recovery can roll forward."""
    journal = Journal(git_dir)
    journal.begin(op="tag", head="h1", tags=["model/v0.1"])
    journal.begin(op="tag", head="h1", tags=["model/v0.1"], commit="c1")
    pending = journal.pending()
    assert pending is not None and pending["commit"] == "c1"
    journal.begin(op="revert", head="h2")
    pending = journal.pending()
    assert pending is not None and "commit" not in pending and pending["op"] == "revert"


def test_begin_leaves_no_temporary_file(git_dir: Path) -> None:
    journal = Journal(git_dir)
    journal.begin(op="tag")
    assert sorted(p.name for p in journal.path.parent.iterdir()) == ["txn.json"]


def test_finish_clears_the_journal_and_is_idempotent(git_dir: Path) -> None:
    journal = Journal(git_dir)
    journal.begin(op="tag")
    journal.finish()
    assert not journal.path.exists()
    assert journal.pending() is None
    journal.finish()  # finishing twice (rollback path) is harmless
    journal.begin(op="tag", tags=["model/v0.2"])  # and the journal is reusable
    pending = journal.pending()
    assert pending is not None and pending["tags"] == ["model/v0.2"]


def test_a_leftover_temporary_file_is_not_a_pending_change(git_dir: Path) -> None:
    """Killed between writing the temporary file and renaming it: nothing had happened yet."""
    journal = Journal(git_dir)
    journal.path.with_suffix(".tmp").write_text(json.dumps({"op": "tag"}))
    assert journal.pending() is None


@pytest.mark.parametrize(
    "text",
    ["", '{"op": "tag", "head": "abc', "{", "\x00\x00\x00\x00", '{"op": "tag"} trailing'],
    ids=["empty", "torn", "brace", "zeros", "trailing"],
)
def test_a_torn_journal_is_discarded(git_dir: Path, text: str) -> None:
    journal = Journal(git_dir)
    journal.path.write_text(text)
    assert journal.pending() is None
    assert not journal.path.exists()  # so the next command does not trip over it again


@pytest.mark.parametrize("text", ["[1, 2]", '"tag"', "42"])
def test_a_journal_that_is_not_an_object_is_discarded(git_dir: Path, text: str) -> None:
    """Valid JSON that is not an object is as corrupt as a torn write. Returning it as the
    intent would make every later writing command crash on ``intent.get(...)`` in recovery."""
    journal = Journal(git_dir)
    journal.path.write_text(text)
    assert journal.pending() is None
    assert not journal.path.exists()


# --- the lock ------------------------------------------------------------------------------


def test_the_lock_records_its_owner_while_held(git_dir: Path) -> None:
    owner = git_dir / "cpv" / "lock.owner"
    with repo_lock(git_dir, timeout=1):
        assert owner.read_text().strip() == f"cpv pid {os.getpid()}"
    assert not owner.exists()


class Waits(NoProgress):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def waiting(self, message: str) -> None:
        self.messages.append(message)


def test_a_held_lock_makes_the_next_writer_wait_then_fail(git_dir: Path) -> None:
    """The wait is said to the active progress receiver (the one a manager was given with
    ``progress=``, made active by :func:`cpv.domain.progress.reporting` for each call)."""
    waits = Waits()
    with repo_lock(git_dir, timeout=1):
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match="repository is busy") as info:
            with reporting(waits), repo_lock(git_dir, timeout=0.2):
                pass
        assert time.monotonic() - started >= 0.2
    assert f"cpv pid {os.getpid()}" in info.value.message
    assert "CPV_LOCK_TIMEOUT" in info.value.hint
    assert len(waits.messages) == 1 and "waiting up to 0.2s" in waits.messages[0]
    with repo_lock(git_dir, timeout=0):  # released: free again at once
        pass


def test_the_lock_is_released_when_the_body_raises(git_dir: Path) -> None:
    with pytest.raises(RuntimeError):
        with repo_lock(git_dir, timeout=1):
            raise RuntimeError("boom")
    with repo_lock(git_dir, timeout=0):
        pass


# --- the transaction ------------------------------------------------------------------------


def test_an_intent_reads_the_journal_format_on_disk(git_dir: Path) -> None:
    """Journals written before intents were typed (no ``commit``/``checkout`` keys) and
    after (every key) read the same; a field of the wrong type counts as absent."""
    journal = Journal(git_dir)
    journal.begin(op="tag", head="h1", paths=["checkpoints.dvc"], tags=["model/v0.1"])
    old = journal.pending()
    assert old is not None
    intent = Intent.from_json(old)
    assert intent == Intent(op="tag", head="h1", paths=["checkpoints.dvc"], tags=["model/v0.1"])
    journal.begin(**Intent(op="revert", head="h2", checkout=["data.dvc"]).to_json())
    assert pending(git_dir) == Intent(op="revert", head="h2", checkout=["data.dvc"])
    assert Intent.from_json({"op": "tag", "head": 3, "tags": "model/v0.1"}) == Intent(op="tag")


def test_an_inner_transaction_runs_under_the_outer_lock(git_dir: Path) -> None:
    repo = SimpleNamespace(git_dir=git_dir)  # no journal pending: recovery reads nothing else
    with transaction(repo) as outer:  # type: ignore[arg-type]
        with transaction(repo) as inner:  # type: ignore[arg-type]
            assert outer.repairs == inner.repairs == []
        with pytest.raises(LockTimeoutError):  # still held by the outer one
            with repo_lock(git_dir, timeout=0):
                pass
    with repo_lock(git_dir, timeout=0):  # released with the outer one
        pass
