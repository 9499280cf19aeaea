"""Settings from CPV_* environment variables: a CI job with no config file at all, and the one
precedence (option > environment > the model's files > config.yaml), item by item."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cpv.domain.errors import ConfigError
from cpv.objects.store import store_for
from cpv.settings import credentials
from cpv.settings.config import StorageSettings, UserConfig, save_user_config, user_config_path
from cpv.settings.config_env import load_user_config
from tests.conftest import RGW, run_cpv, write_checkpoint

SENTINEL = "SENTINEL-env-secret-7c41f0aa"


def _git_shim(tmp_path: Path) -> Path:
    """A `git` first on PATH that logs every command line and its environment, then runs the
    real git."""
    real = shutil.which("git")
    assert real
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git-argv.log"
    (shim / "git").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nenv >> "{log}"\nexec "{real}" "$@"\n'
    )
    (shim / "git").chmod(0o755)
    return log


def _ci_env(tmp_path: Path, endpoint: str, bucket: str, secret: str, key: str) -> dict[str, str]:
    return {
        "CPV_PROVIDER": "minio",
        "CPV_BUCKET": bucket,
        "CPV_ENDPOINT_URL": endpoint,
        "CPV_GIT_REMOTE_TEMPLATE": str(tmp_path / "git" / "{team}" / "{model}.git"),
        "CPV_ACCESS_KEY_ID": key,
        "CPV_SECRET_ACCESS_KEY": secret,
        "PATH": f"{tmp_path / 'shim'}{os.pathsep}{os.environ['PATH']}",
    }


def test_ci_job_with_only_env_vars_inits_tags_pushes_and_clones(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real keys on the RGW tier (it checks them); a sentinel moto accepts otherwise.
    key = RGW["key"] or "AKIAENVONLY0001"
    secret = RGW["secret"] or SENTINEL
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # the RGW tier hands the test its keys in the environment: not cpv's to pass on, and
    # they would reach git through this test's own child processes
    monkeypatch.delenv("CPV_TEST_RGW_SECRET_KEY", raising=False)
    monkeypatch.delenv("CPV_TEST_RGW_ACCESS_KEY", raising=False)
    log = _git_shim(tmp_path)
    env = _ci_env(tmp_path, s3_endpoint, s3_bucket, secret, key)
    outputs = [run_cpv("init", "acme/envmodel", env=env, cwd=tmp_path)]
    repo = tmp_path / "envmodel"
    write_checkpoint(repo, b"weights from a CI job")
    outputs.append(run_cpv("tag", "--kind", "model", "-m", "ci", env=env, cwd=repo))
    outputs.append(run_cpv("push", env={**env, "CPV_DEBUG": "1"}, cwd=repo))
    outputs.append(run_cpv("clone", "acme/envmodel", str(tmp_path / "other"), env=env))

    assert not user_config_path().exists()  # nothing configured on disk, nothing written
    assert (
        tmp_path / "other" / "checkpoints" / "model.bin"
    ).read_bytes() == b"weights from a CI job"
    import boto3

    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
    )  # fmt: skip
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert any(k.startswith("acme/envmodel/files/md5/") for k in keys)
    tags = subprocess.run(
        ["git", "tag"], cwd=tmp_path / "git" / "acme" / "envmodel.git",
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert "model/v0.1" in tags
    # The secret from the environment is on no git command line nor in git's environment
    # (nor its hooks' or ssh's), in no output and no file.
    assert "CPV_PROVIDER=minio" in log.read_text() and secret not in log.read_text()
    for proc in outputs:
        assert secret not in proc.stdout + proc.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != log:
            assert secret.encode() not in path.read_bytes(), path


def _file(**storage: object) -> None:
    save_user_config(UserConfig(storage=StorageSettings(**storage)))  # type: ignore[arg-type]


def test_env_overrides_single_fields_of_the_config_file(monkeypatch: pytest.MonkeyPatch) -> None:
    _file(provider="minio", bucket="file-bucket", endpoint_url="http://file:9000", region="eu-1")
    monkeypatch.setenv("CPV_BUCKET", "env-bucket")
    cfg = load_user_config()
    assert (cfg.storage.bucket, cfg.storage.endpoint_url) == ("env-bucket", "http://file:9000")
    view = json.loads(run_cpv("configure", "--show", "--json").stdout)
    src = {s["key"]: (s["origin"], s["detail"]) for s in view["sources"]}
    assert src["storage.bucket"] == ("env", "CPV_BUCKET")
    assert src["storage.endpoint_url"] == ("config", str(user_config_path()))
    assert src["git.remote_template"][0] == "default"
    text = run_cpv("configure", "--show").stdout
    assert "env-bucket" in text and "env: CPV_BUCKET" in text


def test_env_provider_replaces_the_files_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    _file(provider="r2", bucket="b-file", account_id="a" * 32, region="auto",
          endpoint_url=f"https://{'a' * 32}.r2.cloudflarestorage.com")  # fmt: skip
    monkeypatch.setenv("CPV_PROVIDER", "minio")
    monkeypatch.setenv("CPV_BUCKET", "b-env")
    monkeypatch.setenv("CPV_ENDPOINT_URL", "http://minio.local:9000")
    st = load_user_config().storage
    assert (st.provider, st.bucket, st.account_id) == ("minio", "b-env", None)
    assert st.endpoint_url == "http://minio.local:9000" and st.checksum_when_required


def test_env_region_rederives_a_presets_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    _file(provider="b2", bucket="models", region="us-west-004",
          endpoint_url="https://s3.us-west-004.backblazeb2.com")  # fmt: skip
    monkeypatch.setenv("CPV_REGION", "eu-central-003")
    st = load_user_config().storage
    assert st.endpoint_url == "https://s3.eu-central-003.backblazeb2.com"
    view = json.loads(run_cpv("configure", "--show", "--json").stdout)
    origin = {s["key"]: s["origin"] for s in view["sources"]}
    assert origin["storage.region"] == "env" and origin["storage.endpoint_url"] == "preset"


def test_git_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPV_GIT_REMOTE_TEMPLATE", "git@example.com:acme/{team}-{model}.git")
    monkeypatch.setenv("CPV_SSH_KEY", str(tmp_path / "id_ed25519"))
    git = load_user_config().git
    assert git.remote_url("acme", "m") == "git@example.com:acme/acme-m.git"
    assert git.ssh_key == str(tmp_path / "id_ed25519")
    from cpv._git.exec import network_env

    assert network_env()["CPV_SSH_KEY"] == str(tmp_path / "id_ed25519")


def test_invalid_env_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"CPV_PROVIDER": "aws", "CPV_BUCKET": "Not_A_Bucket"}
    proc = run_cpv("configure", "--show", env=env, check=False)
    assert proc.returncode == 1
    assert "CPV_BUCKET" in proc.stderr and "invalid bucket name" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cpv("doctor", env={"CPV_BUCKET": "models"}, check=False)  # no provider anywhere
    assert proc.returncode == 1 and "CPV_PROVIDER" in proc.stdout + proc.stderr
    monkeypatch.setenv("CPV_GIT_REMOTE_TEMPLATE", "git@h:{team}.git")  # no {model}
    with pytest.raises(ConfigError, match="CPV_GIT_REMOTE_TEMPLATE"):
        load_user_config()


def test_option_wins_over_env_and_env_is_never_saved(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"CPV_BUCKET": "env-bucket", "CPV_GIT_REMOTE_TEMPLATE": "/srv/git/{team}/{model}.git"}
    run_cpv(
        "configure", "--non-interactive", "--provider", "minio", "--bucket", "opt-bucket",
        "--endpoint-url", s3_endpoint, "--no-verify", env=env,
    )  # fmt: skip
    saved = yaml.safe_load(user_config_path().read_text())
    assert saved["storage"]["bucket"] == "opt-bucket"
    assert "remote_template" not in saved.get("git", {})
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_user_config().storage.bucket == "env-bucket"  # env over the file


def test_env_reaches_the_models_bytes_by_another_endpoint_but_never_moves_them(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _file(provider="minio", bucket=s3_bucket, endpoint_url=s3_endpoint, region="us-east-1")
    run_cpv("init", "acme/m", cwd=tmp_path)
    root = tmp_path / "m"
    # the model's .dvc/config wins over the user config ...
    _file(provider="minio", bucket=s3_bucket, endpoint_url="http://elsewhere:1", region="us-east-1")
    assert store_for(root).cfg.storage.endpoint_url == s3_endpoint
    # ... the environment's endpoint and region win over the model's ...
    monkeypatch.setenv("CPV_ENDPOINT_URL", "http://internal-gw:9000")
    monkeypatch.setenv("CPV_REGION", "eu-west-9")
    store = store_for(root)
    assert store.cfg.storage.endpoint_url == "http://internal-gw:9000"
    assert store.cfg.storage.region == "eu-west-9"
    # ... but a bucket from the environment never relocates an existing model's versions.
    monkeypatch.setenv("CPV_BUCKET", "another-bucket")
    assert store_for(root).url == f"s3://{s3_bucket}/acme/m"


def test_credentials_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    _file(provider="minio", bucket="models", endpoint_url="http://h:9000")
    credentials.store_credentials(access_key_id="AKIASTORED0001", secret_access_key="stored")
    cfg = load_user_config()
    assert credentials.resolve_credentials(cfg).detail.startswith("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("CPV_ACCESS_KEY_ID", "AKIACPVENV0001")
    monkeypatch.setenv("CPV_SECRET_ACCESS_KEY", SENTINEL)
    got = credentials.resolve_credentials(cfg)
    assert (got.source, got.access_key_id) == ("env", "AKIACPVENV0001")
    flag = credentials.resolve_credentials(cfg, access_key_id="AKIAFLAG", secret_access_key="s")
    assert flag.source == "flag"
    monkeypatch.delenv("CPV_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError, match="CPV_SECRET_ACCESS_KEY"):
        credentials.resolve_credentials(cfg)
    monkeypatch.delenv("CPV_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    assert credentials.resolve_credentials(cfg).source == "cpv"


@pytest.mark.moto_only
def test_doctor_shows_sources_and_masks_env_secrets(s3_endpoint: str, s3_bucket: str) -> None:
    env = {
        "CPV_PROVIDER": "minio", "CPV_BUCKET": s3_bucket, "CPV_ENDPOINT_URL": s3_endpoint,
        "CPV_ACCESS_KEY_ID": "AKIADOCTOR0001", "CPV_SECRET_ACCESS_KEY": SENTINEL,
    }  # fmt: skip
    proc = run_cpv("doctor", "--json", env=env, check=False)
    out = json.loads(proc.stdout)
    assert SENTINEL not in proc.stdout + proc.stderr
    assert (
        out["credentials_source"] == "env: CPV_ACCESS_KEY_ID / CPV_SECRET_ACCESS_KEY (key ****0001)"
    )
    src = {s["key"]: s["origin"] for s in out["sources"]}
    assert src["storage.bucket"] == src["storage.endpoint_url"] == "env"
    checks = {c["name"]: c for c in out["checks"]}
    assert checks["storage"]["status"] == "ok"
    assert "CPV_BUCKET" in checks["config"]["message"]
    text = run_cpv("doctor", env=env, check=False)
    assert "env: CPV_BUCKET" in text.stdout and SENTINEL not in text.stdout + text.stderr


def test_show_and_doctor_in_a_model_list_its_own_settings_by_source(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    _file(provider="minio", bucket=s3_bucket, endpoint_url=s3_endpoint, region="us-east-1")
    run_cpv("init", "acme/m", cwd=tmp_path)
    root = tmp_path / "m"
    view = json.loads(run_cpv("configure", "--show", "--json", cwd=root).stdout)
    src = {s["key"]: (s["value"], s["origin"]) for s in view["sources"]}
    assert src["model.url"] == (f"s3://{s3_bucket}/acme/m", "model")
    assert src["model.endpoint_url"] == (s3_endpoint, "model")
    env = {"CPV_ENDPOINT_URL": "http://internal-gw:9000"}
    view = json.loads(run_cpv("configure", "--show", "--json", cwd=root, env=env).stdout)
    src = {s["key"]: (s["value"], s["origin"]) for s in view["sources"]}
    assert src["model.endpoint_url"] == ("http://internal-gw:9000", "env")
    text = run_cpv("configure", "--show", cwd=root, env=env).stdout
    assert "This model's storage" in text and "CPV_ENDPOINT_URL, over" in text
    report = json.loads(run_cpv("doctor", "--json", cwd=root, check=False).stdout)
    assert {s["key"]: s["origin"] for s in report["sources"]}["model.url"] == "model"
    outside = json.loads(run_cpv("configure", "--show", "--json", cwd=tmp_path).stdout)
    assert not [s for s in outside["sources"] if s["key"].startswith("model.")]


def test_storage_url_and_profile_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.setenv("CPV_STORAGE_URL", "~/team-storage")  # as a CI file quotes it
    assert load_user_config().storage.root_url() == str(isolated_env / "team-storage")
    run_cpv("init", "acme/m", cwd=tmp_path)
    write_checkpoint(tmp_path / "m", b"bytes")
    run_cpv("tag", "-m", "one", cwd=tmp_path / "m")
    run_cpv("push", cwd=tmp_path / "m")
    assert list((isolated_env / "team-storage" / "acme" / "m" / "files" / "md5").rglob("*"))
    monkeypatch.setenv("CPV_PROVIDER", "aws")
    monkeypatch.setenv("CPV_BUCKET", "models")
    monkeypatch.setenv("CPV_PROFILE", "ml")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    got = credentials.resolve_credentials(load_user_config())
    assert (got.source, got.profile) == ("profile", "ml")
