"""Shared fixtures: every test is isolated from the machine (HOME, CPV_HOME, git config),
and S3 is a real HTTP endpoint (one moto server per session, reset between tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "DVC_NO_ANALYTICS": "1",
    "NO_COLOR": "1",
    "COLUMNS": "200",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "HF_HUB_OFFLINE": "1",
}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("CPV_HOME", str(home / ".cpv"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    for key in (
        "CPV_FAULT",
        "CPV_DEBUG",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "GIT_DIR",
        "GIT_WORK_TREE",
        # settings from the environment (cpv/settings/config_env.py): a developer's must not leak in
        "CPV_PROVIDER",
        "CPV_BUCKET",
        "CPV_REGION",
        "CPV_ENDPOINT_URL",
        "CPV_ACCOUNT_ID",
        "CPV_PROFILE",
        "CPV_STORAGE_URL",
        "CPV_GIT_REMOTE_TEMPLATE",
        "CPV_SSH_KEY",
        "CPV_ACCESS_KEY_ID",
        "CPV_SECRET_ACCESS_KEY",
        "CPV_SESSION_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)
    # The venv's console scripts (dvc, cpv) even when pytest runs as .venv/bin/python -m pytest.
    monkeypatch.setenv(
        "PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    monkeypatch.chdir(tmp_path)
    return home


#: ``make test-rgw`` points the S3 tests at a real Ceph RADOS Gateway instead of moto.
RGW = {
    "endpoint": os.environ.get("CPV_TEST_RGW_ENDPOINT", ""),
    "key": os.environ.get("CPV_TEST_RGW_ACCESS_KEY", ""),
    "secret": os.environ.get("CPV_TEST_RGW_SECRET_KEY", ""),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the RGW tier, run only the tests that talk to S3."""
    if not RGW["endpoint"]:
        return
    keep = [
        i
        for i in items
        if "s3_endpoint" in getattr(i, "fixturenames", ())
        and i.get_closest_marker("moto_only") is None
    ]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A moto S3 server on loopback (or the RGW tier's gateway); yields its endpoint URL."""
    if RGW["endpoint"]:
        yield RGW["endpoint"]
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_endpoint(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The S3 endpoint, empty at the start of each test."""
    if RGW["endpoint"]:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", RGW["key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", RGW["secret"])
        _empty_rgw(s3_server)
        yield s3_server
        return
    yield s3_server
    urllib.request.urlopen(
        urllib.request.Request(f"{s3_server}/moto-api/reset", method="POST")
    ).read()


def _empty_rgw(endpoint: str) -> None:
    """What moto's reset does, on a gateway that has none: every bucket emptied and removed
    (open multipart uploads aborted first)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="cpv-test"
    )
    return "cpv-test"


@pytest.fixture
def s3_user_config(s3_endpoint: str, s3_bucket: str) -> str:
    """User config pointing storage at the moto bucket (as `cpv configure` would write it)."""
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket=s3_bucket, endpoint_url=s3_endpoint, region="us-east-1"
            )
        )
    )
    return s3_bucket


def run_cpv(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real `cpv` console entry point in a child process."""
    proc = subprocess.run(
        [sys.executable, "-m", "cpv", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"cpv {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def write_checkpoint(repo: Path, content: bytes, name: str = "model.bin") -> None:
    path = repo / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def repo_snapshot(repo: Path) -> dict[str, str]:
    """Everything that must stay identical when a command is rejected."""

    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=repo, capture_output=True, text=True, check=True
        ).stdout

    files = {}
    for p in sorted(repo.rglob("*")):
        if p.is_file() and ".git" not in p.parts and ".dvc" not in p.relative_to(repo).parts[:1]:
            files[str(p.relative_to(repo))] = p.read_bytes().hex()
    return {
        "refs": git("for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git("rev-parse", "HEAD"),
        "status": git("status", "--porcelain", "--ignored"),
        "index": git("ls-files", "-s"),
        "files": repr(files),
    }


def git(repo: Path | str, *args: str) -> str:
    """Run git in ``repo`` (a real repository: the tests' only way to look under cpv) and
    return its output; a failing git fails the test."""
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
