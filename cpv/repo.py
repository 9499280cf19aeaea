"""A model repository: creating one (``cpv init``) and opening one for the managers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cpv import _dvc, _git
from cpv.config import (
    GIT_REMOTE_NAME,
    RepoConfig,
    load_repo_config,
    load_user_config,
    model_storage_url,
    save_repo_config,
    validate_name,
)
from cpv.errors import NotARepositoryError, RemoteError, RepositoryExistsError
from cpv.git_remote import check as check_git_remote
from cpv.git_remote import is_local, local_path
from cpv.metadata import VersionRecord, decode_tag_message
from cpv.transaction import transaction
from cpv.versions import Kind

METRICS_LOG = "metrics.log"

_README = """# {team}/{model}

Versioned with [cpv](https://pypi.org/project/cpv/): weights live in `{model_path}/`,
data in `{data_path}/{{train,validation,test}}/`, both tracked by DVC; every version is an
annotated git tag (`model/vX.Y`, `data/vX.Y`) carrying its metrics.

```
cpv tag model -m "what changed" --metric loss=0.12   # new version of the weights
cpv tag all -m "new data + retrain"                  # weights and data, one version
cpv list                                             # every version
cpv push                                             # data first, then git
```

Without cpv: `git clone <this repo> && dvc pull` gets the bytes of the checked-out version.
"""


def _dvc_remote_options(storage_url: str) -> dict[str, str]:
    if not storage_url.startswith("s3://"):
        return {}
    from cpv.providers import dvc_remote_options

    return dvc_remote_options(load_user_config().storage)


class ModelRepo:
    """An opened model repository: its root, its ``cpv.yaml`` and its git adapter."""

    def __init__(self, root: Path, config: RepoConfig) -> None:
        self.foreign_tags: list[str] = []
        self.root = root
        self.config = config
        self.git = _git.GitRepo(root)

    @classmethod
    def open(cls, path: str | Path = ".") -> ModelRepo:
        start = Path(path).expanduser().resolve()
        if not start.exists():
            raise NotARepositoryError(f"no such directory: {start}")
        root = _git.find_root(start)
        if root is None or not (root / "cpv.yaml").exists():
            raise NotARepositoryError(f"not a cpv model repository: {start}")
        return cls(root, load_repo_config(root))

    @property
    def git_dir(self) -> Path:
        return self.root / ".git"

    def path_of(self, kind: Kind) -> str:
        return self.config.model_path if kind is Kind.MODEL else self.config.data_path

    def pointer_of(self, kind: Kind) -> str:
        return f"{self.path_of(kind)}.dvc"

    # --- versions ----------------------------------------------------------------
    def records(self, kind: Kind | None = None) -> list[VersionRecord]:
        """Every version (one git call), numerically by version, model before data."""
        prefixes = [kind.value] if kind else [Kind.MODEL.value, Kind.DATA.value]
        records = []
        foreign = []
        for ref in self.git.list_tags(*prefixes):
            record = decode_tag_message(ref.contents, commit=ref.commit)
            if record is not None and record.tag == ref.name:
                records.append(record)
            else:
                foreign.append(ref.name)
        records.sort(key=lambda r: (r.parsed_version, r.kind is not Kind.MODEL))
        #: tags under model/ and data/ that cpv did not make (no metadata): never touched,
        #: and their names are never given to a new version
        self.foreign_tags = foreign
        return records

    def latest(self, kind: Kind) -> VersionRecord | None:
        records = self.records(kind)
        return records[-1] if records else None

    # --- safety ------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[list[str]]:
        """Hold the repository lock; first repair what a dead writer left. Yields repairs made.

        The thin entry to :func:`cpv.transaction.transaction` for a change without an intent.
        """
        with transaction(self) as txn:
            yield txn.repairs


def init_repository(
    *,
    team: str,
    model: str,
    path: Path | None = None,
    storage: str | None = None,
    git_remote: str | None = None,
    template: str | None = None,
) -> Path:
    """Create a model repository (git + DVC + ``cpv.yaml`` + layout) with an initial commit.

    Storage layout is ``<storage>/<team>/<model>``; with no storage given and no user
    configuration, ``$CPV_HOME/storage``. The git remote defaults to the configured template
    or a bare repository at ``$CPV_HOME/git/<team>/<model>.git`` (created when missing).
    The repository appears at ``path`` only once complete.
    """
    validate_name(team, what="team")
    validate_name(model, what="model")
    dest = (path or Path.cwd() / model).expanduser().resolve()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise RepositoryExistsError(
            f"{dest} already exists and is not empty",
            hint="Choose another PATH, or remove the directory first.",
        )
    _check_template(template)
    user = load_user_config()
    storage_url = model_storage_url(storage or user.storage.root_url(), team, model)
    remote_url = git_remote or user.git.remote_url(team, model)

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.cpv-init-", dir=dest.parent))
    created_bare: Path | None = None
    try:
        cfg = RepoConfig(team=team, model=model)
        _build_layout(work, cfg)
        git = _git.GitRepo.init(work)
        git.identity()  # no user.name/email: say how to set one, before anything else
        _dvc.init(work, remote_url=storage_url, remote_options=_dvc_remote_options(storage_url))
        if template not in (None, "none"):
            from cpv.templating import render_template

            render_template(str(template), work, team=team, model=model)
        if "://" not in storage_url or storage_url.startswith("file://"):  # a local DVC remote
            local_path(storage_url).mkdir(parents=True, exist_ok=True)
        created_bare = _prepare_git_remote(remote_url)
        git.set_remote(GIT_REMOTE_NAME, remote_url)
        git.commit_all(f"cpv init {team}/{model}")
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if created_bare is not None:
            shutil.rmtree(created_bare, ignore_errors=True)
        raise
    return dest


def _check_template(template: str | None) -> None:
    if template in (None, "none"):
        return
    from cpv.templating import list_templates

    names = [t.name for t in list_templates()]
    if template not in names:
        from cpv.errors import UsageError

        raise UsageError(
            f"unknown template {template!r}",
            hint=f"Available: {', '.join(names) or 'none'} (see `cpv templates`).",
        )


def _prepare_git_remote(remote_url: str) -> Path | None:
    """Create a local bare remote when missing (returned, to be removed if init fails); a
    hosted one must exist already and be reachable."""
    if is_local(remote_url):
        bare = local_path(remote_url)
        if bare.exists():
            return None
        _git.init_bare(bare)
        return bare
    probe = check_git_remote(remote_url)
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
