"""`cpv models`: the catalog read from the per-model index `cpv push` keeps beside the data
(real git, moto S3 over HTTP, and the local default storage)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from cpv import DataCheckpoints, ModelCheckpoints
from cpv._s3 import catalog as _s3_catalog
from cpv.catalog.cache import COPIES, DIGEST
from cpv.catalog.index import INDEX_NAME, public_url
from cpv.catalog.publish import publish_index
from cpv.core.repo import ModelRepo
from cpv.domain.errors import InjectedFault
from cpv.domain.paths import cpv_home
from cpv.objects import store as storage_module
from cpv.ops.init import init_repository
from cpv.ops.models import models
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import git, run_cpv, write_checkpoint


def _model(tmp_path: Path, team: str, name: str, losses: list[float], *, best: bool) -> Path:
    """A model with one version per loss (weights distinct per version)."""
    repo = init_repository(team=team, model=name, path=tmp_path / f"{team}-{name}")
    if best:
        with (repo / "cpv.yaml").open("a") as fh:
            fh.write("best: {metric: loss, mode: min}\n")
        git(repo, "commit", "-qam", "best: loss")
    for i, loss in enumerate(losses):
        write_checkpoint(repo, f"{team}/{name} weights {i} ".encode() * 50)
        ModelCheckpoints(repo).tag(metrics={"loss": loss, "step": i})
    return repo


def _models(team: str | None = None) -> dict[str, dict[str, Any]]:
    """The catalog as ``cpv models --json`` prints it (in-process: the CLI costs a second)."""
    out = models(team=team).model_dump(mode="json", by_alias=True)
    return {f"{m['team']}/{m['model']}": m for m in out["models"]}


def _cli_models(*args: str) -> dict[str, dict[str, Any]]:
    out = json.loads(run_cpv("models", "--json", *args).stdout)
    return {f"{m['team']}/{m['model']}": m for m in out["models"]}


@pytest.mark.s3
def test_s3_catalog_of_two_teams_after_push(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    asr = _model(tmp_path, "acme", "asr", [0.9, 0.2, 0.5], best=True)
    (asr / "data/train/rows.txt").write_text("a\nb\n")
    DataCheckpoints(asr).tag()
    ModelCheckpoints(asr).promote("v0.1", "prod")
    tts = _model(tmp_path, "acme", "tts", [1.0], best=False)
    det = _model(tmp_path, "vision", "det", [0.4, 0.3], best=True)
    for repo in (asr, tts, det):
        assert push(repo).index_warning is None
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.put_object(Bucket=s3_user_config, Key="acme/notes/readme.txt", Body=b"not a model")

    listed = _cli_models()
    assert sorted(listed) == ["acme/asr", "acme/tts", "vision/det"]  # notes/ is no model
    a = listed["acme/asr"]
    assert (a["model_version"], a["data_version"]) == ("v0.3", "v0.1")
    assert (a["model_versions"], a["data_versions"]) == (3, 1)
    assert a["aliases"] == {"prod": "model/v0.1"}
    assert a["best"] == {"metric": "loss", "mode": "min", "tag": "model/v0.2", "value": 0.2}
    assert a["metrics"] == {"loss": 0.5, "step": 2}
    assert a["indexed"] and a["storage_url"] == "s3://cpv-test/acme/asr"
    assert a["git_remote"] == git(asr, "remote", "get-url", "origin").strip()
    assert a["commit"] == git(asr, "rev-parse", "HEAD").strip() and a["updated_at"]
    sizes = [
        o["Size"]
        for o in s3.list_objects_v2(Bucket=s3_user_config, Prefix="acme/asr/files/")["Contents"]
    ]
    assert (a["size_bytes"], a["objects"]) == (sum(sizes), len(sizes))
    assert listed["acme/tts"]["best"] is None and listed["acme/tts"]["aliases"] == {}
    assert listed["vision/det"]["best"]["tag"] == "model/v0.2"

    assert sorted(_cli_models("--team", "vision")) == ["vision/det"]
    assert _models("nobody") == {}
    table = run_cpv("models").stdout.splitlines()
    assert table[0].split()[:3] == ["model", "latest", "data"]
    row = next(line for line in table if line.startswith("acme/asr"))
    assert "v0.3" in row and "prod=model/v0.1" in row and "loss=0.2 model/v0.2" in row


@pytest.mark.s3
def test_a_model_pushed_before_the_index_is_listed_then_indexed_by_a_push(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = _model(tmp_path, "acme", "old", [0.5], best=False)
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.delete_object(Bucket=s3_user_config, Key=f"acme/old/{INDEX_NAME}")
    s3.delete_object(Bucket=s3_user_config, Key=f"{COPIES}acme/old.json")  # nor the copy
    old = _models()["acme/old"]
    assert not old["indexed"] and old["model_version"] is None and old["note"]
    assert "no index yet" in run_cpv("models").stdout
    assert push(repo).up_to_date  # nothing sent to git or the bucket's files/ …
    assert _models()["acme/old"]["model_version"] == "v0.1"  # … and the index is back


def test_an_unpublished_version_is_never_in_the_index(repo: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    push(repo)
    write_checkpoint(repo, b"two")
    ModelCheckpoints(repo).tag()  # v0.2: local only
    assert _models()["acme/whisper-small"]["model_version"] == "v0.1"
    push(repo, dry_run=True)
    assert _models()["acme/whisper-small"]["model_version"] == "v0.1"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CPV_FAULT", "after_data_push")  # the bytes are sent, the tag is not
        with pytest.raises(InjectedFault):
            push(repo)
    assert _models()["acme/whisper-small"]["model_version"] == "v0.1"
    push(repo)
    assert _models()["acme/whisper-small"]["model_version"] == "v0.2"


def test_the_index_takes_in_what_another_clone_published(repo: Path, tmp_path: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    write_checkpoint(other, b"two")
    ModelCheckpoints(other).tag()
    push(other)  # v0.2, which the first clone has not fetched
    ModelCheckpoints(repo).promote("v0.1", "prod")
    push(repo)
    entry = _models()["acme/whisper-small"]
    assert entry["model_version"] == "v0.2" and entry["model_versions"] == 2
    assert entry["aliases"] == {"prod": "model/v0.1"}


def test_local_default_two_teams_and_team_filter(tmp_path: Path) -> None:
    _model(tmp_path, "acme", "a", [0.1], best=False)
    for repo in (tmp_path / "acme-a", _model(tmp_path, "beta", "b", [0.2, 0.1], best=True)):
        push(repo)
    listed = _models()
    assert sorted(listed) == ["acme/a", "beta/b"]
    assert listed["beta/b"]["storage_url"] == str(cpv_home() / "storage/beta/b")
    assert listed["beta/b"]["git_remote"] == str(cpv_home() / "git/beta/b.git")
    assert sorted(_models("acme")) == ["acme/a"]
    narrow = run_cpv("models", env={"COLUMNS": "60"}).stdout.splitlines()
    assert narrow[0].split() == ["model", "latest", "data", "aliases", "best", "size"]
    assert all(len(line) <= 60 for line in narrow)
    bad = run_cpv("models", "--team", "Not A Team", check=False)
    assert bad.returncode == 2 and "invalid team name" in bad.stderr


def test_models_on_an_empty_storage() -> None:
    out = json.loads(run_cpv("models", "--json").stdout)
    assert out["models"] == [] and out["storage"] == str(cpv_home() / "storage")
    assert "No models in" in run_cpv("models").stdout


def test_a_failing_index_write_warns_and_the_push_still_publishes(repo: Path) -> None:
    (cpv_home() / "storage/acme/whisper-small" / INDEX_NAME).mkdir(parents=True)  # unwritable
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    proc = run_cpv("push", cwd=repo)
    assert "warning: the catalog index of acme/whisper-small was not updated" in proc.stderr
    bare = git(repo, "remote", "get-url", "origin").strip()
    assert "refs/tags/model/v0.1" in git(repo, "ls-remote", "--tags", bare)
    entry = _models()["acme/whisper-small"]
    assert not entry["indexed"] and "does not read" in entry["note"]


def test_gc_remote_and_plain_dvc_keep_the_index(repo: Path, tmp_path: Path) -> None:
    for i in range(3):
        write_checkpoint(repo, f"weights {i} ".encode() * 100)
        ModelCheckpoints(repo).tag()
    push(repo)
    index = cpv_home() / "storage/acme/whisper-small" / INDEX_NAME
    before = json.loads(index.read_text())
    run_cpv("gc", "--remote", "--keep-last", "1", cwd=repo)
    assert json.loads(index.read_text()) == before  # gc --remote left it alone
    push(repo)  # publishes the removal markers: the index follows
    after = _models()["acme/whisper-small"]
    assert after["model_versions"] == 1 and after["size_bytes"] < before["size_bytes"]
    # Plain git + DVC with the index beside the objects: pull works, gc leaves it.
    plain = tmp_path / "plain"
    git(tmp_path, "clone", "-q", git(repo, "remote", "get-url", "origin").strip(), str(plain))
    subprocess.run(["dvc", "pull", "-q"], cwd=plain, check=True, capture_output=True)
    assert (plain / "checkpoints/model.bin").read_bytes() == b"weights 2 " * 100
    subprocess.run(
        ["dvc", "gc", "--cloud", "--workspace", "--force", "-q"],
        cwd=plain,
        check=True,
        capture_output=True,
    )
    assert index.is_file() and json.loads(index.read_text())["model_version"] == "v0.3"


SECRET_URLS = [
    ("https://ci:s3cr3t-t0ken@git.example.com/acme/m.git", "https://git.example.com/acme/m.git"),
    ("https://ghp_s3cr3tT0ken@github.com/acme/m.git", "https://github.com/acme/m.git"),
    (
        "https://git.example.com:8443/acme/m.git?token=s3cr3t",
        "https://git.example.com:8443/acme/m.git",
    ),
    (
        "ssh://git:s3cr3t@git.example.com:2222/acme/m.git",
        "ssh://git@git.example.com:2222/acme/m.git",
    ),
    ("git@github.com:acme/m.git", "git@github.com:acme/m.git"),
]


@pytest.mark.parametrize(("url", "shown"), SECRET_URLS)
def test_public_url_drops_secrets(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_a_credential_in_the_git_remote_never_reaches_the_catalog(repo: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    push(repo)
    url, shown = SECRET_URLS[0]
    git(repo, "remote", "set-url", "origin", url)
    # Nothing new to fetch, so the index is rewritten without a request to that host.
    assert publish_index(ModelRepo.open(repo), branch="main", remote_tags=[]) is None
    raw = (cpv_home() / "storage/acme/whisper-small" / INDEX_NAME).read_text()
    assert "s3cr3t" not in raw and json.loads(raw)["git_remote"] == shown
    for args in (("models",), ("models", "--json")):
        out = run_cpv(*args).stdout
        assert "s3cr3t" not in out and shown in out


@pytest.mark.s3
def test_a_listing_reads_only_the_indexes_that_changed_since_the_last(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repos = [_model(tmp_path, "acme", name, [0.5], best=False) for name in ("a", "b", "c")]
    for repo in repos:
        push(repo)
    reads: list[str] = []
    for name in ("get_small", "get_tagged"):
        real = getattr(_s3_catalog, name)

        def counted(client: Any, bucket: str, key: str, real: Any = real, **kw: Any) -> Any:
            reads.append(key)
            return real(client, bucket, key, **kw)

        monkeypatch.setattr(_s3_catalog, name, counted)
    assert set(_models()) == {"acme/a", "acme/b", "acme/c"}  # first listing: every copy
    assert sorted(reads) == sorted([DIGEST, *(f"{COPIES}acme/{n}.json" for n in "abc")])

    reads.clear()
    assert _models()["acme/b"]["model_version"] == "v0.1"
    assert reads == [DIGEST]  # nothing changed: the digest alone

    write_checkpoint(repos[1], b"b, second")
    ModelCheckpoints(repos[1]).tag()
    push(repos[1])
    reads.clear()
    assert _models()["acme/b"]["model_version"] == "v0.2"
    assert sorted(reads) == sorted([DIGEST, f"{COPIES}acme/b.json"])  # the changed one only


@pytest.mark.s3
def test_push_lists_the_storage_once_and_its_index_counts_what_is_there(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _model(tmp_path, "acme", "a", [0.5], best=False)
    push(repo)
    write_checkpoint(repo, b"second weights " * 100)
    ModelCheckpoints(repo).tag()
    listings: list[str] = []
    real = storage_module._s3_io.list_sizes

    def counted(client: Any, bucket: str, prefix: str) -> Any:
        listings.append(prefix)
        return real(client, bucket, prefix)

    monkeypatch.setattr(storage_module._s3_io, "list_sizes", counted)
    assert push(repo).objects_pushed == 2 and listings == ["acme/a/files/md5/"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    found = s3.list_objects_v2(Bucket=s3_user_config, Prefix="acme/a/files/")["Contents"]
    row = _models()["acme/a"]
    # What push listed plus what it uploaded is what the storage holds.
    assert (row["size_bytes"], row["objects"]) == (sum(o["Size"] for o in found), len(found))


@pytest.mark.s3
def test_a_broken_or_stale_digest_never_shows_a_wrong_index(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    repo = _model(tmp_path, "acme", "a", [0.5, 0.4], best=False)
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.put_object(Bucket=s3_user_config, Key=DIGEST, Body=b"{not json")
    assert _models()["acme/a"]["model_version"] == "v0.2"
    snap = json.loads(s3.get_object(Bucket=s3_user_config, Key=DIGEST)["Body"].read())
    assert snap["models"]["acme/a"]["index"]["model_version"] == "v0.2"  # written again
    # an entry whose ETag is not the copy's is never used, whatever it says
    snap["models"]["acme/a"]["etag"] = '"0000"'
    snap["models"]["acme/a"]["index"]["model_version"] = "v9.9"
    s3.put_object(Bucket=s3_user_config, Key=DIGEST, Body=json.dumps(snap).encode())
    assert _models()["acme/a"]["model_version"] == "v0.2"
    # a model whose folder is gone is not listed from its copy or the digest
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=s3_user_config, Prefix="acme/a/"
    ):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=s3_user_config, Key=obj["Key"])
    assert _models() == {}
