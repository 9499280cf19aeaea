"""``cpv configure`` as a library: validate, verify, then save settings and credentials.

Nothing is saved when verification fails (unless the caller asks to save anyway), so a
typo never replaces a working setup. Secrets go to :mod:`cpv.settings.credentials`, never to
``config.yaml``.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from cpv.core.health import DoctorReport, run_doctor
from cpv.domain.errors import UsageError, VerificationFailed
from cpv.domain.results import WebhookFailure
from cpv.notify import webhooks as notify
from cpv.notify.announce import send_ping
from cpv.notify.webhooks import WebhookView
from cpv.settings import providers
from cpv.settings.config import (
    GitSettings,
    UserConfig,
    load_user_config_file,
    save_user_config,
    user_config_path,
    validate_remote_template,
)
from cpv.settings.config_env import SettingSource, apply_env, model_sources, sources
from cpv.settings.credentials import (
    ResolvedCredentials,
    credentials_path,
    delete_stored,
    load_stored,
    mask,
    mode_problems,
    resolve_credentials,
    store_credentials,
    store_in_aws_profile,
)


class ConfigureRequest(BaseModel):
    """Everything ``cpv configure`` can set. ``None`` keeps the current value where that makes sense."""

    provider: str
    bucket: str | None = None
    region: str | None = None
    account_id: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: Where new keys go: cpv's credentials file, or a profile in the AWS credentials file.
    store_keys_in: Literal["cpv", "aws-profile"] = "cpv"
    #: ``""`` resets to the local default; ``None`` keeps the current template.
    git_remote_template: str | None = None
    ssh_key: str | None = None


class ConfigureResult(BaseModel):
    saved: bool
    config_path: str
    config: UserConfig
    credentials_path: str | None = None
    removed_stored_credentials: bool = False
    report: DoctorReport | None = None


class SettingsView(BaseModel):
    """``cpv configure --show``: the settings, secrets masked."""

    config_path: str
    config_exists: bool
    #: the settings in use: the file's with the CPV_* environment variables on top
    config: UserConfig
    #: each setting's value and where it came from (env, config, preset, default)
    sources: list[SettingSource] = Field(default_factory=list)
    credentials_source: str | None
    stored_credentials_path: str | None
    stored_access_key_id: str | None
    stored_secret_access_key: str | None
    permission_problems: list[str]
    #: the webhooks (URLs masked) and each one's last failed delivery
    webhooks: list[WebhookView] = Field(default_factory=list)
    webhook_failures: list[WebhookFailure] = Field(default_factory=list)


class WebhookPing(BaseModel):
    """One webhook's answer to ``cpv configure --test-webhook`` (``reason`` when it failed)."""

    id: str
    url: str
    ok: bool
    reason: str = ""


class WebhooksResult(BaseModel):
    """``cpv configure --webhook`` / ``--remove-webhook`` / ``--test-webhook``: what
    changed and what answered, URLs masked."""

    path: str
    added: list[WebhookView] = Field(default_factory=list)
    removed: list[WebhookView] = Field(default_factory=list)
    webhooks: list[WebhookView] = Field(default_factory=list)
    tested: list[WebhookPing] = Field(default_factory=list)


def ping_webhooks() -> list[WebhookPing]:
    """Send a test message to every configured webhook and say which delivered.

    Raises:
        UsageError: no webhook is configured.
        ConfigError: the webhooks file cannot be read.
    """
    hooks = notify.load_webhooks()
    if not hooks:
        raise UsageError("no webhook to test", hint="Add one first: cpv configure --webhook URL.")
    return [
        WebhookPing(id=w.id, url=w.masked_url, ok=f is None, reason=f.reason if f else "")
        for w, f in zip(hooks, send_ping(hooks), strict=True)
    ]


def change_webhooks(
    *, add: Sequence[str] = (), events: Sequence[str] = (), fmt: str | None = None,
    remove: Sequence[str] = (),
) -> WebhooksResult:  # fmt: skip
    """Add the webhook URLs in ``add`` (each for ``events``, default all, in format ``fmt``,
    default guessed from the host) and remove those named (by id or URL) in ``remove``.
    Every URL and event is checked before anything is saved.

    Raises:
        UsageError: an invalid URL, event or format, or no webhook with a given id or URL.
        ConfigError: the webhooks file cannot be read.
    """
    for url in add:
        notify.check_url(url)
    notify.parse_events(events)
    notify.check_format(fmt)
    hooks = notify.load_webhooks()
    for key in remove:
        notify.find_webhook(hooks, key)
    removed = [notify.remove_webhook(key).view() for key in remove]
    added = [notify.add_webhook(url, events=events, fmt=fmt).view() for url in add]
    return WebhooksResult(
        path=str(notify.webhooks_path()),
        added=added,
        removed=removed,
        webhooks=[w.view() for w in notify.load_webhooks()],
    )


def build_config(req: ConfigureRequest, *, current: UserConfig) -> UserConfig:
    """The new :class:`UserConfig`; storage comes from ``req``, git settings fall back to ``current``.

    Raises:
        UsageError: an invalid or missing value, or both a profile and keys.
    """
    if req.profile and (req.access_key_id or req.secret_access_key):
        if req.store_keys_in != "aws-profile":
            raise UsageError(
                "give either --profile or --access-key-id/--secret-access-key, not both"
            )
    if bool(req.access_key_id) != bool(req.secret_access_key):
        raise UsageError("give both --access-key-id and --secret-access-key")
    storage = providers.resolve_storage(
        provider=req.provider,
        bucket=req.bucket,
        region=req.region,
        account_id=req.account_id,
        endpoint_url=req.endpoint_url,
        profile=req.profile,
    )
    if req.access_key_id and req.store_keys_in == "cpv":
        storage = storage.model_copy(update={"profile": None})
    template = (
        current.git.remote_template if req.git_remote_template is None else req.git_remote_template
    )
    if template:
        validate_remote_template(template)
    ssh_key = current.git.ssh_key if req.ssh_key is None else req.ssh_key
    return UserConfig(
        storage=storage, git=GitSettings(remote_template=template or None, ssh_key=ssh_key or None)
    )


def _candidate_credentials(req: ConfigureRequest, cfg: UserConfig) -> ResolvedCredentials | None:
    if cfg.storage.provider == "local":
        return None
    if req.access_key_id and req.secret_access_key:
        return resolve_credentials(
            cfg,
            access_key_id=req.access_key_id,
            secret_access_key=req.secret_access_key.get_secret_value(),
        )
    if req.profile:
        return resolve_credentials(cfg, profile=req.profile)
    return resolve_credentials(cfg)


def configure(
    req: ConfigureRequest,
    *,
    verify: bool = True,
    save_if_failed: bool = False,
    current: UserConfig | None = None,
    timeout: float = 10.0,
) -> ConfigureResult:
    """Validate ``req``, verify it against the real storage and Git host, then save.

    Raises:
        UsageError: an invalid value (nothing saved).
        VerificationFailed: a check failed and ``save_if_failed`` is false (nothing saved);
            ``exc.result.report`` holds the checks.
    """
    # The file only: values from CPV_* variables are this process's, never written to disk.
    current = current if current is not None else load_user_config_file()
    cfg = build_config(req, current=current)
    report: DoctorReport | None = None
    if verify:
        report = run_doctor(cfg=cfg, creds=_candidate_credentials(req, cfg), timeout=timeout)
        if not report.ok and not save_if_failed:
            first = report.failures()[0]
            raise VerificationFailed(
                f"{first.name}: {first.message}",
                hint=first.hint or None,
                result=ConfigureResult(
                    saved=False, config_path=str(user_config_path()), config=cfg, report=report
                ),
            )

    creds_path: str | None = None
    removed = False
    if req.access_key_id and req.secret_access_key:
        secret = req.secret_access_key.get_secret_value()
        if req.store_keys_in == "aws-profile":
            if not req.profile:
                raise UsageError("name the AWS profile to store the keys in (--profile NAME)")
            creds_path = str(
                store_in_aws_profile(
                    profile=req.profile, access_key_id=req.access_key_id, secret_access_key=secret
                )
            )
            removed = delete_stored()
        else:
            creds_path = str(
                store_credentials(access_key_id=req.access_key_id, secret_access_key=secret)
            )
    elif req.profile:
        # Stored keys would win over the profile (precedence): the user chose the profile.
        removed = delete_stored()
    path = save_user_config(cfg)
    return ConfigureResult(
        saved=True,
        config_path=str(path),
        config=cfg,
        credentials_path=creds_path,
        removed_stored_credentials=removed,
        report=report,
    )


def show_settings(*, model_root: Path | None = None) -> SettingsView:
    """The settings in use, each with where it came from, and which credentials are in use,
    secrets masked; with ``model_root`` (a model repository), its own storage settings too.

    Raises:
        ConfigError: the file or a ``CPV_*`` variable holds an invalid value.
    """
    file_cfg = load_user_config_file()
    cfg = apply_env(file_cfg)
    stored = load_stored()
    source: str | None = None
    if cfg.storage.provider != "local":
        source = resolve_credentials(cfg).describe()
    return SettingsView(
        config_path=str(user_config_path()),
        config_exists=user_config_path().exists(),
        config=cfg,
        sources=sources(cfg, file_cfg if user_config_path().exists() else None)
        + (model_sources(model_root) if model_root is not None else []),
        credentials_source=source,
        stored_credentials_path=str(credentials_path()) if stored else None,
        stored_access_key_id=mask(stored.access_key_id) if stored else None,
        stored_secret_access_key=mask(stored.secret_access_key.get_secret_value())
        if stored
        else None,
        permission_problems=mode_problems() + _webhooks_mode_problem(),
        webhooks=[w.view() for w in notify.load_webhooks()],
        webhook_failures=notify.last_failures(),
    )


def _webhooks_mode_problem() -> list[str]:
    path = notify.webhooks_path()
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o600
    if mode & 0o077:
        return [f"{path} has mode {mode:04o}; run: chmod 600 {path}"]
    return []
