"""``cpv init``: create a model repository — git, DVC, ``cpv.yaml``, the folder layout and
the git remote — complete or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from cpv._dvc import repo as _dvc
from cpv._git import repo as _git
from cpv.core.git_origin import check as check_git_remote
from cpv.core.repo import METRICS_LOG
from cpv.domain.errors import (
    BucketNotFoundError,
    ProfileNotFoundError,
    RemoteError,
    RepositoryExistsError,
    StorageCredentialsError,
    StorageError,
    StorageNotCheckedError,
    StorageUnreachableError,
)
from cpv.domain.paths import StrPath, as_path
from cpv.settings.config import (
    GIT_REMOTE_NAME,
    BestMetric,
    RepoConfig,
    StorageSettings,
    UserConfig,
    ensure_cpv_home,
    model_storage_url,
    save_repo_config,
    umask,
    validate_name,
)
from cpv.settings.config_env import load_user_config
from cpv.settings.urls import git_kind, is_s3, local_path, s3_location, storage_kind

_README = """# {team}/{model}

Versioned with cpv (`cpv --help`; its docs are under `docs/` in cpv's source, or `mkdocs serve`
there): weights live in `{model_path}/`,
data in `{data_path}/{{train,validation,test}}/`, both tracked by DVC; every version is an
annotated git tag (`model/vX.Y`, `data/vX.Y`) carrying its metrics.

```
cpv tag -m "what changed" --metric loss=0.12         # new version of the weights
cpv tag --kind all -m "new data + retrain"           # weights and data, one version
cpv list                                             # every version
cpv push                                             # data first, then git
```

Without cpv: `git clone <this repo> && dvc pull` gets the bytes of the checked-out version.
"""


def _dvc_remote_options(storage_url: str) -> dict[str, str]:
    if not is_s3(storage_url):
        return {}
    from cpv.settings.providers import dvc_remote_options

    return dvc_remote_options(load_user_config().storage)


def init_repository(
    *,
    team: str,
    model: str,
    path: StrPath | None = None,
    storage: str | None = None,
    git_remote: str | None = None,
    template: str | None = None,
    verify: bool = True,
) -> Path:
    """Create a model repository (git + DVC + ``cpv.yaml`` + layout) with an initial commit.

    Storage layout is ``<storage>/<team>/<model>``; with no storage given and no user
    configuration, ``$CPV_HOME/storage``. The git remote defaults to the configured template
    or a bare repository at ``$CPV_HOME/git/<team>/<model>.git`` (created when missing).
    The repository appears at ``path`` only once complete. With ``verify``, the bucket of
    an ``s3://`` ``storage`` given here is checked first (:func:`check_bucket`); the
    configured one is not (``cpv configure`` checked it).
    """
    validate_name(team, what="team")
    validate_name(model, what="model")
    dest = _check_destination((Path.cwd() / model if path is None else as_path(path)).resolve())
    _check_template(template)
    user = load_user_config()
    storage_url = model_storage_url(storage or user.storage.root_url(), team, model)
    remote_url = git_remote or user.git.remote_url(team, model)
    if verify and storage and is_s3(storage_url):
        check_bucket(storage_url, user)

    dest.parent.mkdir(parents=True, exist_ok=True)
    ensure_cpv_home()  # the local default lives there, beside the credentials: 0700
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.cpv-init-", dir=dest.parent))
    created_bare: Path | None = None
    try:
        cfg = RepoConfig(team=team, model=model)
        _build_layout(work, cfg)
        git = _git.GitRepo.init(work)
        git.identity()  # no user.name/email: say how to set one, before anything else
        _dvc.init(work, remote_url=storage_url, remote_options=_dvc_remote_options(storage_url))
        if template not in (None, "none"):
            _render_template(work, cfg, str(template))
        if storage_kind(storage_url).local:  # a local DVC remote
            local_path(storage_url).mkdir(parents=True, exist_ok=True)
        created_bare = _prepare_git_remote(remote_url)
        git.set_remote(GIT_REMOTE_NAME, remote_url)
        git.commit_all(f"cpv init {team}/{model}")
        if dest.exists():
            dest.rmdir()
        os.chmod(work, 0o777 & ~umask())  # mkdtemp made it private; a model folder is not
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if created_bare is not None:
            shutil.rmtree(created_bare, ignore_errors=True)
        raise
    return dest


_NO_VERIFY = "--no-verify (verify=False) creates the model without checking."


def check_bucket(storage_url: str, user: UserConfig) -> None:
    """HEAD the bucket of ``storage_url`` with the configured endpoint and credentials.

    Raises:
        StorageNotCheckedError: no answer (unreachable, no credentials, unknown profile).
        StorageError: the answer is no (no such bucket, access denied, keys rejected).
    """
    from cpv._s3 import client as _s3
    from cpv.settings.credentials import resolve_credentials

    bucket = s3_location(storage_url)[0]
    storage = user.storage.model_copy(update={"bucket": bucket})
    try:
        _s3.check_bucket(storage, resolve_credentials(user))
    except BucketNotFoundError as exc:
        hint = "Create the bucket in your provider's console, or fix --storage; " + _NO_VERIFY
        raise BucketNotFoundError(exc.message, **_where(exc), hint=hint) from None
    except StorageCredentialsError as exc:
        if exc.code:  # the storage answered: it rejected these keys
            raise
        raise _not_checked(bucket, storage, exc) from None
    except (StorageUnreachableError, ProfileNotFoundError) as exc:
        raise _not_checked(bucket, storage, exc) from None
    except StorageError as exc:
        raise type(exc)(exc.message, **_where(exc), hint=f"{exc.hint} Or: {_NO_VERIFY}") from None


def _not_checked(bucket: str, storage: StorageSettings, exc: StorageError) -> StorageError:
    from cpv._s3.client import describe_endpoint

    endpoint = describe_endpoint(storage)
    return StorageNotCheckedError(
        f"could not check bucket {bucket!r} at {endpoint} ({exc.message}); nothing was created",
        bucket=bucket,
        endpoint=endpoint,
        reason=exc.message,
    )


def _where(exc: StorageError) -> dict[str, str | None]:
    return {"bucket": exc.bucket, "endpoint": exc.endpoint}


def _check_destination(dest: Path) -> Path:
    """An empty or new folder, outside any git repository (a model is a repository)."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RepositoryExistsError(
            f"{dest} already exists and is not empty",
            hint="Choose another PATH, or remove the directory first.",
        )
    outer = _git.find_root(dest.parent) if dest.parent.exists() else None
    if outer is not None:
        raise RepositoryExistsError(
            f"{dest} would be inside the git repository {outer}",
            hint="Create the model outside any repository: `cpv init TEAM/MODEL PATH`.",
            path=outer,
        )
    return dest


def _check_template(template: str | None) -> None:
    if template in (None, "none"):
        return
    from cpv.core.templating import list_templates

    names = [t.name for t in list_templates()]
    if template not in names:
        from cpv.domain.errors import UsageError

        raise UsageError(
            f"unknown template {template!r}",
            hint=f"Available: {', '.join(names) or 'none'} (see `cpv templates`).",
        )


def _prepare_git_remote(remote_url: str) -> Path | None:
    """Create a local bare remote when missing (returned, to be removed if init fails); a
    hosted one must exist already and be reachable."""
    if git_kind(remote_url).local:
        bare = local_path(remote_url)
        if bare.exists():  # an earlier `cpv init` (or a push) made it: the model exists
            raise RepositoryExistsError(
                f"a model already exists at {remote_url}",
                hint="Work on it with `cpv clone TEAM/MODEL`; if its only repository was "
                f"deleted before any push, remove {bare} first.",
                path=bare,
            )
        _git.init_bare(bare)
        return bare
    probe = check_git_remote(remote_url)
    if probe.exists:
        _refuse_existing_model(remote_url)
    if not probe.exists:
        hint = (
            "Create it (empty, no README) on your Git host, then run `cpv init` again."
            if probe.reachable
            else "Check the URL, your SSH key and network with `cpv doctor`."
        )
        message = probe.message
        if remote_url not in message:
            message = f"git remote {remote_url}: {message}"
        raise RemoteError(message, hint=hint)
    return None


def _refuse_existing_model(remote_url: str) -> None:
    """A remote with commits already holds a model: a second, unrelated history wired to
    it could never be pushed (git refuses to merge unrelated histories)."""
    if _git.ls_remote(remote_url, "refs/heads/*"):
        raise RepositoryExistsError(
            f"a model already exists at {remote_url}",
            hint="Work on it with `cpv clone TEAM/MODEL` (or `cpv clone URL`).",
        )


def _render_template(work: Path, cfg: RepoConfig, template: str) -> None:
    """The scaffold's files, and the metric its versions are ranked by (``best:``)."""
    from cpv.core.templating import get_template, render_template

    render_template(template, work, team=cfg.team, model=cfg.model)
    best = get_template(template).best
    if best:
        save_repo_config(work, cfg.model_copy(update={"best": BestMetric.model_validate(best)}))


def _build_layout(root: Path, cfg: RepoConfig) -> None:
    save_repo_config(root, cfg)
    (root / cfg.model_path).mkdir(parents=True)
    for split in cfg.data_splits:
        (root / cfg.data_path / split).mkdir(parents=True)
    (root / "README.md").write_text(
        _README.format(
            team=cfg.team, model=cfg.model, model_path=cfg.model_path, data_path=cfg.data_path
        )
    )
    (root / ".gitignore").write_text(
        "# tracked by DVC, never by git\n"
        f"/{cfg.model_path}\n/{cfg.data_path}\n"
        "__pycache__/\n*.pyc\n.venv/\n"
    )
    # metrics.log is append-only JSON lines: concurrent writers merge by union.
    (root / ".gitattributes").write_text(f"{METRICS_LOG} merge=union\n")
    (root / METRICS_LOG).write_text("")
