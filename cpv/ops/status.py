"""``cpv status``: the workspace against the latest versions, what the git remote lacks,
a change a dead writer left unfinished, and the webhooks whose last delivery failed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from cpv._git import repo as _git
from cpv.core.fence import describe
from cpv.core.refs import LIFECYCLE
from cpv.core.remote_view import GC_REF
from cpv.core.repo import ModelRepo
from cpv.core.transaction import pending as pending_change
from cpv.core.unpublished import unpublished
from cpv.domain.errors import CpvError
from cpv.domain.metadata import VersionRecord
from cpv.domain.results import KindStatus, StatusResult
from cpv.domain.versions import Kind
from cpv.objects.ingest import workspace_tree
from cpv.settings.config import GIT_REMOTE_NAME


def status(
    repo: ModelRepo, *, kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA), remote: bool = True
) -> StatusResult:
    """The workspace of ``kinds`` against their latest versions; with ``remote``, what the git
    remote does not have yet (left unknown, None, when it cannot be reached)."""
    currents = {kind: workspace_tree(repo.root, repo.path_of(kind)) for kind in kinds}
    out = []
    for kind in kinds:
        newest = list(itertools.islice(repo.newest_first([kind]), 4))
        latest = newest[0] if newest else None
        current = currents[kind]
        has_files = current is not None and current.size > 0
        holds = _holds(repo, kind, newest, current.hash if current else None)
        changed = has_files and (latest is None or latest.files_hash != current.hash)  # type: ignore[union-attr]
        out.append(
            KindStatus(
                kind=kind.value,
                path=repo.path_of(kind),
                latest=latest,
                workspace_hash=current.hash if current else None,
                changed=bool(changed),
                workspace_version=holds,
            )
        )
    pending = pending_change(repo.git_dir)
    result = StatusResult(
        interrupted=pending.op if pending else None,
        team=repo.config.team,
        model=repo.config.model,
        branch=_branch(repo),
        kinds=out,
    )
    result.remote = repo.git.remote_url(GIT_REMOTE_NAME)
    from cpv.notify.webhooks import last_failures  # cpv list and friends need not import it

    result.webhook_failures = last_failures()
    if remote and result.remote:
        _unpublished(repo, result)
    return result


def _holds(
    repo: ModelRepo, kind: Kind, newest: list[VersionRecord], files: str | None
) -> str | None:
    """The newest version of ``kind`` whose files are ``files`` (the workspace's): looked for
    in the ``newest`` few first, then (the workspace holds none of them) in every version."""
    if files is None:
        return None
    found = next((r for r in newest if r.files_hash == files), None)
    if found is None and len(newest) == 4:
        found = next((r for r in reversed(repo.records(kind)) if r.files_hash == files), None)
    return found.version if found else None


def _unpublished(repo: ModelRepo, result: StatusResult) -> None:
    """Fill in every ref the git remote lacks, by kind, and how far the branch is ahead and
    behind; left unknown when the remote cannot be reached."""
    assert result.remote is not None
    patterns = [f"refs/tags/{p}/*" for p in ("model", "data", *LIFECYCLE)]
    try:
        listing = _git.ls_remote(result.remote, *patterns, f"refs/heads/{result.branch}", GC_REF)
    except CpvError:
        return  # remote unreachable: unknown, not "everything unpushed"
    if GC_REF in listing:
        result.deletion = describe(repo, listing.pop(GC_REF))
    remote_head = listing.get(f"refs/heads/{result.branch}")
    head = repo.git.head_commit()
    if head and remote_head and not _has_object(repo, remote_head):
        try:  # a teammate pushed: bring their commits in as a remote-tracking ref only
            repo.git.fetch(
                GIT_REMOTE_NAME,
                f"+refs/heads/{result.branch}:refs/remotes/{GIT_REMOTE_NAME}/{result.branch}",
            )
        except CpvError:
            pass  # the counts stay unknown, never a guess
    result.unpublished = unpublished(repo, listing, branch=result.branch)
    result.unpushed_tags = list(result.unpublished.versions)
    result.unpushed_commits = result.unpublished.branch_commits
    if head is None or not remote_head:
        result.behind_commits = 0  # no commits here, or the remote has no such branch
    elif _has_object(repo, remote_head):
        result.behind_commits = _count(repo, f"HEAD..{remote_head}")


def _count(repo: ModelRepo, revs: str) -> int:
    return int(repo.git.run("rev-list", "--count", revs))


def _has_object(repo: ModelRepo, sha: str) -> bool:
    try:
        repo.git.run("cat-file", "-e", sha)
        return True
    except CpvError:
        return False


def _branch(repo: ModelRepo) -> str:
    try:
        return repo.git.current_branch()
    except CpvError:
        return "(detached)"
