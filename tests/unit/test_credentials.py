"""Credential storage (file modes, atomic writes), precedence, masking and DVC/boto handoff."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cpv.domain.errors import ConfigError, UsageError
from cpv.domain.paths import cpv_home
from cpv.settings import credentials as creds
from cpv.settings.config import StorageSettings, UserConfig

SECRET = "SENTINEL-secret-7f3a9c2e1b"


@pytest.fixture
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never reach for an instance role


def s3_cfg(**kw: object) -> UserConfig:
    return UserConfig(
        storage=StorageSettings(provider="minio", bucket="b-1", endpoint_url="http://h:1", **kw)
    )  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_mask_shows_only_the_last_four_characters() -> None:
    assert creds.mask("AKIAIOSFODNN7EXAMPLE") == "****MPLE"
    assert creds.mask("short") == "****"
    assert creds.mask(None) == ""


def test_store_writes_0600_in_a_0700_directory() -> None:
    old = os.umask(0o022)  # a lax umask must not loosen the modes
    try:
        path = creds.store_credentials(access_key_id="AKIA0000TEST", secret_access_key=SECRET)
    finally:
        os.umask(old)
    assert path == cpv_home() / "credentials"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    stored = creds.load_stored()
    assert stored is not None and stored.secret_access_key.get_secret_value() == SECRET


def test_rewrite_replaces_atomically_and_keeps_mode() -> None:
    creds.store_credentials(access_key_id="AKIA0000AAAA", secret_access_key="first-secret")
    inode = creds.credentials_path().stat().st_ino
    creds.store_credentials(access_key_id="AKIA0000BBBB", secret_access_key="second-secret")
    path = creds.credentials_path()
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    assert mode(path) == 0o600
    assert "first-secret" not in path.read_text()


def test_looser_modes_are_reported() -> None:
    path = creds.store_credentials(access_key_id="AKIA0000TEST", secret_access_key=SECRET)
    assert creds.mode_problems() == []
    path.chmod(0o644)
    path.parent.chmod(0o755)
    problems = creds.mode_problems()
    assert any("credentials has mode 0644" in p and "chmod 600" in p for p in problems)
    assert any("mode 0755" in p and "chmod 700" in p for p in problems)


def test_secret_never_in_config_yaml_or_repr(no_env_keys: None) -> None:
    from cpv.settings.config import save_user_config

    creds.store_credentials(access_key_id="AKIA0000TEST", secret_access_key=SECRET)
    save_user_config(s3_cfg())
    assert SECRET not in (cpv_home() / "config.yaml").read_text()
    resolved = creds.resolve_credentials(s3_cfg())
    assert SECRET not in repr(resolved) and SECRET not in resolved.describe()
    assert SECRET not in resolved.model_dump_json()


def test_corrupt_file_error_does_not_quote_it() -> None:
    path = creds.credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text(f"{SECRET}\n[default\n")
    with pytest.raises(ConfigError) as exc:
        creds.load_stored()
    assert SECRET not in str(exc.value) and SECRET not in exc.value.hint


def test_precedence_flag_env_stored_profile_default(
    no_env_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = s3_cfg(profile="team-profile")
    assert creds.resolve_credentials(cfg).source == "profile"
    assert creds.resolve_credentials(s3_cfg()).source == "default"

    creds.store_credentials(access_key_id="AKIASTORED000", secret_access_key="stored-secret")
    got = creds.resolve_credentials(cfg)
    assert (got.source, got.access_key_id) == ("cpv", "AKIASTORED000")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENV00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    got = creds.resolve_credentials(cfg)
    assert (got.source, got.access_key_id) == ("env", "AKIAENV00000")

    got = creds.resolve_credentials(
        cfg, access_key_id="AKIAFLAG0000", secret_access_key="flag-secret"
    )
    assert (got.source, got.access_key_id) == ("flag", "AKIAFLAG0000")
    got = creds.resolve_credentials(cfg, profile="other")
    assert (got.source, got.profile) == ("flag", "other")


def test_aws_profile_env_counts_as_environment(
    no_env_keys: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds.store_credentials(access_key_id="AKIASTORED000", secret_access_key="stored-secret")
    monkeypatch.setenv("AWS_PROFILE", "ci")
    got = creds.resolve_credentials(s3_cfg())
    assert (got.source, got.profile) == ("env", "ci")


def test_half_a_key_pair_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="both"):
        creds.resolve_credentials(s3_cfg(), access_key_id="AKIA")


def test_boto_env_sets_checksum_mode_only_when_required() -> None:
    assert creds.boto_env(s3_cfg(checksum_when_required=False)) == {}
    env = creds.boto_env(s3_cfg(checksum_when_required=True))
    assert env == {
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }


def test_applied_env_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION", raising=False)
    with creds.applied_env(creds.CHECKSUM_ENV):
        assert os.environ["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"
        assert os.environ["AWS_RESPONSE_CHECKSUM_VALIDATION"] == "when_required"
    assert "AWS_REQUEST_CHECKSUM_CALCULATION" not in os.environ
    assert os.environ["AWS_RESPONSE_CHECKSUM_VALIDATION"] == "when_supported"


def test_store_in_aws_profile_keeps_other_profiles() -> None:
    path = creds.aws_credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text(
        "[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n"
    )
    creds.store_in_aws_profile(
        profile="cpv", access_key_id="AKIACPV00000", secret_access_key=SECRET
    )
    text = path.read_text()
    assert "[other]" in text and "AKIAOTHER" in text and "[cpv]" in text
    assert mode(path) == 0o600
    from cpv._s3.client import profile_exists

    assert profile_exists("cpv")


def test_checksum_setting_reaches_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """The env vars are what botocore reads (also inside DVC's s3fs/aiobotocore)."""
    import botocore.session

    with creds.applied_env(creds.boto_env(s3_cfg(checksum_when_required=True))):
        session = botocore.session.Session()
        assert session.get_config_variable("request_checksum_calculation") == "when_required"
        assert session.get_config_variable("response_checksum_validation") == "when_required"
    assert (
        botocore.session.Session().get_config_variable("request_checksum_calculation")
        == "when_supported"
    )
