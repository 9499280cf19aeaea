"""``cpv doctor``: an honest health check of the user's setup, as typed results.

Each check says what is wrong and what to do; nothing here prints. ``cpv configure``
runs the same checks on the settings it is about to save. The storage check is a real
round trip (:func:`probe`: write, read back and delete one small object); the S3 client
and the translation of its failures live in :mod:`cpv._s3.client`.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import uuid
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from cpv._s3.client import describe_endpoint, s3_client, storage_error
from cpv._version import __version__
from cpv.core import git_origin
from cpv.domain.errors import CpvError, StorageError, UsageError
from cpv.settings import ssh
from cpv.settings.config import (
    UserConfig,
    load_user_config_file,
    user_config_path,
    validate_remote_template,
)
from cpv.settings.config_env import SettingSource, apply_env, env_values, sources
from cpv.settings.credentials import (
    ResolvedCredentials,
    applied_env,
    boto_env,
    mode_problems,
    resolve_credentials,
)
from cpv.settings.urls import git_kind, is_s3, s3_location

Status = Literal["ok", "warn", "fail", "skip"]

#: Names used to resolve the remote template when doctor runs outside a model repository.
SAMPLE_TEAM, SAMPLE_MODEL = "cpv-doctor", "cpv-doctor"


class Check(BaseModel):
    name: str
    status: Status
    message: str
    hint: str = ""


class DoctorReport(BaseModel):
    checks: list[Check]
    provider: str
    credentials_source: str | None = None
    #: each setting in use and where it came from (environment, config file, preset, default)
    sources: list[SettingSource] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]


def _fail(name: str, exc: CpvError) -> Check:
    return Check(name=name, status="fail", message=exc.message, hint=exc.hint)


def check_config() -> tuple[Check, UserConfig | None, list[SettingSource]]:
    """The settings in use (the file, with the ``CPV_*`` environment on top) and each
    one's source."""
    path = user_config_path()
    try:
        file_cfg = load_user_config_file()
        cfg = apply_env(file_cfg)
    except CpvError as exc:
        return _fail("config", exc), None, []
    where = str(path) if path.exists() else "no config file: the embedded local default"
    found = sorted(v.name for v in env_values())
    env = f"; from the environment: {', '.join(found)}" if found else ""
    check = Check(
        name="config", status="ok", message=f"{where} (provider {cfg.storage.provider}){env}"
    )
    return check, cfg, sources(cfg, file_cfg if path.exists() else None)


def check_permissions() -> Check:
    problems = mode_problems()
    if problems:
        return Check(
            name="permissions",
            status="warn",
            message="; ".join(problems),
            hint="Secrets must be readable only by you.",
        )
    return Check(name="permissions", status="ok", message="cpv home and credentials are private")


def check_credentials(
    cfg: UserConfig, creds: ResolvedCredentials | None
) -> tuple[Check, ResolvedCredentials | None]:
    if cfg.storage.provider == "local":
        return Check(
            name="credentials", status="skip", message="local storage needs no credentials"
        ), None
    try:
        creds = creds or resolve_credentials(cfg)
    except CpvError as exc:
        return _fail("credentials", exc), None
    if creds.profile and creds.access_key_id is None:
        from cpv._s3.client import profile_exists

        if not profile_exists(creds.profile):
            return Check(
                name="credentials",
                status="fail",
                message=f"AWS profile {creds.profile!r} is not defined",
                hint="Add it to ~/.aws/credentials (`aws configure --profile NAME`) or re-run `cpv configure`.",
            ), None
    if creds.source == "default":
        from cpv._s3.client import has_default_credentials

        if not has_default_credentials():
            return Check(
                name="credentials",
                status="fail",
                message="no storage credentials found",
                hint="Run `cpv configure` to store keys or choose an AWS profile.",
            ), None
    return Check(name="credentials", status="ok", message=f"using {creds.describe()}"), creds


PROBE_PREFIX = ".cpv/probe"


class ProbeResult(BaseModel):
    bucket: str
    endpoint: str
    key: str
    bytes: int


def probe(
    cfg: UserConfig,
    *,
    creds: ResolvedCredentials | None = None,
    prefix: str = "",
    timeout: float = 10.0,
) -> ProbeResult:
    """Write, read back and delete one small object under ``<prefix>/.cpv/probe/``.

    Raises:
        StorageError: the bucket is missing (:class:`~cpv.domain.errors.BucketNotFoundError`), the
            keys are rejected (:class:`~cpv.domain.errors.StorageCredentialsError`), the endpoint is
            unreachable (:class:`~cpv.domain.errors.StorageUnreachableError`), or the bytes read
            back differ.
    """
    storage = cfg.storage
    if not storage.bucket:
        raise StorageError("no bucket configured", hint="Run `cpv configure`.")
    creds = creds or resolve_credentials(cfg)
    key = "/".join(p for p in (prefix.strip("/"), PROBE_PREFIX, uuid.uuid4().hex) if p)
    body = f"cpv probe {uuid.uuid4().hex}\n".encode()
    with applied_env(boto_env(cfg)):
        client = s3_client(storage, creds, timeout=timeout)
        try:
            client.head_bucket(Bucket=storage.bucket)
            client.put_object(Bucket=storage.bucket, Key=key, Body=body)
            try:
                got = client.get_object(Bucket=storage.bucket, Key=key)["Body"].read()
            finally:
                client.delete_object(Bucket=storage.bucket, Key=key)
        except StorageError:
            raise
        except Exception as exc:
            raise storage_error(exc, storage, creds, client) from None
    if got != body:
        raise StorageError(
            f"object read back from bucket {storage.bucket!r} differs from what was written",
            bucket=storage.bucket,
            endpoint=describe_endpoint(storage),
            hint="The endpoint or a proxy alters objects; check --provider and --endpoint-url.",
        )
    return ProbeResult(
        bucket=storage.bucket, endpoint=describe_endpoint(storage), key=key, bytes=len(body)
    )


def check_storage(cfg: UserConfig, creds: ResolvedCredentials | None, *, timeout: float) -> Check:
    storage = cfg.storage
    if storage.provider == "local" or (storage.url and not is_s3(storage.url)):
        root = Path(storage.root_url()).expanduser()
        anc = next((p for p in (root, *root.parents) if p.exists()), None)
        if anc is None or not os.access(anc, os.W_OK | os.X_OK):
            return Check(
                name="storage",
                status="fail",
                message=f"local storage {root} is not writable",
                hint="Fix the permissions or run `cpv configure` to use S3-compatible storage.",
            )
        return Check(name="storage", status="ok", message=f"local storage at {root} is writable")
    if creds is None:
        return Check(name="storage", status="skip", message="skipped: no usable credentials")
    prefix = s3_location(storage.url)[1] if storage.url else ""
    try:
        result = probe(cfg, creds=creds, prefix=prefix, timeout=timeout)
    except CpvError as exc:
        return _fail("storage", exc)
    return Check(
        name="storage",
        status="ok",
        message=f"bucket {result.bucket!r} at {result.endpoint}: wrote, read back and deleted a test object",
    )


def check_git_remote(cfg: UserConfig, *, team: str, model: str) -> Check:
    template = cfg.git.remote_template
    try:
        if template:
            validate_remote_template(template)
        url = cfg.git.remote_url(team, model)
    except CpvError as exc:
        return _fail("git remote", exc)
    result = git_origin.check(url)
    if not result.reachable:
        return Check(
            name="git remote",
            status="fail",
            message=result.message,
            hint="Check the template, your SSH key and the host (`cpv configure`)."
            if not result.local
            else "Fix the permissions or choose another path in the template.",
        )
    message = result.message if result.local else f"{url}: {result.message}"
    return Check(name="git remote", status="ok", message=message)


def check_ssh(cfg: UserConfig) -> Check:
    key = cfg.git.ssh_key
    if not key:
        hosted = cfg.git.remote_template and not git_kind(cfg.git.remote_template).local
        return Check(
            name="ssh key",
            status="skip",
            message="no SSH key configured" + ("; ssh uses its default identity" if hosted else ""),
        )
    status = ssh.check_key(key)
    return Check(
        name="ssh key",
        status="ok" if status.ok else "fail",
        message=status.message,
        hint=status.hint,
    )


def _git_version() -> str | None:
    exe = shutil.which("git")
    if exe is None:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    return out.strip().removeprefix("git version ").strip() or None


def check_versions() -> Check:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    git = _git_version()
    text = f"cpv {__version__}, dvc {version('dvc')}, dvc-s3 {version('dvc-s3')}, git {git or 'missing'}"
    if git is None or version("dvc") == "not installed":
        return Check(
            name="versions",
            status="fail",
            message=text,
            hint="Install git, and DVC with cpv's own dependencies (`pip install -e .` in cpv's source).",
        )
    return Check(name="versions", status="ok", message=text)


def run_doctor(
    *,
    cfg: UserConfig | None = None,
    creds: ResolvedCredentials | None = None,
    team: str = SAMPLE_TEAM,
    model: str = SAMPLE_MODEL,
    check_storage_access: bool = True,
    check_git_access: bool = True,
    timeout: float = 10.0,
) -> DoctorReport:
    """Run every check. With ``cfg`` given (``cpv configure``), the config file is not read.

    ``team``/``model`` resolve the remote template; inside a model repository pass its own
    (and add :func:`cpv.settings.config_env.model_sources` of it to ``sources``).

    Raises:
        UsageError: ``timeout`` is not a number of seconds above 0 and at most 600.
    """
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and 0 < timeout <= 600):
        raise UsageError(
            f"--timeout {timeout}: not a number of seconds above 0 and at most 600",
            hint="Give the storage endpoint e.g. --timeout 10.",
        )
    checks: list[Check] = []
    found: list[SettingSource] = []
    if cfg is None:
        config_check, cfg, found = check_config()
        checks.append(config_check)
    if cfg is None:
        checks.append(check_versions())
        return DoctorReport(checks=checks, provider="unknown")
    checks.append(check_permissions())
    cred_check, creds = check_credentials(cfg, creds)
    checks.append(cred_check)
    if check_storage_access:
        checks.append(check_storage(cfg, creds, timeout=timeout))
    if check_git_access:
        checks.append(check_git_remote(cfg, team=team, model=model))
    checks.append(check_ssh(cfg))
    checks.append(check_versions())
    return DoctorReport(
        checks=checks,
        provider=cfg.storage.provider,
        credentials_source=creds.describe() if creds else None,
        sources=found,
    )
