"""``cpv pull`` and ``cpv clone``: fetch git refs, then a version's bytes, hash-verified.

Also the branch helpers ``cpv push`` shares: fetching the remote's branch and
fast-forwarding to it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from cpv._dvc import repo as _dvc
from cpv._git import repo as _git
from cpv.core import refs
from cpv.core.fence import settle
from cpv.core.refs import is_reference_word, resolve_arg
from cpv.core.remote_view import GC_REF
from cpv.core.repo import ModelRepo
from cpv.core.workspace import checkout_head, keep_unsaved, materialize, refuse_unsaved_work
from cpv.domain.errors import (
    CpvError,
    DeletionInProgressError,
    MissingDataError,
    RemoteError,
    StorageError,
    StorageNotConfiguredError,
    UsageError,
)
from cpv.domain.metadata import VersionRecord
from cpv.domain.paths import StrPath, as_path
from cpv.domain.results import PullResult
from cpv.domain.versions import Kind, Version, parse_version_arg
from cpv.objects.storage_pin import pin_newest
from cpv.objects.store import ObjectStore
from cpv.objects.transfer import get_transfer, store_for
from cpv.settings.config import GIT_REMOTE_NAME, load_user_config, parse_model_id
from cpv.settings.urls import UrlKind, git_kind, is_s3, local_path, s3_location


def resolve_clone_source(source: str) -> str:
    """``TEAM/MODEL`` -> the configured git remote; anything else is taken as a URL or path."""
    if (
        git_kind(source) is UrlKind.PATH
        and ":" not in source
        and source.count("/") == 1
        and not Path(source).exists()
    ):
        team, model = parse_model_id(source)
        return load_user_config().git.remote_url(team, model)
    return source


def clone(
    source: StrPath,
    dest: StrPath | None = None,
    *,
    version: str | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    jobs: int | None = None,
) -> tuple[Path, PullResult]:
    """Clone a model repository and materialize (and verify) ``kinds`` of a version's bytes."""
    if version is not None and not is_reference_word(version):
        parse_version_arg(version, within=kinds, action="clone")  # refuse before cloning
    url = resolve_clone_source(os.fspath(source))
    if git_kind(url).local and not local_path(url).exists():
        raise RemoteError(
            f"no repository at {url}",
            hint="Check the name (TEAM/MODEL) or URL; push it first from the machine that has it.",
        )
    name = url.rstrip("/").split("/")[-1].split(":")[-1].removesuffix(".git") or "model"
    target = (Path.cwd() / name if dest is None else as_path(dest)).resolve()
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} already exists and is not empty", hint="Choose another PATH.")
    if not _git.ls_remote(url, "refs/heads/*"):
        raise RemoteError(
            f"{url} has no commits yet: there is no model to clone",
            hint="Push it from the machine that made it (`cpv push`), or start one with "
            "`cpv init TEAM/MODEL`.",
            url=url,
        )
    _git.clone(url, target)
    try:
        repo = ModelRepo.open(target)
        try:
            result = pull(target, version=version, kinds=kinds, jobs=jobs)
        except (StorageError, MissingDataError) as exc:
            unconfigured = _storage_not_configured(repo, exc)
            if unconfigured is None:
                raise
            raise unconfigured from exc
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return repo.root, result


def _storage_not_configured(repo: ModelRepo, exc: Exception) -> StorageError | None:
    """The error for a clone whose bytes are on S3 when this machine has no storage
    configured (``cpv configure`` never run): None when storage is configured here."""
    if load_user_config().storage.provider != "local":
        return None
    data_url = _dvc.remote_url(repo.root)
    if not data_url or not is_s3(data_url):
        return None
    bucket = s3_location(data_url)[0]
    model = f"{repo.config.team}/{repo.config.model}"
    return StorageNotConfiguredError(
        f"cannot fetch the data of {model} from {data_url} ({exc}): "
        "no storage is configured on this machine",
        hint=f"Run `cpv configure` for this storage: its bucket ({bucket}), its provider or "
        "endpoint (--provider / --endpoint-url) and credentials (--access-key-id and "
        "--secret-access-key, or --profile); then clone again.",
        bucket=bucket,
        url=data_url,
    )


def pull(
    path: StrPath = ".",
    *,
    version: str | None = None,
    kinds: Sequence[Kind] = (Kind.MODEL, Kind.DATA),
    jobs: int | None = None,
    force: bool = False,
) -> PullResult:
    """Fetch git refs and bytes. No version: update the branch and its workspace. A version:
    put that version's bytes in the workspace (pointers untouched), hash-verified.

    ``version`` is any reference (:func:`cpv.core.refs.resolve_arg`: ``v0.3``, ``latest``,
    ``best``, an alias): ``model/v0.3`` pulls the model's bytes alone, and is refused when
    ``kinds`` leaves the model out."""
    wanted = list(kinds)
    parsed: Version | None = None
    if version is not None and not is_reference_word(version):
        parse_version_arg(version, within=kinds, action="pull")  # refuse before fetching
    repo = ModelRepo.open(path)
    with repo.locked():
        store = _warm_store(repo)  # its S3 client is made while git fetches
        # A version is put in the workspace with the branch left as it is (docs/cli.md).
        updated = _fetch_refs(repo, store, move_branch=version is None)
        store = _newest_store(repo, store)  # the model may have moved: read where it is now
        if version is not None:  # after the fetch: an alias may have moved
            kind_arg, parsed = resolve_arg(repo, version, within=kinds, action="pull")
            wanted = [kind_arg] if kind_arg else wanted
        if parsed is None:
            result = _pull_head(repo, kinds, jobs=jobs, force=force, store=store)
            result.updated_branch = updated
            return result
        records: list[VersionRecord] = []
        for kind in wanted:
            try:
                records.append(repo.find(kind, parsed))
            except LookupError:
                if len(wanted) == 1:
                    raise
        if not records:
            repo.find(wanted[0], parsed)
        dirty = refuse_unsaved_work(repo, [r.kind for r in records], force=force)
        fetched, backups = materialize(repo, records, jobs=jobs, store=store, keep=bool(dirty))
        return PullResult(
            records=records,
            fetched_objects=fetched,
            verified_paths=[r.path for r in records],
            updated_branch=updated,
            backups=list(backups),
            restore=list(backups.values()),
        )


def _pull_head(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    *,
    jobs: int | None,
    force: bool,
    store: ObjectStore | None,
) -> PullResult:
    """The bytes of HEAD's pointers into the workspace, verified; with ``force``, the unsaved
    work they overwrite kept first (once every object is here)."""
    dirty = refuse_unsaved_work(repo, kinds, force=force)
    fetched = get_transfer().fetch(
        repo.root,
        revs=None,
        jobs=jobs,
        targets=[repo.pointer_of(k) for k in kinds if (repo.root / repo.pointer_of(k)).exists()]
        or None,
        store=store,
    )
    backups = keep_unsaved(repo, kinds, before="pull") if dirty else {}
    verified = checkout_head(repo, kinds)
    return PullResult(
        fetched_objects=fetched,
        verified_paths=verified,
        backups=list(backups),
        restore=list(backups.values()),
    )


def _warm_store(repo: ModelRepo) -> ObjectStore | None:
    """The model's storage, its client being made in a thread; None when it has none (the
    fetch, if it needs one, says so)."""
    try:
        store = store_for(repo.root)
    except CpvError:
        return None
    store.warm_up()
    return store


def _newest_store(repo: ModelRepo, warm: ObjectStore | None) -> ObjectStore | None:
    """The storage the newest commit names (:func:`cpv.objects.storage_pin.pin_newest`): ``warm``
    when it is still that one, else a new store for the URL the model moved to."""
    if pin_newest(repo.root) is None:
        return warm
    newest = _warm_store(repo)
    if warm is not None and newest is not None and newest.url == warm.url:
        return warm
    return newest


def _fetch_refs(
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
