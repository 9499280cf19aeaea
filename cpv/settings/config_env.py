"""Settings from the environment: every setting ``cpv configure`` stores, as a ``CPV_*``
variable, for CI jobs and containers that have no ``config.yaml``.

One precedence, first match wins: a command-line option > the environment > the model's own
files (``.dvc/config``, ``cpv.yaml``) > the user config (``$CPV_HOME/config.yaml``) > the
embedded local default. Two refinements keep it safe:

* The environment never moves an existing model's bytes: where a model's versions are
  stored is its ``.dvc/config`` (changed only by ``cpv remote set``, which copies them).
  ``CPV_BUCKET``/``CPV_STORAGE_URL`` choose the storage of new models (``cpv init``) and
  the default of ``cpv remote set``; ``CPV_ENDPOINT_URL``/``CPV_REGION`` (how to reach the
  same bytes) do win over the model's.
* ``CPV_PROVIDER`` describes the storage wholly: with it set, the file's storage settings
  are ignored (a bucket of one provider is never paired with another's endpoint). Without
  it, the other storage variables override single fields of the file's settings.

Only ``CPV_``-prefixed names are read (plus the standard ``AWS_*`` credentials, see
:mod:`cpv.settings.credentials`), and no ``.env`` file: generic names such as ``AWS_BUCKET_NAME``
or ``STORAGE_PROVIDER`` are often set for other tools in the same job, and a setting meant
for them must not redirect where cpv writes models. Tools that hold a ``.env`` (docker
``--env-file``, compose, direnv, ``set -a; . ./.env``) load it into the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel

from cpv.domain.errors import ConfigError, CpvError, UsageError
from cpv.settings.config import GitSettings, StorageSettings, UserConfig, load_user_config_file

#: Where a value came from, strongest first.
Origin = Literal["option", "env", "model", "config", "preset", "default"]


class EnvVar(NamedTuple):
    name: str
    section: Literal["storage", "git"]
    field: str
    help: str


#: Every setting of ``config.yaml`` an environment variable can give.
ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(
        "CPV_PROVIDER",
        "storage",
        "provider",
        "storage provider: aws, r2, b2, wasabi, digitalocean, minio, custom, local",
    ),  # fmt: skip
    EnvVar("CPV_BUCKET", "storage", "bucket", "bucket; each model under <bucket>/<team>/<model>"),
    EnvVar("CPV_REGION", "storage", "region", "region"),
    EnvVar("CPV_ENDPOINT_URL", "storage", "endpoint_url", "S3 endpoint URL"),
    EnvVar("CPV_ACCOUNT_ID", "storage", "account_id", "Cloudflare account id (r2)"),
    EnvVar("CPV_PROFILE", "storage", "profile", "AWS profile for the storage credentials"),
    EnvVar(
        "CPV_STORAGE_URL", "storage", "url", "explicit storage root: a path or s3://bucket/prefix"
    ),
    EnvVar(
        "CPV_GIT_REMOTE_TEMPLATE",
        "git",
        "remote_template",
        "git remote per model, with {team} and {model}",
    ),  # fmt: skip
    EnvVar("CPV_SSH_KEY", "git", "ssh_key", "private SSH key for the Git host"),
)

#: Credentials (read by :func:`cpv.settings.credentials.resolve_credentials`, never stored by cpv).
CREDENTIAL_VARS = ("CPV_ACCESS_KEY_ID", "CPV_SECRET_ACCESS_KEY", "CPV_SESSION_TOKEN")

#: The storage fields :func:`cpv.settings.providers.resolve_storage` takes.
_STORAGE_INPUTS = ("provider", "bucket", "region", "account_id", "endpoint_url", "profile")


class SettingSource(BaseModel):
    """One setting's value in use and where it came from (``detail``: the variable or file)."""

    key: str
    value: str | None
    origin: Origin
    detail: str = ""


def env_values(environ: Mapping[str, str] | None = None) -> dict[EnvVar, str]:
    """The ``CPV_*`` settings present (and non-blank) in the environment."""
    env = os.environ if environ is None else environ
    return {v: env[v.name].strip() for v in ENV_VARS if env.get(v.name, "").strip()}


def model_sources(root: Path, environ: Mapping[str, str] | None = None) -> list[SettingSource]:
    """The model's own storage settings (its committed ``.dvc/config``): where its versions
    are (never overridden), and the endpoint and region, which the environment overrides."""
    from cpv.settings.dvc_remote import remote_settings

    settings = remote_settings(root)
    detail = str(root / ".dvc" / "config")
    env = os.environ if environ is None else environ
    out = [SettingSource(key="model.url", value=settings.get("url"), origin="model", detail=detail)]
    for field, var, key in (("endpoint_url", "CPV_ENDPOINT_URL", "endpointurl"),
                            ("region", "CPV_REGION", "region")):  # fmt: skip
        if env.get(var, "").strip():
            out.append(SettingSource(key=f"model.{field}", value=env[var].strip(), origin="env",
                                     detail=f"{var}, over {detail}"))  # fmt: skip
        elif settings.get(key):
            out.append(
                SettingSource(
                    key=f"model.{field}", value=settings[key], origin="model", detail=detail
                )
            )
    return out


def set_in_env(environ: Mapping[str, str] | None = None) -> set[str]:
    """The ``storage.*``/``git.*`` field names the environment sets."""
    return {v.field for v in env_values(environ)}


def _env_error(exc: CpvError, found: dict[EnvVar, str]) -> ConfigError:
    names = ", ".join(v.name for v in found)
    return ConfigError(
        f"invalid settings in the environment ({names}): {exc.message}",
        hint="Fix or unset those variables (docs/configure.md lists them).",
    )


def _storage(file: StorageSettings, found: dict[EnvVar, str]) -> StorageSettings:
    from cpv.settings import providers

    given = {v.field: value for v, value in found.items() if v.section == "storage"}
    if not given:
        return file
    url = given.pop("url", None)
    if url is not None and url.startswith("~"):  # quoted in a CI file, no shell expanded it
        url = str(Path(url).expanduser())
    if url is None and "provider" not in given and "bucket" not in given:
        url = file.url  # an explicit root in the file stays, unless the env names another
    if "provider" in given:
        base: dict[str, str | None] = {}  # the environment describes the storage wholly
    else:
        base = {f: getattr(file, f) for f in _STORAGE_INPUTS}
        if providers.preset(file.provider).endpoint_template and "endpoint_url" not in given:
            base["endpoint_url"] = None  # derived from region/account id: derive it again
    merged = {**base, **given}
    provider = merged.pop("provider", None) or "local"
    if providers.normalize_provider(provider) == "local":
        stray = [
            v.name for v in found if v.section == "storage" and v.field not in ("url", "profile")
        ]
        if stray:
            raise UsageError(
                f"{stray[0]} is set but the storage provider is local: set CPV_PROVIDER too "
                "(aws, r2, b2, wasabi, digitalocean, minio, custom)"
            )
        storage = StorageSettings(provider="local")
    else:
        storage = providers.resolve_storage(provider=provider, **merged)
    return storage.model_copy(update={"url": url})


def apply_env(file: UserConfig, environ: Mapping[str, str] | None = None) -> UserConfig:
    """``file`` (the user config, or the default) with the environment's settings on top.

    Raises:
        ConfigError: a variable holds an invalid value (names the variables).
    """
    found = env_values(environ)
    if not found:
        return file
    try:
        storage = _storage(file.storage, found)
        git = file.git.model_copy(
            update={v.field: value for v, value in found.items() if v.section == "git"}
        )
        if git.remote_template and git.remote_template != file.git.remote_template:
            from cpv.settings.config import validate_remote_template

            validate_remote_template(git.remote_template)
    except CpvError as exc:
        raise _env_error(exc, found) from None
    return UserConfig(storage=storage, git=GitSettings.model_validate(git.model_dump()))


def sources(
    effective: UserConfig, file: UserConfig | None, environ: Mapping[str, str] | None = None
) -> list[SettingSource]:
    """Each setting of ``effective`` with its origin: ``env`` (the variable), ``config`` (the
    file ``file`` was read from), ``preset`` (filled in from the provider) or ``default``."""
    from cpv.settings.config import user_config_path

    found = {v.field: v.name for v in env_values(environ)}
    out = []
    for section, model in (("storage", effective.storage), ("git", effective.git)):
        stored = getattr(file, section) if file is not None else None
        for field in type(model).model_fields:
            value = getattr(model, field)
            key = f"{section}.{field}"
            shown = None if value is None else str(value)
            if field in found:
                out.append(SettingSource(key=key, value=shown, origin="env", detail=found[field]))
            elif stored is not None and getattr(stored, field) == value and value is not None:
                out.append(
                    SettingSource(
                        key=key, value=shown, origin="config", detail=str(user_config_path())
                    )
                )
            elif value is None or value == getattr(type(model)(), field, None) and not found:
                out.append(SettingSource(key=key, value=shown, origin="default"))
            else:
                out.append(SettingSource(key=key, value=shown, origin="preset"))
    return out


def load_user_config() -> UserConfig:
    """The settings in use: the user configuration (or the embedded local default when there
    is none) with the ``CPV_*`` environment variables on top (this module).

    Raises:
        ConfigError: the file, or an environment variable, holds an invalid value.
    """
    return apply_env(load_user_config_file())
