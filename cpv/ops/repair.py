"""``cpv repair``: the journal of an interrupted change that could not be replayed.

Every command that takes the repository lock first rolls back what a dead writer left
(:mod:`cpv.core.transaction`). When that rollback itself fails (a ref held by another process,
a file it must restore unreadable, a path git no longer accepts) the journal is kept and
each such command stops with :class:`~cpv.domain.errors.JournalReplayError`. ``repair`` shows what
the journal holds without touching it; ``discard=True`` moves it aside (never deletes it) so
that commands work again. It never replays the journal: any other command does that.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from cpv.core.repo import ModelRepo
from cpv.core.transaction import Intent, Journal, repo_lock
from cpv.domain.results import RepairResult


def repair(path: str | Path = ".", *, discard: bool = False) -> RepairResult:
    """What the journal of an interrupted change holds; with ``discard``, move it aside to
    ``.git/cpv/txn.discarded-<timestamp>.json``.

    Without ``discard`` nothing is changed and no lock is taken. With it, the repository
    lock is held (without the usual replay) while the journal is moved.

    Raises:
        NotARepositoryError: ``path`` is not inside a model repository.
        LockTimeoutError: (``discard``) another command holds the repository.
    """
    repo = ModelRepo.open(path)
    journal = Journal(repo.git_dir)
    if not discard:
        return describe(journal)
    with repo_lock(repo.git_dir):
        result = describe(journal)
        if result.pending:
            result.discarded_to = str(journal.discard())
    return result


def describe(journal: Journal) -> RepairResult:
    """The journal as it is on disk (torn or foreign content is shown raw)."""
    data, text = journal.read()
    result = RepairResult(journal=str(journal.path), pending=text is not None)
    if text is None:
        return result
    if data is None:
        result.readable, result.raw = False, text[:2000]
        return result
    intent = Intent.from_json(data)
    files = [*intent.paths, *(p for p in intent.index if p not in intent.paths)]
    started, pid = data.get("started"), data.get("pid")
    result.op = intent.op if data.get("op") is not None else None
    result.head, result.commit, result.tags = intent.head, intent.commit, intent.tags
    result.files, result.checkout = files, intent.checkout
    result.pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
    if isinstance(started, int | float) and not isinstance(started, bool):
        try:
            result.started = datetime.fromtimestamp(started, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            result.started = None
    return result
