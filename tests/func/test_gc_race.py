"""A version another clone publishes while `cpv gc --remote` (or `delete --remote`) runs
keeps its bytes.

gc reads the remote's tags, decides which objects no kept version needs, then deletes them.
A push elsewhere in between may publish a version that needs one of them: it saw the object
in the storage, so it did not upload it. After deleting, gc reads the tags again and uploads
what such a version needs from its own cache, or says what it could not put back.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.objects import object_path
from cpv.ops.gc import gc
from cpv.ops.init import init_repository
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint

WEIGHTS = b"weights one"


def _two_versions_and_a_clone(tmp_path: Path) -> tuple[Path, Path]:
    """``a`` made and pushed v0.1 (WEIGHTS) and v0.2; ``b`` is a clone of it."""
    a = init_repository(team="acme", model="m", path=tmp_path / "a")
    write_checkpoint(a, WEIGHTS)
    ModelCheckpoints(a).tag()
    write_checkpoint(a, b"weights two")
    ModelCheckpoints(a).tag()
    push(a)
    b, _ = clone("acme/m", tmp_path / "b")
    return a, b


def _publish_meanwhile(
    monkeypatch: pytest.MonkeyPatch, b: Path, module: str = "cpv.ops.gc"
) -> list[Any]:
    """Once gc (or delete) has read the tags and chosen what to delete, ``b`` publishes
    v0.3: v0.1's weights (already stored, so not uploaded) and a new file."""
    import importlib

    gc_module = importlib.import_module(module)
    real, pushed = gc_module.remove_remote, []

    def remove_remote(store: Any, oids: Any, *, dry_run: bool) -> dict[str, int]:
        write_checkpoint(b, WEIGHTS)
        write_checkpoint(b, b"notes", "notes.txt")
        ModelCheckpoints(b).tag()
        pushed.append(push(b))
        return real(store, oids, dry_run=dry_run)

    monkeypatch.setattr(gc_module, "remove_remote", remove_remote)
    return pushed


def _stored(endpoint: str, md5: str) -> bool:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    found = s3.list_objects_v2(Bucket="cpv-test", Prefix=f"acme/m/files/md5/{md5[:2]}/")
    return any(o["Key"].endswith(md5[2:]) for o in found.get("Contents", []))


@pytest.mark.s3
def test_gc_uploads_again_what_a_version_published_meanwhile_needs(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _two_versions_and_a_clone(tmp_path)
    pushed = _publish_meanwhile(monkeypatch, b)
    result = gc(a, keep_last=1, remote=True)
    assert [p.pushed_tags for p in pushed] == [["model/v0.3"]]
    assert pushed[0].objects_pushed == 2  # the listing and notes.txt; the weights were there
    assert [c.tag for c in result.collected] == ["model/v0.1"]
    assert result.restored == 1 and result.warning is None
    assert _stored(s3_endpoint, hashlib.md5(WEIGHTS).hexdigest())
    c, _ = clone("acme/m", tmp_path / "c")  # v0.3, the latest, comes whole
    assert (c / "checkpoints" / "model.bin").read_bytes() == WEIGHTS


@pytest.mark.s3
def test_gc_says_what_it_cannot_put_back_and_verify_repair_does_it(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = _two_versions_and_a_clone(tmp_path)
    md5 = hashlib.md5(WEIGHTS).hexdigest()
    mine = object_path(a / ".dvc" / "cache", md5)
    os.chmod(mine, 0o644)
    mine.unlink()  # this clone no longer has v0.1's weights; the storage does
    _publish_meanwhile(monkeypatch, b)
    result = gc(a, keep_last=1, remote=True)
    assert result.restored == 0 and not _stored(s3_endpoint, md5)
    assert result.warning is not None and "model/v0.3" in result.warning
    assert "cpv verify --remote --repair" in result.warning
    run_cpv("verify", "--remote", "--repair", "model/v0.3", cwd=b)  # b made v0.3: it has them
    assert _stored(s3_endpoint, md5)


@pytest.mark.s3
def test_delete_remote_uploads_again_what_a_version_published_meanwhile_needs(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpv.ops.delete import delete

    a, b = _two_versions_and_a_clone(tmp_path)
    _publish_meanwhile(monkeypatch, b, "cpv.ops.delete")
    result = delete(a, version="v0.1", remote=True)
    assert result.restored == 1 and result.warning is None
    assert _stored(s3_endpoint, hashlib.md5(WEIGHTS).hexdigest())
    assert result.objects_remote == 1  # v0.1's listing alone left the storage
