"""All configuration, read and validated in one place.

* User configuration: ``$CPV_HOME/config.yaml`` (``CPV_HOME`` defaults to ``~/.cpv``),
  written by ``cpv configure``. With no file, cpv uses the embedded local default:
  a DVC remote under ``$CPV_HOME/storage`` and bare Git remotes under ``$CPV_HOME/git``.
* Repository configuration: ``cpv.yaml`` at the root of each model repository.

Nothing is read at import time; every loader raises :class:`ConfigError` naming the file.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cpv.domain.errors import ConfigError, InvalidNameError, UsageError
from cpv.domain.paths import cpv_home
from cpv.settings.promotion import PromotionRule, validate_rules
from cpv.settings.training_state import TrainingStateRule
from cpv.settings.urls import s3_url

REPO_CONFIG_FILE = "cpv.yaml"
USER_CONFIG_FILE = "config.yaml"
DVC_REMOTE_NAME = "storage"
GIT_REMOTE_NAME = "origin"

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")  # always fullmatch
_PLACEHOLDER_RE = re.compile(r"{([^{}]*)}")

ProviderName = Literal["local", "aws", "r2", "b2", "wasabi", "digitalocean", "minio", "custom"]


def validate_name(value: str, *, what: str) -> str:
    """Team and model names: lowercase letters, digits, ``-``, ``_``, ``.``; no spaces."""
    if (
        not isinstance(value, str)
        or not _NAME_RE.fullmatch(value)
        or ".." in value
        or value.endswith((".", ".lock", ".git"))
    ):
        raise InvalidNameError(
            f"invalid {what} name {value!r}",
            hint=f"A {what} name uses lowercase letters, digits, '-', '_' and '.', "
            "starts with a letter or digit, e.g. acme/whisper-small.",
        )
    return value


def parse_model_id(text: str) -> tuple[str, str]:
    """``TEAM/MODEL`` -> (team, model), both validated."""
    team, sep, model = text.partition("/")
    if not sep or "/" in model:
        raise InvalidNameError(
            f"invalid model id {text!r}",
            hint="Name the model as TEAM/MODEL, e.g. acme/whisper-small.",
        )
    return validate_name(team, what="team"), validate_name(model, what="model")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StorageSettings(_Strict):
    """Where model bytes live: the DVC remote root, ``<url>/<team>/<model>``."""

    provider: ProviderName = "local"
    bucket: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    account_id: str | None = None
    profile: str | None = None
    #: R2 and B2 reject the CRC checksums recent boto3 sends by default.
    checksum_when_required: bool = False
    #: An explicit storage root (a local path or ``s3://bucket[/prefix]``); wins over bucket.
    url: str | None = None

    def root_url(self) -> str:
        if self.url:
            return self.url
        if self.bucket:
            return s3_url(self.bucket)
        return str(cpv_home() / "storage")


class GitSettings(_Strict):
    """Where each model's Git repository is published."""

    #: e.g. ``git@bitbucket.org:acme/{team}-{model}.git`` or a local path template.
    remote_template: str | None = None
    ssh_key: str | None = None

    def remote_url(self, team: str, model: str) -> str:
        if self.remote_template:
            try:
                return self.remote_template.format(team=team, model=model)
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"bad git remote template {self.remote_template!r}: {exc}",
                    path=cpv_home() / USER_CONFIG_FILE,
                    hint="Use only the placeholders {team} and {model}.",
                ) from exc
        return str(cpv_home() / "git" / team / f"{model}.git")


def validate_remote_template(template: str) -> str:
    """A template uses only ``{team}`` and ``{model}`` and names one repo per model."""
    names = set(_PLACEHOLDER_RE.findall(template))
    unknown = names - {"team", "model"}
    if unknown:
        raise UsageError(
            f"bad git remote template {template!r}: unknown placeholder {{{sorted(unknown)[0]}}}",
            hint="Use only {team} and {model}, e.g. git@bitbucket.org:acme/{team}-{model}.git.",
        )
    if "model" not in names:
        raise UsageError(
            f"bad git remote template {template!r}: it has no {{model}} placeholder",
            hint="Each model needs its own repository, e.g. git@github.com:acme/{team}-{model}.git.",
        )
    if urlparse(template).password:
        raise UsageError(
            "the git remote template contains a password or token",
            hint="Use SSH (--ssh-key) or a git credential helper; never put secrets in the template.",
        )
    try:
        template.format(team="t", model="m")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"bad git remote template {template!r}: {exc}") from exc
    return template


class UserConfig(_Strict):
    storage: StorageSettings = Field(default_factory=StorageSettings)
    git: GitSettings = Field(default_factory=GitSettings)


class BestMetric(_Strict):
    """``best:`` in ``cpv.yaml``: which version ``best`` names."""

    metric: str
    mode: Literal["min", "max"] = "min"


class Retention(_Strict):
    """``retention:`` in ``cpv.yaml``: what ``cpv gc`` (and ``versioning(keep_last=…)``)
    keeps by default, on top of what is always kept (aliases, best, latest, branch tips)."""

    keep_last: int | None = Field(default=None, ge=1)
    keep_days: int | None = Field(default=None, ge=0)
    #: optimizer/scheduler/RNG files kept only in the latest N versions (planned by gc)
    training_state: TrainingStateRule | None = None


class ModelStorage(_Strict):
    """``cpv.yaml`` ``storage:``: how a version's checkpoint files are stored. ``compact``
    stores each tensor once across versions (``cpv pull`` rebuilds the files; plain ``dvc
    pull`` gets recipes and segments), ``compress: zstd`` compresses them losslessly
    (docs/storage.md, "Compact mode")."""

    layout: Literal["files", "compact"] = "files"
    compress: Literal["none", "zstd"] = "none"
    level: int = Field(default=1, ge=1, le=19)

    def model_post_init(self, __context: Any) -> None:
        if self.compress != "none" and self.layout != "compact":
            raise ValueError("storage: compress needs layout: compact")


class RepoConfig(_Strict):
    """``cpv.yaml``: what this repository versions."""

    team: str
    model: str
    model_path: str = "checkpoints"
    data_path: str = "data"
    data_splits: list[str] = Field(default_factory=lambda: ["train", "validation", "test"])
    #: Files committed with every version (those that exist): what produced it.
    params_files: list[str] = Field(default_factory=lambda: ["params.yaml"])
    #: The metric ``best`` ranks versions by.
    best: BestMetric | None = None
    retention: Retention | None = None
    #: Per alias: what a version must show before ``cpv promote`` points the alias at it.
    promotion: dict[str, PromotionRule] | None = None
    storage: ModelStorage = Field(default_factory=ModelStorage)

    def model_post_init(self, __context: Any) -> None:
        validate_name(self.team, what="team")
        validate_name(self.model, what="model")
        validate_rules(self.promotion or {}, has_best=self.best is not None)
        for p in (self.model_path, self.data_path):
            check_repo_path(p)
        self.params_files = [
            check_params_file(p, folders=(self.model_path, self.data_path))
            for p in self.params_files
        ]
        if (
            self.model_path == self.data_path
            or self.data_path.startswith(f"{self.model_path}/")
            or self.model_path.startswith(f"{self.data_path}/")
        ):
            raise ValueError("model_path and data_path must be separate folders")


def check_repo_path(path: str) -> None:
    """A configured path must name a folder strictly inside the repository, after
    normalisation: ``checkpoints/../../victim`` and ``./`` are refused."""
    parts = path.replace("\\", "/").split("/")
    normal = posixpath.normpath(path) if path else ""
    if (
        not path
        or "\\" in path
        or path.startswith("/")
        or normal in (".", "")
        or normal.startswith("..")
        or ".." in parts
        or normal.split("/")[0] in (".git", ".dvc")
        or normal != path.rstrip("/")
    ):
        raise ValueError(
            f"path {path!r} must name a folder inside the repository (e.g. checkpoints)"
        )


def check_params_file(path: str, *, folders: tuple[str, ...] = ()) -> str:
    """A params file, normalised (``./params.yaml`` -> ``params.yaml``): a file inside the
    repository, outside git's and DVC's own folders and the versioned ``folders``."""
    normal = posixpath.normpath(path) if path else ""
    if (
        not path
        or "\\" in path
        or path.startswith("/")
        or normal in (".", "")
        or normal == ".."
        or normal.startswith("../")
        or normal.split("/")[0] in (".git", ".dvc")
        or path.endswith("/")
    ):
        raise ValueError(f"params file {path!r} must name a file inside the repository")
    if any(c in path for c in "*?[") or path.startswith(":"):
        raise ValueError(f"params file {path!r}: list each file by name, not a pattern")
    for folder in folders:
        if normal == folder or normal.startswith(f"{folder}/"):
            raise ValueError(f"params file {path!r} is inside {folder}/, which DVC versions")
    return normal


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(
            f"not valid YAML{where}: {getattr(exc, 'problem', exc)}",
            path=path,
            hint="Fix the YAML syntax in that file.",
        ) from exc


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def atomic_write(path: Path, text: str, *, mode: int | None = None) -> None:
    """Write via a temp file in the same directory and rename; ``mode`` is set before any byte
    (default: an ordinary file's, 0666 less the umask, not mkstemp's private 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode if mode is not None else 0o666 & ~umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def ensure_cpv_home() -> Path:
    """``$CPV_HOME``, created private (0700) when missing: it holds credentials."""
    home = cpv_home()
    if not home.exists():
        home.mkdir(parents=True, mode=0o700)
        os.chmod(home, 0o700)  # mkdir's mode is masked by the umask
    return home


def user_config_path() -> Path:
    return cpv_home() / USER_CONFIG_FILE


def load_user_config_file() -> UserConfig:
    """What ``$CPV_HOME/config.yaml`` says (the local default when it is absent), nothing else."""
    path = user_config_path()
    if not path.exists():
        return UserConfig()
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path)
    try:
        return UserConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            _validation_message(exc), path=path, hint="Fix the file or re-run `cpv configure`."
        ) from exc


def save_user_config(cfg: UserConfig) -> Path:
    path = user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = cfg.model_dump(mode="json", exclude_none=True)
    atomic_write(path, yaml.safe_dump(data, sort_keys=False), mode=0o600)
    return path


def load_repo_config(root: Path) -> RepoConfig:
    path = root / REPO_CONFIG_FILE
    if not path.exists():
        raise ConfigError(f"{REPO_CONFIG_FILE} not found", path=path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with team and model", path=path)
    try:
        return RepoConfig.model_validate(data)
    except (ValidationError, InvalidNameError, ValueError) as exc:
        msg = _validation_message(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            msg,
            path=path,
            hint=f"Fix {REPO_CONFIG_FILE} (team, model, model_path, data_path, params_files, "
            "best, retention, promotion).",
        ) from exc


def save_repo_config(root: Path, cfg: RepoConfig) -> Path:
    path = root / REPO_CONFIG_FILE
    header = "# cpv repository settings (see docs/repository-layout.md)\n"
    atomic_write(
        path,
        header + yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True), sort_keys=False),
    )
    return path


def model_storage_url(storage_root: str, team: str, model: str) -> str:
    """Layout: ``<storage>/<team>/<model>``."""
    return f"{storage_root.rstrip('/')}/{team}/{model}"


def lock_timeout() -> float:
    from cpv.settings.env import env_seconds

    return env_seconds("CPV_LOCK_TIMEOUT")
