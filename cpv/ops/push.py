"""``cpv push``: publish versions — data before git, atomically.

A remote never has a tag whose data is missing: objects are uploaded first
(:mod:`cpv.objects.store`), then the branch and the new tags go in one ``git push --atomic``.
When another writer already published a version number we made locally with other
content, our unpublished version is renamed to the next free number; nothing is ever
force-pushed and neither version is lost. Once published, the model's catalog index is
brought up to date (:func:`cpv.ops.models.publish_index`); a failure there is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpv._faults import fault_point, pause_point
from cpv._git import repo as _git
from cpv.catalog.publish import publish_index
from cpv.core import refs
from cpv.core.branch_sync import fast_forward, fetch_branch, tracking_ref
from cpv.core.fence import publish_fence, settle
from cpv.core.publish_checks import withdraw_contradicted
from cpv.core.remote_view import FENCE_REF, GC_REF
from cpv.core.removal import removed_markers
from cpv.core.renumber import refuse_log_changes, renumber
from cpv.core.repo import METRICS_LOG, ModelRepo
from cpv.core.unpublished import unpublished
from cpv.domain import progress
from cpv.domain.errors import PushRejectedError, RemoteError
from cpv.domain.paths import StrPath
from cpv.domain.results import PushResult
from cpv.domain.versions import Kind, Version, parse_tag_name, tag_name
from cpv.notify.announce import announces
from cpv.objects.store import ObjectStore, newest_store
from cpv.objects.transfer import get_transfer, store_for
from cpv.settings.config import GIT_REMOTE_NAME, lock_timeout

_MAX_ATTEMPTS = 5


def _remote(repo: ModelRepo) -> str:
    url = repo.git.remote_url(GIT_REMOTE_NAME)
    if not url:
        raise RemoteError(
            "this repository has no git remote 'origin'", hint="Add one: git remote add origin URL."
        )
    return url


def _remote_refs(url: str, branch: str) -> dict[str, str]:
    """What push needs to know of the remote, in one round trip: its versions, its alias
    moves and removal markers, and its ``branch`` head (refname -> sha)."""
    patterns = [f"refs/tags/{p}/*" for p in ("model", "data", *refs.LIFECYCLE)]
    return _git.ls_remote(url, *patterns, f"refs/heads/{branch}", FENCE_REF, GC_REF)


def _remote_tags(listing: dict[str, str]) -> dict[str, str]:
    """cpv tag name -> tag object sha on the remote."""
    return {
        ref[len("refs/tags/") :]: sha
        for ref, sha in listing.items()
        if ref.startswith("refs/tags/")
        and not ref.endswith("^{}")
        and parse_tag_name(ref[len("refs/tags/") :])
    }


def _local_tag_objects(repo: ModelRepo) -> dict[str, str]:
    """cpv tag name -> tag object sha, locally."""
    return {t.name: t.obj for t in repo.git.list_tags("model", "data")}


@announces("push")
def push(path: StrPath = ".", *, jobs: int | None = None, dry_run: bool = False) -> PushResult:
    """Upload the objects of every unpublished version, then push the branch and the new
    tags in one ``git push --atomic``; retried when the remote changes in between."""
    repo = ModelRepo.open(path)
    url = _remote(repo)
    store = store_for(repo.root)  # lists once; the index reuses what it knows (no 2nd listing)
    store.warm_up()  # its client is made while git talks to the remote
    with repo.locked():
        branch = repo.git.current_branch()
        renamed: dict[str, str] = {}
        lease_notes: list[str] = []
        withdrawn: list[str] = []
        for _attempt in range(_MAX_ATTEMPTS):
            listing = _remote_refs(url, branch)  # first: the fence this push is checked against
            if GC_REF in listing and not dry_run:  # a deletion runs: wait for it, or finish it
                lease_notes += settle(repo, url, store=store, wait=lock_timeout())
                continue
            remote = _remote_tags(listing)
            local = _local_tag_objects(repo)
            colliding = [t for t in local if t in remote and remote[t] != local[t]]
            if colliding:
                if dry_run:
                    return _dry_run_with_renames(repo, branch, listing, local, colliding)
                renamed.update(_rename_collisions(repo, colliding, remote))
                continue
            new_tags = sorted(set(local) - set(remote), key=_tag_sort_key)
            if dry_run:  # before _lifecycle_to_publish, which renumbers our alias moves
                return _dry_run(repo, branch, new_tags, listing, renamed, jobs=jobs)
            records = _lifecycle_to_publish(repo, listing, renamed)
            progress.stage("checking the remote for new work")
            withdrawn += withdraw_contradicted(repo, listing, records).values()
            records = [r for r in records if repo.git.resolve(f"refs/tags/{r}")]
            remote_head, store = _integrate(repo, url, branch, listing, store)
            branch_pushed = repo.git.head_commit() != remote_head
            objects = _upload(
                repo, new_tags, branch, jobs=jobs, dry_run=False, store=store, moves=records
            )
            fault_point("after_data_push")
            if not _publish(repo, branch, listing, [*new_tags, *records], moved=branch_pushed):
                continue  # someone published (or a deletion began) in between: look again
            published = [*remote, *refs.lifecycle_of(listing)]
            progress.stage("updating the model index in the storage")
            return PushResult(
                index_warning=publish_index(
                    repo, branch=branch, remote_tags=published, store=store
                ),
                storage_warning="; ".join(store.notes) or None,
                pushed_tags=new_tags,
                renamed=renamed,
                objects_pushed=objects,
                branch=branch,
                branch_pushed=branch_pushed,
                records_pushed=records,
                up_to_date=not new_tags and not records and objects == 0 and not branch_pushed,
                withdrawn=withdrawn,
                lease_notes=lease_notes,
            )
        raise PushRejectedError(
            "the remote kept changing while pushing", url=url, hint="Run `cpv push` again."
        )


def _publish(
    repo: ModelRepo, branch: str, listing: dict[str, str], tags: list[str], *, moved: bool
) -> bool:
    """One ``git push --atomic`` of the branch, ``tags`` and a new fence token, applied only
    if the remote's fence is still the one in ``listing`` (read before the storage was
    checked: :mod:`cpv.core.fence`). A push publishing nothing (no tag, the branch ``moved`` not)
    leaves the fence alone. False when the remote moved meanwhile."""
    progress.stage("publishing to git")
    pause_point("push_before_git")
    fence, leases = (
        ([], {}) if not (tags or moved) else publish_fence(repo, listing.get(FENCE_REF, ""))
    )
    try:
        repo.git.push_atomic(
            GIT_REMOTE_NAME,
            [
                f"refs/heads/{branch}:refs/heads/{branch}",
                *[f"refs/tags/{t}:refs/tags/{t}" for t in tags],
                *fence,
            ],
            leases=leases,
        )
    except PushRejectedError:
        return False
    # The remote's branch is now our HEAD: note it without another round trip.
    repo.git.run("update-ref", tracking_ref(branch), "HEAD")
    refs.remember_published(repo, tags)  # a move the server loses is never renumbered
    return True


def _dry_run(
    repo: ModelRepo,
    branch: str,
    new_tags: list[str],
    listing: dict[str, str],
    renamed: dict[str, str],
    *,
    jobs: int | None,
) -> PushResult:
    """What a push would publish (every ref, by kind: :mod:`cpv.core.unpublished`, which changes
    nothing); the storage is still listed (see :func:`_upload`)."""
    pending = unpublished(repo, listing, branch=branch, renamed=renamed)
    return PushResult(
        pushed_tags=new_tags,
        records_pushed=pending.lifecycle_refs(),
        unpublished=pending,
        branch=branch,
        dry_run=True,
        renamed=renamed,
        objects_pushed=_upload(repo, new_tags, branch, jobs=jobs, dry_run=True),
    )


def _lifecycle_to_publish(
    repo: ModelRepo, listing: dict[str, str], renamed: dict[str, str]
) -> list[str]:
    """Our alias moves and removal markers the remote lacks, made to fit beside its own
    (see :func:`cpv.core.refs.reconcile`) and following the versions push renamed."""
    remote = refs.lifecycle_of(listing)
    refs.follow_renamed_versions(repo, renamed, remote)
    refs.reconcile(repo, remote)
    return sorted(set(refs.local_lifecycle(repo)) - set(remote))


def _upload(
    repo: ModelRepo,
    tags: list[str],
    branch: str,
    *,
    jobs: int | None,
    dry_run: bool,
    store: ObjectStore | None = None,
    moves: Sequence[str] = (),
) -> int:
    """Upload (``dry_run``: count) what the storage lacks of ``tags``' and HEAD's objects,
    and of the versions the alias moves among ``moves`` name (a promotion of an old version publishes
    only once its bytes are in the storage). Versions removed on purpose (a marker here)
    need nothing. A dry run still lists the storage: an unreachable storage or a missing
    local object fails it as it would fail the push."""
    records = {r.tag: r for r in repo.records()}
    removed = removed_markers(repo)
    labels = {repo.git.head_commit() or "": branch}
    targets = [m.tag for m in refs.alias_history(repo) if m.ref in moves and m.tag]
    labels.update(
        {
            records[t].commit: t
            for t in reversed([*targets, *tags])
            if t in records and t not in removed
        }
    )
    labels.pop("", None)
    return get_transfer().push(
        repo.root, revs=sorted(labels), jobs=jobs, labels=labels, dry_run=dry_run, store=store
    )


def _tag_sort_key(name: str) -> tuple[str, Version]:
    parsed = parse_tag_name(name)
    assert parsed is not None
    return parsed[0].value, parsed[1]


def _dry_run_with_renames(
    repo: ModelRepo,
    branch: str,
    listing: dict[str, str],
    local: dict[str, str],
    colliding: Sequence[str],
) -> PushResult:
    """What a push would publish, under the numbers the colliding versions would get."""
    remote = _remote_tags(listing)
    plan = _plan_renames(repo, colliding, remote)
    tags = sorted((set(local) - set(remote)) | set(colliding), key=_tag_sort_key)
    pending = unpublished(repo, listing, branch=branch, renamed=plan)
    return PushResult(
        pushed_tags=sorted({plan.get(t, t) for t in tags}, key=_tag_sort_key),
        records_pushed=pending.lifecycle_refs(),
        unpublished=pending,
        branch=branch,
        dry_run=True,
        renamed=plan,
        objects_pushed=_upload(repo, tags, branch, jobs=None, dry_run=True),
    )


def _plan_renames(
    repo: ModelRepo, colliding: Sequence[str], remote: dict[str, str]
) -> dict[str, str]:
    """The next numbers free both locally and remotely for our unpublished colliding versions.

    Model and data tags of one version (made by ``tag all``) move together to keep pairs aligned.
    """
    taken: set[tuple[Kind, Version]] = set()
    for name in [*remote, *_local_tag_objects(repo)]:
        parsed = parse_tag_name(name)
        if parsed:
            taken.add(parsed)
    records = {r.tag: r for r in repo.records()}
    versions = sorted({parse_tag_name(t)[1] for t in colliding})  # type: ignore[index]
    plan: dict[str, str] = {}
    for version in versions:
        group = [
            records[t]
            for t in (tag_name(k, version) for k in Kind)
            if t in records and (t in colliding or t not in remote)
        ]
        kinds = [r.kind for r in group]
        new = max(v for _, v in taken).bump("minor")
        while any((k, new) in taken for k in kinds):
            new = new.bump("minor")
        for record in group:
            taken.add((record.kind, new))
            plan[record.tag] = tag_name(record.kind, new)
    return plan


def _rename_collisions(
    repo: ModelRepo, colliding: Sequence[str], remote: dict[str, str]
) -> dict[str, str]:
    """Rename our colliding versions as planned — their tags, and their names in the commits
    not yet published (:mod:`cpv.core.renumber`) — then fetch the remote's versions."""
    plan = _plan_renames(repo, colliding, remote)
    branch = repo.git.current_branch()
    refuse_log_changes(repo, plan)  # before the fetch: a refused push changes nothing
    remote_head = fetch_branch(repo, _remote(repo), branch)  # its commits are published
    published = [
        t.commit for t in repo.git.list_tags("model", "data") if remote.get(t.name) == t.obj
    ]
    renumber(repo, plan, branch=branch, published=[*filter(None, [remote_head]), *published])
    # Now the remote's versions can be fetched without clobbering ours.
    repo.git.fetch(
        GIT_REMOTE_NAME, "refs/tags/model/*:refs/tags/model/*", "refs/tags/data/*:refs/tags/data/*"
    )
    return plan


def _integrate(
    repo: ModelRepo, url: str, branch: str, listing: dict[str, str], store: ObjectStore
) -> tuple[str | None, ObjectStore]:
    """:func:`_integrate_remote_branch`, then the store the model is at now: the commits
    brought in may move its storage (a teammate's ``cpv remote set``)."""
    remote_head = _integrate_remote_branch(repo, url, branch, listing)
    return remote_head, newest_store(repo.root, store)


def _integrate_remote_branch(
    repo: ModelRepo, url: str, branch: str, listing: dict[str, str]
) -> str | None:
    """Bring in commits another writer pushed. Where both changed a version pointer ours wins
    (our version is about to get the newest number); any other conflict stops the push.
    Returns the remote branch's head before this push (None: the remote has no branch)."""
    remote_head = fetch_branch(repo, url, branch, listing=listing)
    head = repo.git.head_commit()
    if not remote_head or (head and repo.git.is_ancestor(remote_head, head)):
        return remote_head
    if fast_forward(repo, remote_head, branch):
        return remote_head
    pointers = [repo.pointer_of(kind) for kind in Kind]
    repo.git.merge(
        tracking_ref(branch),
        f"cpv: merge {GIT_REMOTE_NAME}/{branch}",
        ours_wins=[*pointers, ".gitignore", METRICS_LOG],
    )
    return remote_head
