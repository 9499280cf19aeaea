"""The model's branch against its git remote: fetch it (with the refs a command needs), the
remote-tracking ref, fast-forward when nothing local is unpublished. Pull and push share it."""

from __future__ import annotations

from cpv._git import repo as _git
from cpv.core import refs
from cpv.core.fence import settle
from cpv.core.remote_view import GC_REF
from cpv.core.repo import ModelRepo
from cpv.domain.errors import (
    DeletionInProgressError,
)
from cpv.objects.store import ObjectStore
from cpv.settings.config import GIT_REMOTE_NAME


def fetch_refs(
    repo: ModelRepo, store: ObjectStore | None = None, *, move_branch: bool = True
) -> bool:
    """Fetch the remote's tags and the branch (finishing first a deletion on the remote
    whose holder is gone: :func:`cpv.core.fence.settle`); fast-forward the branch when possible
    and ``move_branch`` (else only its remote-tracking ref moves)."""
    url = repo.git.remote_url(GIT_REMOTE_NAME)
    if not url:
        return False
    branch = repo.git.current_branch()
    patterns = [f"refs/tags/{p}/*" for p in ("model", "data", *refs.LIFECYCLE)]
    listing = _git.ls_remote(url, *patterns, f"refs/heads/{branch}", GC_REF)  # one round trip
    if GC_REF in listing:
        try:
            settle(repo, url, store=store, wait=0)
        except DeletionInProgressError:
            pass  # a live deletion: its markers are already published, reading is safe
    refs.reconcile(repo, refs.lifecycle_of(listing))  # our unpublished moves kept, renumbered
    tags = {r[len("refs/tags/") :]: sha for r, sha in listing.items() if r.startswith("refs/tags/")}
    local = {t.name: t.obj for t in repo.git.list_tags("model", "data", *refs.LIFECYCLE)}
    missing = any(local.get(name) != sha for name, sha in tags.items() if not name.endswith("^{}"))
    tag_refspecs = [
        "refs/tags/model/*:refs/tags/model/*",
        "refs/tags/data/*:refs/tags/data/*",
        *refs.lifecycle_refspecs(),
    ]
    remote_head = fetch_branch(
        repo, url, branch, *(tag_refspecs if missing else []), listing=listing
    )
    return bool(remote_head) and move_branch and fast_forward(repo, str(remote_head), branch)


def fetch_branch(
    repo: ModelRepo,
    url: str,
    branch: str,
    *refspecs: str,
    listing: dict[str, str] | None = None,
) -> str | None:
    """Fetch the remote's ``branch`` into its tracking ref (plus ``refspecs``); its head sha,
    or None when the remote has no such branch yet. ``listing``: the remote's refs, already
    listed (else one ``ls-remote``). No fetch at all when the tracking ref is already there."""
    if listing is None:
        listing = _git.ls_remote(url, f"refs/heads/{branch}")
    remote_head = listing.get(f"refs/heads/{branch}")
    if remote_head and (refspecs or repo.git.resolve(tracking_ref(branch)) != remote_head):
        repo.git.fetch(GIT_REMOTE_NAME, f"+refs/heads/{branch}:{tracking_ref(branch)}", *refspecs)
    return remote_head


def tracking_ref(branch: str) -> str:
    return f"refs/remotes/{GIT_REMOTE_NAME}/{branch}"


def fast_forward(repo: ModelRepo, remote_head: str, branch: str) -> bool:
    head = repo.git.head_commit()
    if head and head != remote_head and repo.git.is_ancestor(head, remote_head):
        repo.git.run("merge", "-q", "--ff-only", tracking_ref(branch))
        return True
    return False
