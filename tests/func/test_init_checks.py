"""`cpv init --storage s3://…` checks the bucket before creating anything (moto S3 server)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cpv import CombinedCheckpoints
from cpv.domain.errors import BucketNotFoundError, StorageNotCheckedError
from cpv.domain.paths import cpv_home
from cpv.settings.config import StorageSettings, UserConfig, save_user_config
from tests.conftest import run_cpv

pytestmark = pytest.mark.s3


def _nothing_created(tmp_path: Path) -> None:
    assert not (tmp_path / "m").exists()
    assert not (cpv_home() / "git" / "acme" / "m.git").exists()  # no bare git remote either
    assert [p.name for p in tmp_path.iterdir()] == ["home"]  # no temporary folder left


def _error_lines(stderr: str) -> tuple[str, str]:
    error, hint = stderr.strip().splitlines()
    assert error.startswith("Error: ") and hint.startswith("Hint: ")
    return error, hint


def test_a_missing_bucket_is_refused_before_anything_is_created(
    tmp_path: Path, s3_user_config: str
) -> None:
    proc = run_cpv("init", "acme/m", "--storage", "s3://missing-bucket", check=False)
    assert proc.returncode == 1
    error, hint = _error_lines(proc.stderr)
    assert "bucket 'missing-bucket' does not exist" in error
    assert "--no-verify" in hint and "--storage" in hint
    _nothing_created(tmp_path)


def test_the_python_api_raises_a_lookup_error(tmp_path: Path, s3_user_config: str) -> None:
    with pytest.raises(BucketNotFoundError) as caught:
        CombinedCheckpoints.init(team="acme", model="m", storage="s3://missing-bucket/models")
    assert isinstance(caught.value, LookupError)
    assert caught.value.bucket == "missing-bucket"
    _nothing_created(tmp_path)


def test_an_existing_bucket_passes_the_check(tmp_path: Path, s3_user_config: str) -> None:
    run_cpv("init", "acme/m", "--storage", f"s3://{s3_user_config}/team-a")
    assert f"s3://{s3_user_config}/team-a/acme/m" in (tmp_path / "m/.dvc/config").read_text()


def test_no_verify_skips_the_check(tmp_path: Path, s3_user_config: str) -> None:
    run_cpv("init", "acme/m", "--storage", "s3://missing-bucket", "--no-verify")
    assert "s3://missing-bucket/acme/m" in (tmp_path / "m/.dvc/config").read_text()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_endpoint_says_the_bucket_could_not_be_checked(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="b", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )
    proc = run_cpv("init", "acme/m", "--storage", "s3://missing-bucket", check=False)
    assert proc.returncode == 1
    error, hint = _error_lines(proc.stderr)
    assert "could not check bucket 'missing-bucket'" in error
    assert endpoint in error and "nothing was created" in error
    assert "--no-verify" in hint
    _nothing_created(tmp_path)
    with pytest.raises(StorageNotCheckedError) as caught:
        CombinedCheckpoints.init(team="acme", model="m", storage="s3://missing-bucket")
    assert caught.value.reason.startswith("cannot reach the storage endpoint")


def test_no_credentials_say_the_bucket_could_not_be_checked(
    tmp_path: Path, s3_user_config: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    proc = run_cpv("init", "acme/m", "--storage", "s3://missing-bucket", check=False)
    assert proc.returncode == 1
    error, _ = _error_lines(proc.stderr)
    assert "could not check bucket 'missing-bucket'" in error
    assert "no storage credentials found" in error
    _nothing_created(tmp_path)


def test_the_configured_storage_is_not_checked_again(tmp_path: Path) -> None:
    """`cpv configure` verified it; init stays offline (the endpoint here is down)."""
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="b", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )
    run_cpv("init", "acme/m")
    assert "s3://b/acme/m" in (tmp_path / "m/.dvc/config").read_text()
