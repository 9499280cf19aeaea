"""Publishing and fetching: ``push`` (data before git, atomically), ``clone`` and ``pull``.

A remote never has a tag whose data is missing: objects are uploaded first, then the branch
and the new tags go in one ``git push --atomic``. When another writer already published a
version number we made locally with other content, our unpublished version is renamed to the
next free number; nothing is ever force-pushed and neither version is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cpv import _git
from cpv._faults import fault_point
from cpv.config import GIT_REMOTE_NAME, load_user_config, parse_model_id
from cpv.errors import PushRejectedError, RemoteError, UsageError
from cpv.git_remote import is_local
from cpv.metadata import VersionRecord, encode_tag_message
from cpv.repo import METRICS_LOG, ModelRepo
from cpv.restore import checkout_head, find_record, materialize, refuse_unsaved_work
from cpv.results import PullResult, PushResult
from cpv.transfer import get_transfer
from cpv.versions import Kind, Version, parse_tag_name, parse_version_arg, tag_name

_MAX_ATTEMPTS = 5


def _remote(repo: ModelRepo) -> str:
    url = repo.git.remote_url(GIT_REMOTE_NAME)
    if not url:
        raise RemoteError(
            "this repository has no git remote 'origin'", hint="Add one: git remote add origin URL."
        )
    return url


def _remote_tags(url: str) -> dict[str, str]:
    """cpv tag name -> tag object sha on the remote."""
    refs = _git.ls_remote(url, "refs/tags/model/*", "refs/tags/data/*")
    return {
        ref[len("refs/tags/") :]: sha
        for ref, sha in refs.items()
        if not ref.endswith("^{}") and parse_tag_name(ref[len("refs/tags/") :])
    }


def _local_tag_objects(repo: ModelRepo) -> dict[str, str]:
    """cpv tag name -> tag object sha, locally."""
    return {t.name: t.obj for t in repo.git.list_tags("model", "data")}


def push(path: str | Path = ".", *, jobs: int | None = None, dry_run: bool = False) -> PushResult:
    repo = ModelRepo.open(path)
    url = _remote(repo)
    with repo.locked():
        branch = repo.git.current_branch()
        renamed: dict[str, str] = {}
        for _attempt in range(_MAX_ATTEMPTS):
            remote = _remote_tags(url)
            local = _local_tag_objects(repo)
            colliding = [t for t in local if t in remote and remote[t] != local[t]]
            if colliding:
                if dry_run:
                    return PushResult(
                        pushed_tags=sorted(set(local) - set(remote)),
                        branch=branch,
                        dry_run=True,
                        renamed={t: "(next free number)" for t in colliding},
                    )
                renamed.update(_rename_collisions(repo, colliding, remote))
                continue
            _integrate_remote_branch(repo, url, branch)
            new_tags = sorted(set(local) - set(remote), key=_tag_sort_key)
            records = {r.tag: r for r in repo.records()}
            if dry_run:
                return PushResult(
                    pushed_tags=new_tags, branch=branch, dry_run=True, renamed=renamed
                )
            revs = sorted(
                {records[t].commit for t in new_tags if t in records}
                | {repo.git.head_commit() or ""} - {""}
            )
            objects = get_transfer().push(repo.root, revs=revs, jobs=jobs)
            fault_point("after_data_push")
            try:
                repo.git.push_atomic(
                    GIT_REMOTE_NAME,
                    [
                        f"refs/heads/{branch}:refs/heads/{branch}",
                        *[f"refs/tags/{t}:refs/tags/{t}" for t in new_tags],
                    ],
                )
            except PushRejectedError:
                continue  # someone published in between: look again
            repo.git.fetch(
                GIT_REMOTE_NAME, f"+refs/heads/{branch}:refs/remotes/{GIT_REMOTE_NAME}/{branch}"
            )
            return PushResult(
                pushed_tags=new_tags,
                renamed=renamed,
                objects_pushed=objects,
                branch=branch,
                up_to_date=not new_tags and objects == 0,
            )
        raise PushRejectedError(
            "the remote kept changing while pushing", url=url, hint="Run `cpv push` again."
        )


def _tag_sort_key(name: str) -> tuple[str, Version]:
    parsed = parse_tag_name(name)
    assert parsed is not None
    return parsed[0].value, parsed[1]


def _rename_collisions(
    repo: ModelRepo, colliding: Sequence[str], remote: dict[str, str]
) -> dict[str, str]:
    """Give our unpublished colliding versions the next numbers free both locally and remotely.

    Model and data tags of one version (made by ``tag all``) move together to keep pairs aligned.
    """
    taken: set[tuple[Kind, Version]] = set()
    for name in [*remote, *_local_tag_objects(repo)]:
        parsed = parse_tag_name(name)
        if parsed:
            taken.add(parsed)
    records = {r.tag: r for r in repo.records()}
    versions = sorted({parse_tag_name(t)[1] for t in colliding})  # type: ignore[index]
    renamed: dict[str, str] = {}
    for version in versions:
        group = [
            records[t]
            for t in (tag_name(k, version) for k in Kind)
            if t in records and (t in colliding or t not in remote)
        ]
        kinds = [r.kind for r in group]
        top = max(v for _, v in taken)
        new = top.bump("minor")
        while any((k, new) in taken for k in kinds):
            new = new.bump("minor")
        for record in group:
            new_record = record.renamed(new)
            repo.git.create_tag(new_record.tag, encode_tag_message(new_record), record.commit)
            repo.git.delete_tag(record.tag)
            taken.add((record.kind, new))
            renamed[record.tag] = new_record.tag
    # Now the remote's versions can be fetched without clobbering ours.
    repo.git.fetch(
        GIT_REMOTE_NAME, "refs/tags/model/*:refs/tags/model/*", "refs/tags/data/*:refs/tags/data/*"
    )
    return renamed


def _fetch_branch(repo: ModelRepo, url: str, branch: str, *refspecs: str) -> str | None:
    """Fetch the remote's ``branch`` into its tracking ref (plus ``refspecs``); its head sha,
    or None when the remote has no such branch yet."""
    remote_head = _git.ls_remote(url, f"refs/heads/{branch}").get(f"refs/heads/{branch}")
    if remote_head:
        repo.git.fetch(GIT_REMOTE_NAME, f"+refs/heads/{branch}:{_tracking(branch)}", *refspecs)
    return remote_head


def _tracking(branch: str) -> str:
    return f"refs/remotes/{GIT_REMOTE_NAME}/{branch}"


def _fast_forward(repo: ModelRepo, remote_head: str, branch: str) -> bool:
    head = repo.git.head_commit()
    if head and head != remote_head and repo.git.is_ancestor(head, remote_head):
        repo.git.run("merge", "-q", "--ff-only", _tracking(branch))
        return True
    return False


def _integrate_remote_branch(repo: ModelRepo, url: str, branch: str) -> None:
    """Bring in commits another writer pushed. Where both changed a version pointer ours wins
    (our version is about to get the newest number); any other conflict stops the push."""
    remote_head = _fetch_branch(repo, url, branch)
    head = repo.git.head_commit()
    if not remote_head or (head and repo.git.is_ancestor(remote_head, head)):
        return
    if _fast_forward(repo, remote_head, branch):
        return
    pointers = [repo.pointer_of(kind) for kind in Kind]
    repo.git.merge(
        _tracking(branch),
        f"cpv: merge {GIT_REMOTE_NAME}/{branch}",
        ours_wins=[*pointers, ".gitignore", METRICS_LOG],
    )


def resolve_clone_source(source: str) -> str:
    """``TEAM/MODEL`` -> the configured git remote; anything else is taken as a URL or path."""
    if (
        "://" not in source
        and ":" not in source
        and source.count("/") == 1
        and not Path(source).exists()
    ):
        team, model = parse_model_id(source)
        return load_user_config().git.remote_url(team, model)
    return source


def clone(
    source: str,
    dest: Path | None = None,
    *,
    version: str | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    jobs: int | None = None,
) -> tuple[Path, PullResult]:
    """Clone a model repository and materialize (and verify) ``kinds`` of a version's bytes."""
    if version is not None:
        parse_version_arg(version, within=kinds, action="clone")  # refuse before cloning
    url = resolve_clone_source(source)
    if is_local(url) and not Path(url.removeprefix("file://")).expanduser().exists():
        raise RemoteError(
            f"no repository at {url}",
            hint="Check the name (TEAM/MODEL) or URL; push it first from the machine that has it.",
        )
    name = url.rstrip("/").split("/")[-1].split(":")[-1].removesuffix(".git") or "model"
    target = (dest or Path.cwd() / name).expanduser().resolve()
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} already exists and is not empty", hint="Choose another PATH.")
    _git.clone(url, target)
    try:
        repo = ModelRepo.open(target)
        result = pull(target, version=version, kinds=kinds, jobs=jobs)
    except BaseException:
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        raise
    return repo.root, result


def pull(
    path: str | Path = ".",
    *,
    version: str | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    jobs: int | None = None,
    force: bool = False,
) -> PullResult:
    """Fetch git refs and bytes. No version: update the branch and its workspace. A version:
    put that version's bytes in the workspace (pointers untouched), hash-verified.

    ``version`` is read by :func:`~cpv.versions.parse_version_arg`: ``model/v0.3`` pulls the
    model's bytes alone, and is refused when ``kinds`` leaves the model out."""
    wanted = list(kinds)
    parsed: Version | None = None
    if version is not None:
        kind_arg, parsed = parse_version_arg(version, within=kinds, action="pull")
        wanted = [kind_arg] if kind_arg else wanted
    repo = ModelRepo.open(path)
    with repo.locked():
        updated = _fetch_refs(repo)
        if parsed is None:
            refuse_unsaved_work(repo, kinds, force=force)
            fetched = get_transfer().fetch(
                repo.root,
                revs=None,
                jobs=jobs,
                targets=[
                    repo.pointer_of(k) for k in kinds if (repo.root / repo.pointer_of(k)).exists()
                ]
                or None,
            )
            verified = checkout_head(repo, kinds)
            return PullResult(
                fetched_objects=fetched, verified_paths=verified, updated_branch=updated
            )
        records: list[VersionRecord] = []
        for kind in wanted:
            try:
                records.append(find_record(repo, kind, parsed))
            except LookupError:
                if len(wanted) == 1:
                    raise
        if not records:
            find_record(repo, wanted[0], parsed)
        refuse_unsaved_work(repo, [r.kind for r in records], force=force)
        fetched = materialize(repo, records, jobs=jobs)
        return PullResult(
            records=records,
            fetched_objects=fetched,
            verified_paths=[r.path for r in records],
            updated_branch=updated,
        )


def _fetch_refs(repo: ModelRepo) -> bool:
    """Fetch the remote's tags and fast-forward the branch when possible."""
    url = repo.git.remote_url(GIT_REMOTE_NAME)
    if not url:
        return False
    branch = repo.git.current_branch()
    remote_head = _fetch_branch(
        repo,
        url,
        branch,
        "refs/tags/model/*:refs/tags/model/*",
        "refs/tags/data/*:refs/tags/data/*",
    )
    return bool(remote_head) and _fast_forward(repo, str(remote_head), branch)
