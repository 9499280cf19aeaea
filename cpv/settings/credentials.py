"""Storage credentials: where they are kept, which ones win, and how they reach boto3.

Secrets live in one file, ``$CPV_HOME/credentials`` (mode 0600 in a 0700 directory,
written through a temporary file and a rename), or in a named profile of the AWS shared
credentials file. ``config.yaml`` never holds a secret.

Precedence, first match wins: command-line flag > environment (``CPV_ACCESS_KEY_ID`` /
``CPV_SECRET_ACCESS_KEY``, then ``AWS_*``) > cpv's stored credentials > AWS profile
(``storage.profile``, ``CPV_PROFILE``) > boto3's default chain.

cpv's S3 client gets them in memory at run time (:func:`resolve_credentials`), never through
``.dvc/config``, the environment of a child process or its command line.
"""

from __future__ import annotations

import configparser
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr

from cpv.domain.errors import ConfigError, UsageError
from cpv.domain.paths import cpv_home
from cpv.settings.config import UserConfig, atomic_write

CREDENTIALS_FILE = "credentials"
SECTION = "default"

Source = Literal["flag", "env", "cpv", "profile", "default"]

#: Non-secret environment for boto3/botocore when a provider rejects default CRC checksums.
CHECKSUM_ENV = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
}


def mask(secret: str | None) -> str:
    """Only the last 4 characters of a secret (nothing of a short one)."""
    if not secret:
        return ""
    return "****" + secret[-4:] if len(secret) >= 12 else "****"


class ResolvedCredentials(BaseModel):
    """The credentials in use and where they came from (secrets as ``SecretStr``)."""

    source: Source
    #: Where exactly: a file path, the environment variable names or the profile name.
    detail: str
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    session_token: SecretStr | None = None
    profile: str | None = None

    def describe(self) -> str:
        """One line for people and logs, secrets masked."""
        if self.access_key_id:
            return f"{self.source}: {self.detail} (key {mask(self.access_key_id)})"
        return f"{self.source}: {self.detail}"

    def boto_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.session.Session``."""
        if self.access_key_id and self.secret_access_key:
            kw = {
                "aws_access_key_id": self.access_key_id,
                "aws_secret_access_key": self.secret_access_key.get_secret_value(),
            }
            if self.session_token:
                kw["aws_session_token"] = self.session_token.get_secret_value()
            return kw
        if self.profile:
            return {"profile_name": self.profile}
        return {}


class StoredCredentials(BaseModel):
    access_key_id: str
    secret_access_key: SecretStr


def credentials_path() -> Path:
    return cpv_home() / CREDENTIALS_FILE


def aws_credentials_path() -> Path:
    env = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
    return Path(env).expanduser() if env else Path.home() / ".aws" / "credentials"


def _read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=path) from exc
    except configparser.Error as exc:
        # The parser's message may quote a line of the file, i.e. a secret: never repeat it.
        raise ConfigError(
            "not a valid credentials file", path=path, hint="Re-run `cpv configure` to rewrite it."
        ) from exc
    return parser


def _secure_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, in a 0700 directory, via temp file + rename."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)  # mkdir's mode is masked by the umask
    atomic_write(path, text, mode=0o600)


def load_stored() -> StoredCredentials | None:
    """cpv's own stored keys, or None when there are none."""
    path = credentials_path()
    if not path.exists():
        return None
    parser = _read_ini(path)
    if not parser.has_section(SECTION):
        return None
    key = parser.get(SECTION, "aws_access_key_id", fallback="").strip()
    secret = parser.get(SECTION, "aws_secret_access_key", fallback="").strip()
    if not key or not secret:
        raise ConfigError(
            "credentials file lacks aws_access_key_id or aws_secret_access_key",
            path=path,
            hint="Re-run `cpv configure` to store your keys again.",
        )
    return StoredCredentials(access_key_id=key, secret_access_key=SecretStr(secret))


def _validate_keys(access_key_id: str, secret_access_key: str) -> None:
    for what, value in (("access key id", access_key_id), ("secret access key", secret_access_key)):
        if not value or any(c.isspace() for c in value):
            raise UsageError(f"the {what} is empty or contains whitespace")


def store_credentials(*, access_key_id: str, secret_access_key: str) -> Path:
    """Save keys to ``$CPV_HOME/credentials`` (0600) and return its path."""
    _validate_keys(access_key_id, secret_access_key)
    parser = configparser.ConfigParser(interpolation=None)
    parser[SECTION] = {
        "aws_access_key_id": access_key_id,
        "aws_secret_access_key": secret_access_key,
    }
    buf = io.StringIO()
    buf.write("# cpv storage credentials - keep private (mode 0600); see docs/security.md\n")
    parser.write(buf)
    path = credentials_path()
    _secure_write(path, buf.getvalue())
    return path


def store_in_aws_profile(*, profile: str, access_key_id: str, secret_access_key: str) -> Path:
    """Add or replace ``[profile]`` in the AWS shared credentials file, keeping the others."""
    _validate_keys(access_key_id, secret_access_key)
    path = aws_credentials_path()
    parser = _read_ini(path) if path.exists() else configparser.ConfigParser(interpolation=None)
    parser[profile] = {
        "aws_access_key_id": access_key_id,
        "aws_secret_access_key": secret_access_key,
    }
    buf = io.StringIO()
    parser.write(buf)
    _secure_write(path, buf.getvalue())
    return path


def delete_stored() -> bool:
    path = credentials_path()
    if path.exists():
        path.unlink()
        return True
    return False


def _cpv_env_credentials() -> ResolvedCredentials | None:
    """Keys (and a session token) in ``CPV_ACCESS_KEY_ID`` / ``CPV_SECRET_ACCESS_KEY``
    (``CPV_SESSION_TOKEN``): cpv's own, so they win over the ``AWS_*`` ones.

    Raises:
        ConfigError: only one of the pair is set.
    """
    key = os.environ.get("CPV_ACCESS_KEY_ID", "").strip()
    secret = os.environ.get("CPV_SECRET_ACCESS_KEY", "").strip()
    if not key and not secret:
        return None
    if not (key and secret):
        given, missing = (
            ("CPV_ACCESS_KEY_ID", "CPV_SECRET_ACCESS_KEY")
            if key
            else ("CPV_SECRET_ACCESS_KEY", "CPV_ACCESS_KEY_ID")
        )
        raise ConfigError(
            f"{given} is set in the environment but {missing} is not",
            hint="Set both, or unset both to use the AWS_* variables or the stored keys.",
        )
    token = os.environ.get("CPV_SESSION_TOKEN", "").strip()
    return ResolvedCredentials(
        source="env",
        detail="CPV_ACCESS_KEY_ID / CPV_SECRET_ACCESS_KEY",
        access_key_id=key,
        secret_access_key=SecretStr(secret),
        session_token=SecretStr(token) if token else None,
    )


def _env_credentials() -> ResolvedCredentials | None:
    """Keys (and a session token) or a profile named by cpv's or the standard AWS variables."""
    from_cpv = _cpv_env_credentials()
    if from_cpv is not None:
        return from_cpv
    env_key, env_secret = (
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )
    if env_key and env_secret:
        token = os.environ.get("AWS_SESSION_TOKEN")
        return ResolvedCredentials(
            source="env",
            detail="AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
            access_key_id=env_key,
            secret_access_key=SecretStr(env_secret),
            session_token=SecretStr(token) if token else None,
        )
    if os.environ.get("AWS_PROFILE"):
        name = os.environ["AWS_PROFILE"]
        return ResolvedCredentials(source="env", detail=f"AWS_PROFILE={name}", profile=name)
    return None


def resolve_credentials(
    cfg: UserConfig,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    profile: str | None = None,
) -> ResolvedCredentials:
    """The credentials cpv will use, by precedence: flag > env > cpv file > AWS profile > default.

    Raises:
        UsageError: only one of a key pair was given on the command line.
        ConfigError: the stored credentials file is unreadable or incomplete.
    """
    if access_key_id or secret_access_key:
        if not (access_key_id and secret_access_key):
            raise UsageError(
                "give both --access-key-id and --secret-access-key", hint="Or use --profile NAME."
            )
        return ResolvedCredentials(
            source="flag",
            detail="command-line options",
            access_key_id=access_key_id,
            secret_access_key=SecretStr(secret_access_key),
        )
    if profile:
        return ResolvedCredentials(
            source="flag", detail=f"AWS profile {profile!r}", profile=profile
        )
    from_env = _env_credentials()
    if from_env is not None:
        return from_env
    stored = load_stored()
    if stored is not None:
        return ResolvedCredentials(
            source="cpv",
            detail=str(credentials_path()),
            access_key_id=stored.access_key_id,
            secret_access_key=stored.secret_access_key,
        )
    if cfg.storage.profile:
        return ResolvedCredentials(
            source="profile",
            detail=f"AWS profile {cfg.storage.profile!r}",
            profile=cfg.storage.profile,
        )
    return ResolvedCredentials(
        source="default", detail="boto3 default chain (e.g. an instance role)"
    )


def boto_env(cfg: UserConfig) -> dict[str, str]:
    """Non-secret environment for boto3 and DVC's s3 client (checksum mode) for this config."""
    return dict(CHECKSUM_ENV) if cfg.storage.checksum_when_required else {}


@contextmanager
def applied_env(env: dict[str, str]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` for the duration of the block (DVC runs in-process)."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def mode_problems() -> list[str]:
    """Permissions looser than 0700 (``$CPV_HOME``) and 0600 (the credentials files)."""
    problems = []
    for path, allowed in ((cpv_home(), 0o700), (credentials_path(), 0o600)):
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & ~allowed & 0o077:
                problems.append(f"{path} has mode {mode:04o}; run: chmod {allowed:o} {path}")
    return problems
