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
from cpv.core.branch_sync import fetch_refs  # MOVED
from cpv.core.refs import is_reference_word, resolve_arg
from cpv.core.repo import ModelRepo
from cpv.core.workspace import checkout_head, keep_unsaved, materialize, refuse_unsaved_work
from cpv.domain.errors import (
    CpvError,
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
from cpv.settings.config import parse_model_id
from cpv.settings.config_env import load_user_config
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
        updated = fetch_refs(repo, store, move_branch=version is None)
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
