"""`cpv doctor` against a real S3 endpoint (moto on loopback): passing, and each failure."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cpv.core.health import run_doctor
from cpv.settings.config import GitSettings, StorageSettings, UserConfig, save_user_config
from tests.conftest import run_cpv


def _status(report_checks: list[dict[str, str]] | object) -> dict[str, str]:
    checks = report_checks if isinstance(report_checks, list) else report_checks.checks  # type: ignore[attr-defined]
    return {
        c["name"] if isinstance(c, dict) else c.name: c["status"]
        if isinstance(c, dict)
        else c.status
        for c in checks
    }


def _configure(endpoint: str, bucket: str, **git: str) -> None:
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio",
                bucket=bucket,
                endpoint_url=endpoint,
                region="us-east-1",
                checksum_when_required=True,
            ),
            git=GitSettings(**git),
        )  # fmt: skip
    )


@pytest.fixture
def auth_enforced(s3_endpoint: str) -> Iterator[None]:
    """moto checks signatures against its IAM users: unknown keys are rejected."""

    def post(value: str) -> None:
        req = urllib.request.Request(
            f"{s3_endpoint}/moto-api/reset-auth",
            data=value.encode(),
            method="POST",
            headers={"Content-Type": "application/octet-stream"},  # not a form: moto reads the body
        )
        urllib.request.urlopen(req).read()

    post("0")
    try:
        yield
    finally:
        post("inf")


def test_default_local_setup_passes() -> None:
    report = run_doctor()
    assert report.ok
    assert _status(report) == {
        "config": "ok", "permissions": "ok", "credentials": "skip", "storage": "ok",
        "git remote": "ok", "ssh key": "skip", "versions": "ok",
    }  # fmt: skip


def test_passes_against_s3_and_names_the_credentials_in_use(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    _configure(s3_endpoint, s3_bucket, remote_template=f"{tmp_path}/git/{{team}}/{{model}}.git")
    proc = run_cpv("doctor", "--json")
    out = json.loads(proc.stdout)
    assert out["ok"] is True
    assert set(_status(out["checks"]).values()) <= {"ok", "skip"}
    assert out["credentials_source"].startswith("env: AWS_ACCESS_KEY_ID")
    storage = next(c for c in out["checks"] if c["name"] == "storage")
    assert "wrote, read back and deleted" in storage["message"]
    # The probe cleaned up after itself.
    import boto3

    listed = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").list_objects_v2(
        Bucket=s3_bucket
    )
    assert listed.get("KeyCount", 0) == 0


def test_wrong_bucket(s3_endpoint: str, s3_bucket: str) -> None:
    _configure(s3_endpoint, "not-" + s3_bucket)
    proc = run_cpv("doctor", check=False)
    assert proc.returncode == 1
    assert (
        f"Error: 1 check(s) failed: storage: bucket 'not-{s3_bucket}' does not exist at {s3_endpoint}"
        in proc.stderr
    )
    assert "Hint: Create the bucket" in proc.stderr


@pytest.mark.moto_only  # moto accepts any key; a real gateway checks them
def test_wrong_keys(s3_endpoint: str, s3_bucket: str, auth_enforced: None) -> None:
    _configure(s3_endpoint, s3_bucket)
    report = run_doctor()
    assert not report.ok
    [failed] = report.failures()
    assert failed.name == "storage"
    assert "credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in failed.message
    assert "testing" not in failed.message  # the secret (here "testing") is never echoed


def test_dead_endpoint(s3_bucket: str) -> None:
    _configure("http://127.0.0.1:9", s3_bucket)
    report = run_doctor(timeout=2)
    [failed] = report.failures()
    assert failed.name == "storage"
    assert failed.message == "cannot reach the storage endpoint http://127.0.0.1:9"


def test_missing_credentials(
    s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _configure(s3_endpoint, s3_bucket)
    status = _status(run_doctor())
    assert (status["credentials"], status["storage"]) == ("fail", "skip")


def test_unknown_profile(s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket=s3_bucket, endpoint_url=s3_endpoint, profile="ghost"
            )
        )
    )
    failed = run_doctor().failures()
    assert [(c.name, c.message) for c in failed] == [
        ("credentials", "AWS profile 'ghost' is not defined")
    ]


def test_broken_config_file_is_named() -> None:
    path = Path.home() / ".cpv" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("storage: [unclosed\n")
    report = run_doctor()
    assert not report.ok
    assert report.checks[0].name == "config" and str(path) in report.checks[0].message


def test_bad_template_and_unreachable_git_host(tmp_path: Path) -> None:
    save_user_config(
        UserConfig(git=GitSettings(remote_template="git@example.com:acme/{team}-{nme}.git"))
    )
    [failed] = run_doctor().failures()
    assert (failed.name, failed.message) == (
        "git remote",
        "bad git remote template 'git@example.com:acme/{team}-{nme}.git': unknown placeholder {nme}",
    )

    # A closed loopback port: the host does not answer (never leaves the machine).
    save_user_config(
        UserConfig(git=GitSettings(remote_template="ssh://git@127.0.0.1:9/{team}/{model}.git"))
    )
    [failed] = run_doctor().failures()
    assert (
        failed.name == "git remote"
        and "cannot reach git remote ssh://git@127.0.0.1:9/" in failed.message
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_local_template_remote_must_be_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    save_user_config(
        UserConfig(git=GitSettings(remote_template=f"{locked}/{{team}}/{{model}}.git"))
    )
    try:
        [failed] = run_doctor().failures()
    finally:
        locked.chmod(0o700)
    assert failed.name == "git remote" and "no write permission" in failed.message


def test_local_template_under_a_file_is_not_creatable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    save_user_config(
        UserConfig(git=GitSettings(remote_template=f"{blocker}/{{team}}/{{model}}.git"))
    )
    [failed] = run_doctor().failures()
    assert failed.name == "git remote" and "no write permission" in failed.message


def test_ssh_key_permissions(tmp_path: Path) -> None:
    from cpv.settings import ssh

    key = tmp_path / "keys" / "id_test"
    public = ssh.generate_key(key, comment="test")
    assert public.startswith("ssh-ed25519 ")
    save_user_config(UserConfig(git=GitSettings(ssh_key=str(key))))
    assert _status(run_doctor())["ssh key"] == "ok"
    key.chmod(0o644)
    [failed] = run_doctor().failures()
    assert failed.name == "ssh key" and "readable by others (mode 0644)" in failed.message
    assert failed.hint == f"Run: chmod 600 {key}"
    save_user_config(UserConfig(git=GitSettings(ssh_key=str(tmp_path / "absent"))))
    [failed] = run_doctor().failures()
    assert "does not exist" in failed.message
    with pytest.raises(Exception, match="never overwrites"):
        ssh.generate_key(key)


def test_loose_credentials_mode_is_a_warning() -> None:
    from cpv.settings import credentials

    credentials.store_credentials(
        access_key_id="AKIA0000TEST", secret_access_key="s3cr3t-value-xyz"
    )
    credentials.credentials_path().chmod(0o640)
    report = run_doctor()
    perm = next(c for c in report.checks if c.name == "permissions")
    assert perm.status == "warn" and "mode 0640" in perm.message
    assert report.ok  # reported, not fatal


def test_ensure_remote_creates_a_local_bare_repo_and_refuses_an_unreachable_host(
    tmp_path: Path,
) -> None:
    from cpv.core import git_origin
    from cpv.domain.errors import RemoteError

    settings = GitSettings(remote_template=f"{tmp_path}/remotes/{{team}}/{{model}}.git")
    url = git_origin.ensure(settings, team="acme", model="m")
    assert (Path(url) / "HEAD").is_file()
    assert git_origin.check(url).exists

    hosted = GitSettings(remote_template="ssh://git@127.0.0.1:9/{team}/{model}.git")
    with pytest.raises(RemoteError, match="cannot reach git remote"):
        git_origin.ensure(hosted, team="acme", model="m")
