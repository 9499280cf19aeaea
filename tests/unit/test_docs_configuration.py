"""docs/configuration.md cannot drift: every environment variable the code reads has a row,
every key of cpv.yaml and config.yaml is shown, and its yaml examples are valid."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel

from cpv.settings.config import (
    BestMetric,
    GitSettings,
    RepoConfig,
    Retention,
    StorageSettings,
    UserConfig,
)
from cpv.settings.config_env import CREDENTIAL_VARS, ENV_VARS
from cpv.settings.env import ENV_SECONDS
from cpv.settings.promotion import PromotionRule

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
_YAML = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def _names_in_code() -> set[str]:
    names = {v.name for v in ENV_VARS} | set(CREDENTIAL_VARS) | set(ENV_SECONDS)
    for path in (ROOT / "cpv").rglob("*.py"):
        names |= set(re.findall(r"[\"'](CPV_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return names


def _blocks() -> list[dict[str, object]]:
    return [yaml.safe_load(b) for b in _YAML.findall(PAGE)]


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    names = _names_in_code()
    assert {"CPV_HOME", "CPV_BUCKET", "CPV_SECRET_ACCESS_KEY", "CPV_LOCK_TIMEOUT"} <= names
    missing = sorted(n for n in names if f"`{n}`" not in PAGE)
    assert not missing, f"docs/configuration.md has no row for {missing}"


def test_the_yaml_examples_are_valid_and_show_every_key() -> None:
    repo_yaml, user_yaml = _blocks()
    repo = RepoConfig.model_validate(repo_yaml)
    user = UserConfig.model_validate(user_yaml)
    assert repo.best is not None and repo.retention is not None and repo.promotion
    assert user.storage.bucket and user.git.remote_template

    def keys(model: type[BaseModel]) -> set[str]:
        return set(model.model_fields)

    shown_repo = set(repo_yaml)
    assert keys(RepoConfig) <= shown_repo, keys(RepoConfig) - shown_repo
    assert keys(BestMetric) <= set(repo_yaml["best"])  # type: ignore[arg-type]
    assert keys(Retention) <= set(repo_yaml["retention"])  # type: ignore[arg-type]
    rule = repo_yaml["promotion"]["prod"]  # type: ignore[index]
    assert keys(PromotionRule) <= set(rule)
    assert keys(StorageSettings) <= set(user_yaml["storage"])  # type: ignore[arg-type]
    assert keys(GitSettings) <= set(user_yaml["git"])  # type: ignore[arg-type]
