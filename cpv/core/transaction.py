"""One writer per repository, and every change whole or absent.

* The **lock** (:func:`repo_lock`): an OS file lock (``flock``) in ``.git/cpv/lock``. The OS
  releases it when the holder dies, so a crashed process never leaves a lock that blocks
  forever; a live holder makes the next command wait (bounded by ``CPV_LOCK_TIMEOUT``, said
  to the active :class:`cpv.domain.progress.Progress`) and then fail clearly.
* The **journal** (:class:`Journal`, ``.git/cpv/txn.json``): the :class:`Intent` of a
  multi-step change, written before its first step and cleared after its last.
* **Rollback** (:func:`rollback`): whoever takes the lock next and finds an unfinished
  journal undoes the change (or completes it, when every tag it meant to make exists).

:func:`transaction` puts the three together: ``with transaction(repo, intent) as txn``
holds the lock (repairing first what a dead writer left), journals ``intent``, and rolls
the change back if the block fails. :meth:`cpv.core.repo.ModelRepo.locked` is the same without
an intent: the lock and the repairs.
"""

from __future__ import annotations

import contextvars
import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from cpv._dvc import repo as _dvc
from cpv.domain.errors import CpvError, JournalReplayError, LockTimeoutError
from cpv.domain.progress import current as current_progress
from cpv.objects.checkout import checkout_tree, load_tree
from cpv.objects.compact import is_compact
from cpv.objects.layout import cache_dir, object_path
from cpv.settings.config import lock_timeout

if TYPE_CHECKING:
    from cpv.core.repo import ModelRepo

_STATE_DIR = "cpv"


@dataclass(frozen=True)
class Intent:
    """What a multi-step change is about to do, enough to undo it."""

    op: str  # "tag", "revert": named in repair messages and `cpv status`
    head: str | None = None  # the branch head before the change
    paths: list[str] = field(default_factory=list)  # files restored from ``head`` on rollback
    tags: list[str] = field(default_factory=list)  # tags the change makes
    commit: str | None = None  # the commit it made, once made (the tags point at it)
    checkout: list[str] = field(default_factory=list)  # pointers whose bytes to check out again
    #: index entries put back on rollback (path -> "mode sha", "" = none); files untouched
    index: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Intent:
        """Read a journal leniently: a field of the wrong type counts as absent."""

        def strings(value: Any) -> list[str]:
            return [str(v) for v in value] if isinstance(value, list | tuple) else []

        head, commit, index = data.get("head"), data.get("commit"), data.get("index")
        return cls(
            op=str(data.get("op")),
            head=head if isinstance(head, str) else None,
            paths=strings(data.get("paths")),
            tags=strings(data.get("tags")),
            commit=str(commit) if commit else None,
            checkout=strings(data.get("checkout")),
            index={str(k): str(v) for k, v in index.items()} if isinstance(index, dict) else {},
        )


def state_dir(git_dir: Path) -> Path:
    path = git_dir / _STATE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def repo_lock(git_dir: Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the repository's OS lock; wait up to ``timeout`` (default ``CPV_LOCK_TIMEOUT``).

    Raises:
        LockTimeoutError: another process held it for longer.
    """
    directory = state_dir(git_dir)
    owner_file = directory / "lock.owner"
    lock = FileLock(str(directory / "lock"))
    wait = lock_timeout() if timeout is None else timeout
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            # Said once, to the active progress receiver (the CLI prints it to stderr).
            owner = owner_file.read_text().strip() if owner_file.exists() else "another process"
            current_progress().waiting(
                f"waiting up to {wait:g}s for {owner} to finish with this repository…"
            )
            lock.acquire(timeout=wait)
    except Timeout:
        owner = owner_file.read_text().strip() if owner_file.exists() else "another process"
        raise LockTimeoutError(
            f"repository is busy: {owner} has held its lock for over {wait:g}s"
        ) from None
    try:
        owner_file.write_text(f"cpv pid {os.getpid()}\n")
        yield
    finally:
        owner_file.unlink(missing_ok=True)
        lock.release()


class Journal:
    """The intent of one multi-step change, kept on disk until the change is complete."""

    def __init__(self, git_dir: Path) -> None:
        self.path = state_dir(git_dir) / "txn.json"

    def begin(self, **intent: Any) -> None:
        intent["pid"] = os.getpid()
        intent["started"] = time.time()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(intent))
        os.replace(tmp, self.path)

    def pending(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            # A torn (or foreign) write of the journal itself: nothing after it happened yet.
            self.path.unlink(missing_ok=True)
            return None
        return data

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)

    def read(self) -> tuple[dict[str, Any] | None, str | None]:
        """The journal as it is on disk, never changed: (its object or None when it is not
        one, its text or None when there is no journal)."""
        try:
            text = self.path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None, None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        return (data if isinstance(data, dict) else None), text

    def discard(self) -> Path:
        """Move the journal aside to ``txn.discarded-<UTC timestamp>.json`` (never deleted)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"txn.discarded-{stamp}.json")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"txn.discarded-{stamp}-{n}.json")
        os.replace(self.path, target)
        return target


def pending(git_dir: Path) -> Intent | None:
    """The change a dead writer left unfinished, if any (a torn journal is discarded)."""
    data = Journal(git_dir).pending()
    return Intent.from_json(data) if data is not None else None


def rollback(repo: ModelRepo, intent: Intent) -> list[str]:
    """Undo an unfinished change (or keep it when complete); returns what was repaired."""
    tags, new_commit = intent.tags, intent.commit
    if tags and new_commit and all(repo.git.tag_commit(t) == new_commit for t in tags):
        return [f"completed {intent.op} of {', '.join(tags)}"]
    repairs = []
    for tag in tags:
        # Only a tag on the commit this change made is ours: a tag of that name made by
        # someone else (by hand, another tool) points elsewhere and is never deleted.
        if new_commit and repo.git.tag_commit(tag) == new_commit:
            repo.git.delete_tag(tag)
            repairs.append(f"removed half-made tag {tag}")
    head = intent.head
    if head is not None and repo.git.head_commit() != head:
        repo.git.reset_branch(head)
        repairs.append(f"reset branch to {head[:10]}")
    if head is not None and intent.paths:
        repo.git.restore_paths(head, intent.paths)
    repo.git.set_index_entries(intent.index)
    for pointer in intent.checkout:
        if (repo.root / pointer).exists():
            _check_out(repo, pointer)
    repairs.append(f"rolled back an interrupted {intent.op}")
    return repairs


def _check_out(repo: ModelRepo, pointer: str) -> None:
    """Put back the bytes ``pointer`` names: a compact version's files rebuilt by cpv (DVC
    would write its recipes and segments), anything else through DVC."""
    content = _dvc.parse_pointer((repo.root / pointer).read_text(), where=pointer)
    cache = cache_dir(repo.root)
    listing = object_path(cache, content.hash) if content.hash.endswith(".dir") else None
    if listing is not None and listing.is_file():
        if is_compact(load_tree(cache, content.hash, where=pointer)):
            checkout_tree(cache, content.hash, repo.root / pointer.removesuffix(".dvc"))
            return
    _dvc.checkout(repo.root, pointer)


def _reason(exc: BaseException) -> str:
    """One line saying why a replay failed."""
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, CpvError):
        reason = exc.strerror.lower()
        return f"{reason}: {exc.filename}" if exc.filename else reason
    return " ".join(str(exc).split()) or type(exc).__name__


def replay_error(
    journal: Journal, intent: Intent, exc: BaseException, *, failed: BaseException | None = None
) -> JournalReplayError:
    """The error for a journal whose rollback raised ``exc`` (in-process: after ``failed``)."""
    reason = _reason(exc)
    if failed is None:
        message = (
            f"cannot roll back the interrupted {intent.op} journaled in {journal.path}: {reason}"
        )
    else:
        message = (
            f"the {intent.op} failed ({_reason(failed)}), then could not be rolled back "
            f"({reason}); its journal {journal.path} is kept"
        )
    return JournalReplayError(message, path=journal.path, op=intent.op, reason=reason)


def recover(repo: ModelRepo) -> list[str]:
    """Roll back what a dead writer left unfinished; the caller holds the lock.

    Raises:
        JournalReplayError: the rollback failed; the journal is kept for ``cpv repair``.
    """
    journal = Journal(repo.git_dir)
    data = journal.pending()
    if data is None:
        return []
    intent = Intent.from_json(data)
    try:
        repairs = rollback(repo, intent)
    except Exception as exc:
        raise replay_error(journal, intent, exc) from exc
    journal.finish()
    return repairs


class Transaction:
    """The open transaction: the repairs made on entry and the intent journaled."""

    def __init__(self, repo: ModelRepo, repairs: list[str], intent: Intent | None) -> None:
        self.repo = repo
        self.repairs = repairs
        self.intent = intent

    def record(self, **progress: Any) -> None:
        """Journal a step taken (``commit=``: the commit made), so that recovery can
        complete the change instead of undoing it."""
        assert self.intent is not None, "record() needs a transaction with an intent"
        self.intent = replace(self.intent, **progress)
        Journal(self.repo.git_dir).begin(**self.intent.to_json())


#: The git directories whose lock this thread's transactions hold (an inner transaction
#: runs under the outer one's lock; another thread has its own context and waits).
_held: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar(
    "cpv_locks_held", default=()
)


@contextmanager
def _locked(repo: ModelRepo) -> Iterator[list[str]]:
    held = _held.get()
    if repo.git_dir in held:
        yield []
        return
    with repo_lock(repo.git_dir):
        _held.set((*held, repo.git_dir))
        try:
            yield recover(repo)
        finally:
            _held.set(held)


@contextmanager
def transaction(repo: ModelRepo, intent: Intent | None = None) -> Iterator[Transaction]:
    """Hold the repository lock and, with an ``intent``, make the block one change.

    The lock is taken unless an enclosing transaction of this thread holds it; taking it
    first repairs what a dead writer left (``txn.repairs``). With ``intent``, it is
    journaled before the block runs; if the block raises (``KeyboardInterrupt`` too) the
    change is rolled back, and either way the journal is cleared at the end.

    Raises:
        LockTimeoutError: another process held the lock for longer than ``CPV_LOCK_TIMEOUT``.
        JournalReplayError: a journal left earlier, or this change's own, cannot be rolled
            back (it is kept for ``cpv repair``).
    """
    with _locked(repo) as repairs:
        txn = Transaction(repo, repairs, intent)
        if intent is None:
            yield txn
            return
        journal = Journal(repo.git_dir)
        journal.begin(**intent.to_json())
        try:
            yield txn
        except BaseException as failed:
            current = txn.intent or intent
            try:
                rollback(repo, current)
            except Exception as exc:
                raise replay_error(journal, current, exc, failed=failed) from exc
            journal.finish()
            raise
        journal.finish()
