"""``cpv remote set`` and ``cpv remote show``: move a model's storage to a new remote with
its whole history; say where its bytes and history live.

The objects of every version are copied from the local cache to the new remote in the
layout DVC reads (``files/md5/xx/rest``), then the remote listing is checked against the
object ids (and sizes) each version needs. Only then is ``.dvc/config`` switched and
committed, so a failed move leaves the model where it was; a re-run uploads only what
is missing.

The copy does not go through ``dvc push --rev``: DVC resolves each revision's remote from
*that revision's* ``.dvc/config``, which for old versions is still the old remote.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from cpv._dvc import repo as _dvc
from cpv.catalog.prefix_owner import carry_index, refuse_foreign, refuse_model_prefix
from cpv.core.repo import ModelRepo
from cpv.domain.errors import MissingDataError, StorageError, UsageError
from cpv.domain.progress import Progress
from cpv.domain.progress import current as current_progress
from cpv.domain.results import MoveResult, StorageState, VersionObjects
from cpv.objects.layout import cache_dir, object_path
from cpv.objects.storage_pin import pin_newest
from cpv.objects.store import ObjectStore, store_for
from cpv.objects.transfer import cached_listing, get_transfer, needed_objects, pointers_at
from cpv.settings.config import GIT_REMOTE_NAME, UserConfig, model_storage_url
from cpv.settings.config_env import load_user_config
from cpv.settings.credentials import applied_env
from cpv.settings.urls import is_s3, model_prefix_url, s3_location

#: ``fn(done, total, label)``: the step callback of :class:`cpv.domain.progress.Progress` alone.
StepFn = Callable[[int, int, str], None]


def _cache_path(root: Path, oid: str) -> Path:
    return object_path(cache_dir(root), oid)


def version_objects(root: Path, commit: str) -> list[str]:
    """Object ids a commit needs (:func:`cpv.objects.transfer.needed_objects`): the files of each
    ``.dir`` listing, then the listings, so a listing is uploaded after its files.

    Raises:
        MissingDataError: a directory listing is absent from the local cache.
    """
    pointers = pointers_at(root, commit, label=commit[:10])
    needed = needed_objects(pointers, cached_listing(cache_dir(root)))
    return [*needed.files, *needed.listings]


def move_storage(
    root: Path,
    *,
    new_url: str | None = None,
    dry_run: bool = False,
    all_versions: bool = True,
    progress: Progress | StepFn | None = None,
    cfg: UserConfig | None = None,
) -> MoveResult:
    """Point the model at ``new_url`` (default: the configured storage) with its history.

    Args:
        root: the model repository (or a directory inside it).
        new_url: the new storage: an ``s3://`` URL or a local path.
        dry_run: compute what would be copied; change nothing.
        all_versions: copy the objects of every tagged version (the default: old versions
            stay readable once the old storage is gone); False copies only the current commit's.
        progress: receives a step per version copied (default: the active
            :class:`~cpv.domain.progress.Progress`); a bare ``fn(done, total, label)`` is accepted too.
        cfg: the user configuration (default: loaded from ``$CPV_HOME``).

    Returns:
        The objects of each version, how many were uploaded, and the commit switching the remote.

    Raises:
        UsageError: not a model repository, no commits yet, or the new URL equals the current one.
        MissingDataError: a version's objects are in neither the local cache nor the old remote.
        StorageError: the new remote is unreachable, or objects are missing there after the push.
    """
    cfg = cfg or load_user_config()
    repo = ModelRepo.open(root)
    team, model = repo.config.team, repo.config.model
    given = new_url or model_storage_url(cfg.storage.root_url(), team, model)
    url = model_prefix_url(given, team=team, model=model)
    old_url = _dvc.remote_url(repo.root)
    if old_url == url:
        raise UsageError(f"the model already uses {url}", hint="`cpv push` uploads new versions.")
    if url != given.rstrip("/") and not _bucket_root(given):  # named another model's prefix?
        refuse_model_prefix(ObjectStore(cfg, given), team=team, model=model)
    with repo.locked():
        versions = _versions_to_move(repo, cfg, old_url, all_versions=all_versions)
        store = ObjectStore(cfg, url)
        result = _copy(
            repo.root,
            store,
            old_url,
            versions,
            owner=(team, model),
            dry_run=dry_run,
            step=_step(progress),
        )
        if not dry_run:
            old_store = store_for(repo.root, cfg) if old_url else None
            result.commit = _switch_remote(repo, cfg, url)
            pin_newest(repo.root)  # older versions' checkouts read the new storage too
            result.index_warning = carry_index(old_store, store, team=team, model=model)
        return result


def _bucket_root(url: str) -> bool:
    """``s3://bucket``: where models are laid out (an index there is an older cpv's, which
    put models at the root; moving them into place must stay possible)."""
    return is_s3(url) and not s3_location(url)[1]


def _step(progress: Progress | StepFn | None) -> StepFn:
    if progress is None:
        return current_progress().step
    if hasattr(progress, "step"):
        return cast(Progress, progress).step
    return cast(StepFn, progress)  # a bare step function, as older callers pass


def _versions_to_move(
    repo: ModelRepo, cfg: UserConfig, old_url: str | None, *, all_versions: bool
) -> list[VersionObjects]:
    """Every tagged version (or only HEAD), its objects made present in the local cache."""
    tags = repo.git.list_tags("model", "data") if all_versions else []
    head = repo.git.head_commit()
    if not tags and head is None:
        raise UsageError("the repository has no commits yet")
    refs = [(t.name, t.commit) for t in tags] or [("HEAD", head or "")]
    _ensure_local(repo.root, cfg, old_url, [c for _, c in refs])
    return [
        VersionObjects(tag=name, commit=commit, objects=version_objects(repo.root, commit))
        for name, commit in refs
    ]


def _copy(
    root: Path,
    store: ObjectStore,
    old_url: str | None,
    versions: list[VersionObjects],
    *,
    owner: tuple[str, str],
    dry_run: bool,
    step: StepFn,
) -> MoveResult:
    """Upload what the new store lacks, then check every object arrived (unless ``dry_run``).
    Refused when the new store's prefix holds another model than ``owner`` (team, model)."""
    url = store.url
    with applied_env(store.env()):
        present = store.sizes()
        needed = {oid for v in versions for oid in v.objects}
        refuse_foreign(store, team=owner[0], model=owner[1], present=present, needed=needed)
        for v in versions:
            v.missing_on_remote = [o for o in v.objects if o not in present]
        result = MoveResult(
            old_url=old_url,
            new_url=url,
            dry_run=dry_run,
            versions=versions,
            objects_total=len(needed),
            objects_to_upload=len(needed - set(present)),
        )
        if dry_run:
            return result
        _upload_all(root, store, versions, present, step=step)
        arrived = store.sizes()
    _verify(root, url, old_url, versions, arrived)
    result.verified = True
    return result


def _switch_remote(repo: ModelRepo, cfg: UserConfig, url: str) -> str:
    """Point ``.dvc/config`` at ``url`` and commit it; the file is restored if that fails."""
    from cpv.settings.providers import dvc_remote_options

    options = dvc_remote_options(cfg.storage) if is_s3(url) else {}
    dvc_config = repo.root / ".dvc" / "config"
    saved = dvc_config.read_bytes()
    try:
        _dvc.set_remote(repo.root, remote_url=url, remote_options=options)
        return repo.git.commit_paths([".dvc/config"], f"cpv: move storage to {url}")
    except BaseException:
        dvc_config.write_bytes(saved)
        raise


def _upload_all(
    root: Path,
    store: ObjectStore,
    versions: list[VersionObjects],
    present: dict[str, int],
    *,
    step: StepFn,
) -> None:
    done = set(present)
    for i, v in enumerate(versions):
        step(i, len(versions), v.tag)
        for oid in v.missing_on_remote:
            if oid not in done:
                store.upload(oid, _cache_path(root, oid))
                done.add(oid)
    step(len(versions), len(versions), "")


def _verify(
    root: Path,
    url: str,
    old_url: str | None,
    versions: list[VersionObjects],
    arrived: dict[str, int],
) -> None:
    """Every object of every version is at ``url`` with the size of the local copy."""
    for v in versions:
        v.missing_on_remote = [
            o for o in v.objects if arrived.get(o) != _cache_path(root, o).stat().st_size
        ]
    lost = [v for v in versions if v.missing_on_remote]
    if lost:
        raise StorageError(
            f"{sum(len(v.missing_on_remote) for v in lost)} objects of "
            f"{', '.join(v.tag for v in lost[:5])} did not arrive at {url}; "
            f"the model still uses {old_url}",
            hint="Run the command again; it uploads only what is missing.",
        )


def _locally_complete(root: Path, commits: list[str]) -> bool:
    try:
        return all(
            _cache_path(root, oid).is_file() for c in commits for oid in version_objects(root, c)
        )
    except MissingDataError:
        return False


def _ensure_local(root: Path, cfg: UserConfig, old_url: str | None, commits: list[str]) -> None:
    """Fetch from the old remote whatever the local cache lacks (e.g. in a fresh clone)."""
    if _locally_complete(root, commits):
        return
    if not old_url:
        raise MissingDataError(
            "objects are missing from the local cache and there is no old remote"
        )
    get_transfer(cfg).fetch(root, revs=commits, jobs=None)  # from the current (old) remote


def storage_state(root: Path) -> StorageState:
    """The model's current DVC remote and git remote, for ``cpv remote show``."""
    repo = ModelRepo.open(root)
    return StorageState(
        root=str(repo.root),
        storage=_dvc.remote_url(repo.root),
        git=repo.git.remote_url(GIT_REMOTE_NAME),
    )
