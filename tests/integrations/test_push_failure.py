"""The S3 endpoint stops mid-training: local versions stay, the end of training says so."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from cpv.api.managers import ModelCheckpoints
from cpv.integrations import VersioningError, versioning
from cpv.ops.init import init_repository
from cpv.settings.config import StorageSettings, UserConfig, save_user_config

pytestmark = pytest.mark.s3


def test_push_failure_mid_training_is_loud_and_local_versions_stay(tmp_path: Path) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    stopped = False
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="integ"
        )
        save_user_config(
            UserConfig(
                storage=StorageSettings(
                    provider="minio", bucket="integ", endpoint_url=endpoint, region="us-east-1"
                )
            )
        )
        repo = init_repository(team="acme", model="tiny", path=tmp_path / "tiny")
        ckpt = tmp_path / "model.bin"

        v = versioning(repo=repo, push=True)
        ckpt.write_bytes(b"epoch 0 weights")
        v.log_checkpoint(ckpt, metrics={"epoch": 0})
        (first,) = v.wait()  # pushed while the endpoint is up
        assert first.pushed is True

        server.stop()  # the storage goes away mid-training
        stopped = True
        started = time.monotonic()
        for epoch in (1, 2):
            ckpt.write_bytes(f"epoch {epoch} weights".encode())
            v.log_checkpoint(ckpt, metrics={"epoch": epoch})
        assert time.monotonic() - started < 1.0  # the loop never waits for the upload

        with pytest.raises(VersioningError) as info:
            v.close()
    finally:
        if not stopped:
            server.stop()

    err = info.value
    assert "tagged locally but not pushed: model/v0.2, model/v0.3" in str(err)
    assert "cpv push" in err.hint
    assert [o.pushed for o in err.outcomes] == [True, False, False]
    records = ModelCheckpoints(repo).list()
    assert [(r.version, r.metrics["epoch"]) for r in records] == [
        ("v0.1", 0),
        ("v0.2", 1),
        ("v0.3", 2),
    ]
    remote_tags = subprocess.run(
        ["git", "ls-remote", "--tags", "origin"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "refs/tags/model/v0.1" in remote_tags and "model/v0.2" not in remote_tags
