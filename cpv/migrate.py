"""Move a model's storage to a new remote with its whole history (``cpv remote set``).

The objects of every version are pushed to the new remote, then the remote listing is
checked against the object ids each version needs. Only when every object arrived is the
new ``.dvc/config`` committed; on any failure its previous bytes are restored, so a failed
move leaves the model where it was (and a re-run uploads only what is missing).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from cpv import _dvc, _git
from cpv.config import UserConfig, load_user_config, model_storage_url
from cpv.credentials import applied_env, boto_env, remote_runtime_config
from cpv.errors import MissingDataError, StorageError, UsageError

ProgressFn = Callable[[int, int, str], None]


class VersionObjects(BaseModel):
    tag: str
    commit: str
    objects: list[str]
    missing_on_remote: list[str] = []


class MoveResult(BaseModel):
    old_url: str | None
    new_url: str
    dry_run: bool
    versions: list[VersionObjects]
    objects_total: int
    objects_to_upload: int
    verified: bool = False
    commit: str | None = None


def _cache_path(root: Path, oid: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / oid[:2] / oid[2:]


def version_objects(root: Path, commit: str) -> list[str]:
    """Object ids a commit needs: every pointer's hash, plus the files of each ``.dir`` listing.

    Raises:
        MissingDataError: a directory listing is absent from the local cache.
    """
    git = _git.GitRepo(root)
    names = git.run("ls-tree", "-r", "--name-only", commit).splitlines()
    ids: list[str] = []
    for name in (n for n in names if n.endswith(".dvc")):
        text = git.show_file(commit, name)
        if not text:
            continue
        oid = _dvc.parse_pointer(text).hash
        if not oid:
            continue
        ids.append(oid)
        if oid.endswith(".dir"):
            listing = _cache_path(root, oid)
            if not listing.is_file():
                raise MissingDataError(
                    f"directory listing {oid} of {name} at {commit[:10]} is not in the local cache"
                )
            ids.extend(
                str(entry["md5"]) for entry in json.loads(listing.read_text(encoding="utf-8"))
            )
    return list(dict.fromkeys(ids))


def _remote_objects(cfg: UserConfig, url: str) -> set[str]:
    """Object ids present at ``url`` (``<url>/files/md5/xx/rest``)."""
    if url.startswith("s3://"):
        from cpv.providers import s3_location
        from cpv.storage_check import list_keys

        bucket, prefix = s3_location(url)
        base = f"{prefix}/files/md5/" if prefix else "files/md5/"
        keys = list_keys(cfg, bucket=bucket, prefix=base)
        return {k[len(base) :].replace("/", "", 1) for k in keys}
    base_path = Path(url).expanduser() / "files" / "md5"
    if not base_path.is_dir():
        return set()
    return {f"{d.name}{f.name}" for d in base_path.iterdir() if d.is_dir() for f in d.iterdir()}


def move_storage(
    root: Path,
    *,
    new_url: str | None = None,
    dry_run: bool = False,
    all_versions: bool = True,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
    cfg: UserConfig | None = None,
) -> MoveResult:
    """Point the model at ``new_url`` (default: the configured storage) and push every version there.

    Raises:
        UsageError: not a model repository, or the new URL equals the current one.
        MissingDataError: a version's objects are in neither the local cache nor the old remote.
        StorageError: the new remote is unreachable, or objects are missing there after the push.
    """
    from cpv.repo import ModelRepo

    cfg = cfg or load_user_config()
    repo = ModelRepo.open(root)
    root = repo.root
    url = new_url or model_storage_url(cfg.storage.root_url(), repo.config.team, repo.config.model)
    if not url.startswith("s3://"):
        url = str(Path(url).expanduser().resolve())
    old_url = _dvc.remote_url(root)
    if old_url == url:
        raise UsageError(f"the model already uses {url}", hint="`cpv push` uploads new versions.")

    with repo.locked():
        tags = repo.git.list_tags("model", "data") if all_versions else []
        head = repo.git.head_commit()
        if not tags and head is None:
            raise UsageError("the repository has no commits yet")
        refs = [(t.name, t.commit) for t in tags] or [("HEAD", head or "")]
        _ensure_local(root, cfg, old_url, [c for _, c in refs])
        versions = [
            VersionObjects(tag=name, commit=commit, objects=version_objects(root, commit))
            for name, commit in refs
        ]
        needed = {oid for v in versions for oid in v.objects}
        present = _remote_objects(cfg, url)
        for v in versions:
            v.missing_on_remote = [o for o in v.objects if o not in present]
        result = MoveResult(
            old_url=old_url,
            new_url=url,
            dry_run=dry_run,
            versions=versions,
            objects_total=len(needed),
            objects_to_upload=len(needed - present),
        )
        if dry_run:
            return result

        # Switch .dvc/config first (DVC cannot override a local remote with an s3 one in
        # memory); restore its exact bytes if anything below fails.
        dvc_config = root / ".dvc" / "config"
        saved = dvc_config.read_bytes()
        try:
            _dvc.set_remote(root, remote_url=url, remote_options=_remote_options(cfg, url))
            _push_all(root, cfg, url, versions, jobs=jobs, progress=progress)
            arrived = _remote_objects(cfg, url)
            for v in versions:
                v.missing_on_remote = [o for o in v.objects if o not in arrived]
            lost = [v for v in versions if v.missing_on_remote]
            if lost:
                raise StorageError(
                    f"{sum(len(v.missing_on_remote) for v in lost)} objects of "
                    f"{', '.join(v.tag for v in lost[:5])} did not arrive at {url}; "
                    f"the model still uses {old_url}",
                    hint="Run the command again; it uploads only what is missing.",
                )
            result.verified = True
            result.commit = repo.git.commit_paths([".dvc/config"], f"cpv: move storage to {url}")
        except BaseException:
            dvc_config.write_bytes(saved)
            raise
        return result


def _remote_options(cfg: UserConfig, url: str) -> dict[str, str]:
    from cpv.providers import dvc_remote_options

    return dvc_remote_options(cfg.storage) if url.startswith("s3://") else {}


def _push_all(
    root: Path,
    cfg: UserConfig,
    url: str,
    versions: list[VersionObjects],
    *,
    jobs: int | None,
    progress: ProgressFn | None,
) -> None:
    remote_config = remote_runtime_config(cfg, remote_url=url) or None
    with applied_env(boto_env(cfg) if url.startswith("s3://") else {}):
        for i, v in enumerate(versions):
            if progress:
                progress(i, len(versions), v.tag)
            if v.missing_on_remote:
                _dvc.push(root, revs=[v.commit], jobs=jobs, remote_config=remote_config)
    if progress:
        progress(len(versions), len(versions), "")


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
    remote_config = remote_runtime_config(cfg, remote_url=old_url) or None
    with applied_env(boto_env(cfg) if old_url.startswith("s3://") else {}):
        _dvc.fetch(root, revs=commits, jobs=None, remote_config=remote_config)


def storage_state(root: Path) -> dict[str, str | None]:
    """The model's current DVC remote and git remote, for ``cpv remote show``."""
    from cpv.repo import ModelRepo

    repo = ModelRepo.open(root)
    return {
        "root": str(repo.root),
        "storage": _dvc.remote_url(repo.root),
        "git": repo.git.remote_url("origin"),
    }
