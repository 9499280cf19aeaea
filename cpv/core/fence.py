"""The deletion protocol: a lease on the git remote that deletions take and publications
respect, so that no publication can land while bytes are being deleted.

Two refs of cpv's own on the model's git remote (never fetched by plain clones):

* ``refs/cpv/fence`` — a token every publication moves. ``cpv push`` pushes its branch, tags
  and a new token in one ``git push --atomic`` with ``--force-with-lease`` on the token it
  read *before* checking the storage: the git server applies all of it only if nobody moved
  the token meanwhile (a compare-and-swap the server performs under its ref lock).
* ``refs/cpv/gc`` — the **journal** of the deletion running now (who, when, the objects it
  will delete, the removal markers it published). A deletion takes it by pushing, in one
  atomic push, the journal (lease: no journal), a new token (lease: the token it read before
  reading the remote's refs) and its removal markers. It then deletes, and finally removes the
  journal (lease: its own journal).

So a deletion's plan is made from the remote's refs as they are while it deletes (any
publication after its reading moved the token, failing the take: it reads again and plans
again), and a publication never lands while a journal is present (publishers wait for it, or
finish it when its holder is gone). A publication that read the token before a deletion
took the lease fails its push (the token moved), reads again, waits, and then re-checks the
storage, uploading again what the deletion removed. Markers are published before any byte is
deleted: a version is never without bytes and without a marker.

**Interrupted deletions.** A journal older than its lease (``CPV_GC_LEASE`` seconds, 900 by
default, by the clocks of the two machines) is finished by the next cpv command that meets it
(push, pull, gc, delete): it deletes what the journal lists (still garbage: no publication
could land meanwhile) and removes the journal. A deleter stops deleting once half its lease
has passed (and whenever its journal is no longer there), leaving the rest to that finish.

**Limits.** Writers that bypass cpv (a plain ``git push`` of a version) do not move the token;
a deleter suspended for more than half the lease between its last check and a delete request
can delete an object re-uploaded after another clone finished its journal; clocks more than
half the lease apart can make a live journal look abandoned.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

from pydantic import BaseModel, Field, ValidationError

from cpv._faults import fault_point, pause_point
from cpv._git import repo as _git
from cpv.core.remote_view import FENCE_REF, GC_REF
from cpv.core.repo import ModelRepo
from cpv.domain.errors import CpvError, DeletionInProgressError, PushRejectedError, UsageError
from cpv.objects.store import ObjectStore
from cpv.settings.config import GIT_REMOTE_NAME

LEASE_ENV = "CPV_GC_LEASE"
_DEFAULT_LEASE = 900.0
_OID = re.compile(r"[0-9a-f]{32}(\.dir)?")
_CHUNK = 500


class Journal(BaseModel):
    """What a running deletion is doing (the content of ``refs/cpv/gc``)."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    action: str = Field(max_length=16)  # "gc" or "delete"
    by: str = Field(default="", max_length=300)
    at: str = Field(max_length=40)  # the deleter's clock, ISO 8601 with a zone
    lease_seconds: float = Field(gt=0, le=7 * 86400, allow_inf_nan=False)
    storage: str = Field(max_length=2000)  # the storage URL the objects are deleted from
    objects: list[str] = Field(default_factory=list)
    markers: list[str] = Field(default_factory=list)


def lease_seconds() -> float:
    """``CPV_GC_LEASE``: how long a deletion may hold the lease before others finish it."""
    text = os.environ.get(LEASE_ENV, "").strip()
    if not text:
        return _DEFAULT_LEASE
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value <= 7 * 86400):
        raise UsageError(
            f"{LEASE_ENV}={text!r} is not a number of seconds between 0 and 604800",
            hint=f"Unset {LEASE_ENV} (default {_DEFAULT_LEASE:.0f} s) or give e.g. 900.",
        )
    return value


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def token(repo: ModelRepo) -> str:
    """A fresh, unique fence token (a tiny parentless commit)."""
    return repo.git.commit_object(
        {"token": uuid.uuid4().hex + "\n"}, f"cpv: publish by {repo.git.identity()}"
    )


def publish_fence(repo: ModelRepo, fence: str) -> tuple[list[str], dict[str, str]]:
    """The refspec and lease a publication adds to its atomic push: a new token, set only
    if the remote still holds ``fence`` (the token read before checking the storage)."""
    return [f"{token(repo)}:{FENCE_REF}"], {FENCE_REF: fence}


def acquire(repo: ModelRepo, *, fence: str, journal: Journal, tags: Sequence[str]) -> str:
    """Take the lease: push the journal, a new token and ``tags`` (removal markers) at once.

    Raises:
        PushRejectedError: someone published (or took the lease) since ``fence`` was read.
    """
    body = journal.model_dump_json(indent=1)
    sha = repo.git.commit_object(
        {"journal.json": body + "\n"}, f"cpv: {journal.action} by {journal.by} at {journal.at}"
    )
    specs, leases = publish_fence(repo, fence)
    repo.git.push_atomic(
        GIT_REMOTE_NAME,
        [*specs, f"{sha}:{GC_REF}", *[f"refs/tags/{t}:refs/tags/{t}" for t in tags]],
        leases={**leases, GC_REF: ""},
    )
    return sha


def release(repo: ModelRepo, journal_sha: str) -> bool:
    """Remove the journal if it is still ``journal_sha``; False when someone already did."""
    try:
        repo.git.push_atomic(GIT_REMOTE_NAME, [f":{GC_REF}"], leases={GC_REF: journal_sha})
    except PushRejectedError:
        return False
    return True


def held_by(url: str) -> str:
    """The journal's sha on the remote now ("" when no deletion runs)."""
    return _git.ls_remote(url, GC_REF).get(GC_REF, "")


def read_journal(repo: ModelRepo, sha: str) -> Journal | None:
    """The journal ``sha`` (fetched when not here); None when it cannot be read as one
    (then it is treated as abandoned: nothing it lists is deleted)."""
    if repo.git.show_file(sha, "journal.json") is None:
        try:
            repo.git.fetch(GIT_REMOTE_NAME, GC_REF, fetch_head=False)
        except CpvError:
            return None
    text = repo.git.show_file(sha, "journal.json")
    if text is None or len(text) > 64 * 1024 * 1024:
        return None
    try:
        journal = Journal.model_validate_json(text)
    except ValidationError:
        return None
    if not all(_OID.fullmatch(o) for o in journal.objects):
        return None
    return journal


def _age(journal: Journal) -> float:
    try:
        at = datetime.fromisoformat(journal.at)
    except ValueError:
        return float("inf")
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - at).total_seconds()


def describe(repo: ModelRepo, sha: str) -> str:
    """One line on the deletion whose journal is ``sha`` (``cpv status``)."""
    journal = read_journal(repo, sha)
    if journal is None:
        return "an unreadable deletion journal holds the lease: the next push removes it"
    stale = _age(journal) > min(journal.lease_seconds, 2 * lease_seconds())
    return f"a `cpv {journal.action} --remote` by {journal.by} since {journal.at}" + (
        " was interrupted: the next push, pull, gc or delete finishes it"
        if stale
        else " is deleting from the storage: pushes wait for it"
    )


def settle(repo: ModelRepo, url: str, *, store: ObjectStore | None, wait: float) -> list[str]:
    """Before publishing or deleting: while another deletion holds the lease, wait (up to
    ``wait`` seconds); one whose holder is gone (older than its lease) is finished here.
    Returns notes saying what was finished.

    Raises:
        DeletionInProgressError: a live deletion still holds the lease after ``wait``.
    """
    notes: list[str] = []
    finished: set[str] = set()
    deadline = time.monotonic() + wait
    while sha := held_by(url):
        journal = read_journal(repo, sha)
        # a journal's own lease is bounded by ours: a planted one blocks for a while, not a week
        stale = journal is None or _age(journal) > min(journal.lease_seconds, 2 * lease_seconds())
        if stale and sha not in finished:  # (one that will not go: never a loop)
            finished.add(sha)
            notes.append(finish(repo, sha, journal, store=store))
            continue
        if time.monotonic() >= deadline or journal is None:
            who = f"`cpv {journal.action} --remote` by {journal.by}" if journal else "deletion"
            raise DeletionInProgressError(
                f"a {who} (started {journal.at if journal else '?'}) is deleting from the "
                "storage of this model",
                url=url,
            )
        time.sleep(0.25)
    return notes


def finish(repo: ModelRepo, sha: str, journal: Journal | None, *, store: ObjectStore | None) -> str:
    """Finish an abandoned deletion: delete what its journal lists (when this clone's
    storage is the journal's) *and nothing the remote's refs still need* — a journal is
    read from the remote, so it is checked, never trusted — then remove the journal."""
    done = 0
    if journal is not None and store is not None and store.url == journal.storage:
        try:
            doomed = _not_needed(repo, store, journal.objects)
            for start in range(0, len(doomed), _CHUNK):
                store.delete(doomed[start : start + _CHUNK])
                done = min(len(doomed), start + _CHUNK)
        except CpvError:
            pass  # the rest stays as unreferenced objects; a later gc --remote sweeps them
    release(repo, sha)
    if journal is None:
        return "removed an unreadable deletion journal from the git remote"
    left = len(journal.objects) - done
    return (
        f"finished an interrupted `cpv {journal.action} --remote` by {journal.by} "
        f"(started {journal.at}): {done} object(s) deleted"
        + (f", {left} left for the next `cpv gc --remote`" if left else "")
    )


def _not_needed(repo: ModelRepo, store: ObjectStore, objects: list[str]) -> list[str]:
    """Those of ``objects`` no live version, alias target or branch tip of this clone and of
    the remote needs now ([] when that cannot be known)."""
    from cpv.core.accounting import Listings
    from cpv.core.liveness import World, still_needed
    from cpv.core.remote_view import remote_view
    from cpv.objects.layout import cache_dir

    with remote_view(repo) as view:
        keep = still_needed(World.of(repo, view), Listings(cache_dir(repo.root), store))
    return [] if keep is None else [o for o in objects if o not in keep]


def delete_under_lease(
    repo: ModelRepo, store: ObjectStore, *, sha: str, journal: Journal, started: float
) -> tuple[int, str | None]:
    """Delete the journal's objects in chunks while the lease is ours (checked before each
    chunk, and stopping once half the lease has passed), then release it. Returns how many
    were deleted and a warning when it stopped early."""
    url = repo.git.remote_url(GIT_REMOTE_NAME) or ""
    done = 0
    for start in range(0, len(journal.objects), _CHUNK):
        pause_point("gc_delete")
        fault_point("gc_delete")
        if time.monotonic() - started > journal.lease_seconds / 2 or held_by(url) != sha:
            return done, (
                f"stopped after {done} of {len(journal.objects)} object(s): the deletion lease "
                "ran out; the next cpv command on this model finishes it"
            )
        chunk = journal.objects[start : start + _CHUNK]
        store.delete(chunk)
        done += len(chunk)
    release(repo, sha)
    return done, None
