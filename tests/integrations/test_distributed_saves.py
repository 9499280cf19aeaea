"""Checkpoints saved by many ranks (DCP): one version per save, every rank uploading its own
shards. Gloo processes on the CPU, each with a folder of its own standing for a node (its
clone of the model and its checkpoint folder); no process reads another's folder."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from cpv.api.managers import ModelCheckpoints  # noqa: E402
from cpv.ops.init import init_repository  # noqa: E402
from cpv.ops.pull import clone  # noqa: E402
from tests.conftest import run_cpv  # noqa: E402

from .conftest import dvc_file_md5s, md5  # noqa: E402

WORKER = Path(__file__).with_name("_dcp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _nodes(tmp_path: Path, world: int, *, storage: str | None = None) -> list[Path]:
    """``world`` node folders: node 0's model is the one made here, the others clone it."""
    nodes = [tmp_path / f"node{r}" for r in range(world)]
    for node in nodes:
        node.mkdir()
    init_repository(team="acme", model="sharded", path=nodes[0] / "model", storage=storage)
    subprocess.run(["git", "push", "-q", "origin", "HEAD"], cwd=nodes[0] / "model", check=True)
    for node in nodes[1:]:
        clone(_origin(nodes[0] / "model"), node / "model")
    return nodes


def _origin(repo: Path) -> str:
    return subprocess.run(
        ["git", "remote", "get-url", "origin"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _run(nodes: list[Path], out: Path, args: dict, env: dict[str, str] | None = None) -> list[dict]:
    """Start one process per node, wait for all; each one's report."""
    out.mkdir(exist_ok=True)
    port = str(_free_port())
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "CPV_FAULT")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(r),
                str(len(nodes)),
                port,
                str(node),
                str(out),
                json.dumps(args),
            ],
            env={**base, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r, node in enumerate(nodes)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(nodes), "\n".join(logs)
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(len(nodes))]


def _node_files(node: Path) -> dict[str, str]:
    """md5 of each file this node's rank saved (the last save)."""
    return {p.name: md5(p.read_bytes()) for p in (node / "ckpt").iterdir() if p.is_file()}


def _check_saved(nodes: list[Path], reports: list[dict], saves: int) -> list:
    records = ModelCheckpoints(nodes[0] / "model").list()
    assert [r.version for r in records] == [f"v0.{n + 1}" for n in range(saves)]
    for report in reports:  # every rank knows the version each save made
        assert [o["tag"] for o in report["outcomes"]] == [r.tag for r in records]
        assert {o["status"] for o in report["outcomes"]} == {"versioned"}
        assert report["error"] is None
    last = records[-1]
    assert last.distributed is not None and last.distributed.world_size == len(nodes)
    files = dvc_file_md5s(nodes[0] / "model", last.content_hash)
    for rank, node in enumerate(nodes):  # every rank's files, byte for byte, in one version
        mine = _node_files(node)
        assert mine and all(files[name] == digest for name, digest in mine.items())
        assert any(name.startswith(f"__{rank}_") for name in mine)
        shards = last.distributed.ranks[rank]
        assert (shards.rank, sorted(shards.files)) == (rank, sorted(mine))
    assert set(files) == {n for node in nodes for n in _node_files(node)}
    for node in nodes[1:]:  # the other ranks uploaded from their snapshots: no cache growth
        cache = node / "model" / ".dvc" / "cache"
        assert not [p for p in cache.rglob("*") if p.is_file()], node
    return records


@pytest.mark.slow
def test_two_ranks_one_version_per_save_then_loaded_by_three(tmp_path: Path) -> None:
    nodes = _nodes(tmp_path, 2)
    reports = _run(nodes, tmp_path / "out", {"mode": "save", "saves": 2, "push": True})
    records = _check_saved(nodes, reports, 2)

    # A fresh clone elsewhere gets the whole checkpoint, byte for byte
    fresh = tmp_path / "fresh"
    run_cpv("clone", _origin(nodes[0] / "model"), str(fresh))
    got = {p.name: md5(p.read_bytes()) for p in (fresh / "checkpoints").iterdir()}
    assert got == dvc_file_md5s(nodes[0] / "model", records[-1].content_hash)
    shown = json.loads(run_cpv("show", "v0.2", "--json", cwd=fresh).stdout)
    assert shown["distributed"]["world_size"] == 2
    assert [r["rank"] for r in shown["distributed"]["ranks"]] == [0, 1]
    text = run_cpv("show", "v0.2", cwd=fresh).stdout
    assert "world size" in text and "rank 1" in text and "__1_0.distcp" in text

    # Three new nodes resume from `latest`: DCP reshards the two ranks' save into three
    later = [tmp_path / f"later{r}" for r in range(3)]
    for node in later:
        node.mkdir()
        clone(_origin(nodes[0] / "model"), node / "model")
    loaded = _run(later, tmp_path / "out3", {"mode": "load", "saves": 2})
    assert [r["same"] for r in loaded] == [True, True, True]


@pytest.mark.slow
def test_a_failing_rank_fails_the_save_on_every_rank(tmp_path: Path) -> None:
    nodes = _nodes(tmp_path, 3)
    reports = _run(nodes, tmp_path / "out", {"mode": "save", "saves": 3, "fault": "2:1"})
    records = ModelCheckpoints(nodes[0] / "model").list()
    assert [r.version for r in records] == ["v0.1", "v0.2"]  # saves 0 and 2; not save 1
    tags = subprocess.run(
        ["git", "tag", "--list"],
        cwd=nodes[0] / "model",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert tags == ["model/v0.1", "model/v0.2"]
    for report in reports:
        assert [o["status"] for o in report["outcomes"]] == ["versioned", "failed", "versioned"]
        assert "rank 2" in report["outcomes"][1]["error"]
        assert "injected fault at shard_upload" in report["outcomes"][1]["error"]
        assert report["error"] is not None and "save 2" in report["error"]


@pytest.mark.s3
@pytest.mark.slow
def test_three_ranks_upload_to_s3_and_one_rank_loads(tmp_path: Path, s3_user_config: str) -> None:
    nodes = _nodes(tmp_path, 3)
    reports = _run(nodes, tmp_path / "out", {"mode": "save", "saves": 1, "push": True})
    _check_saved(nodes, reports, 1)
    one = tmp_path / "single"
    one.mkdir()
    clone(_origin(nodes[0] / "model"), one / "model")
    assert _run([one], tmp_path / "out1", {"mode": "load", "saves": 1}) == [
        {"rank": 0, "same": True}
    ]


def test_without_a_process_group_a_distributed_save_is_a_world_of_one(tmp_path: Path) -> None:
    """No process group: the save still goes straight to the storage, recorded as one rank's."""
    import torch
    import torch.distributed.checkpoint as dcp

    from cpv.integrations import versioning

    repo = init_repository(team="acme", model="solo", path=tmp_path / "solo")
    ckpt = tmp_path / "ckpt"
    dcp.save({"w": torch.arange(8.0)}, checkpoint_id=ckpt)
    with versioning(repo=repo) as v:
        future = v.log_checkpoint(ckpt, distributed=True)
        assert future is not None and future.result().status == "versioned"
    (record,) = ModelCheckpoints(repo).list()
    assert record.distributed is not None and record.distributed.world_size == 1
    names = sorted(p.name for p in ckpt.iterdir())
    assert record.distributed.ranks[0].files == names
    storage = Path(os.environ["CPV_HOME"]) / "storage" / "acme" / "solo" / "files" / "md5"
    for name, digest in dvc_file_md5s(repo, record.content_hash).items():
        assert (storage / digest[:2] / digest[2:]).is_file(), name  # uploaded, without a push
    text = run_cpv("show", "v0.1", cwd=repo).stdout
    assert "world size" in text and "rank 0" in text and ".metadata" in text


@pytest.mark.slow
def test_the_example_trains_on_two_ranks_and_reloads_on_one(tmp_path: Path) -> None:
    """examples/distributed_dcp.py as docs/distributed.md runs it (torchrun, then python)."""
    example = Path(__file__).parents[2] / "examples" / "distributed_dcp.py"
    repo = init_repository(team="acme", model="tiny-fsdp", path=tmp_path / "tiny-fsdp")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    steps = [
        [*torchrun, "--nproc-per-node", "2", str(example), "train", "--repo", ".", "--epochs", "2"],
        [sys.executable, str(example), "check", "--repo", "."],
    ]
    out = []
    for step in steps:
        proc = subprocess.run(step, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out.append(proc.stdout)
    assert "model/v0.2  2 ranks" in out[0]
    assert "loaded model/v0.2 on 1 rank(s): weights identical: True" in out[1]
    (latest, *_) = reversed(ModelCheckpoints(repo).list())
    assert latest.distributed is not None and latest.distributed.world_size == 2


@pytest.mark.slow
def test_a_rank_without_a_repository_fails_the_save_on_every_rank_without_a_hang(
    tmp_path: Path,
) -> None:
    """Rank 1's node has no clone: it raises at once, and rank 0 records why, named."""
    nodes = _nodes(tmp_path, 2)
    shutil.rmtree(nodes[1] / "model")
    reports = _run(nodes, tmp_path / "out", {"mode": "save", "saves": 1})
    assert ModelCheckpoints(nodes[0] / "model").list() == []
    (mine,) = reports[1]["outcomes"]
    assert mine["status"] == "raised" and str(nodes[1] / "model") in mine["error"]
    (zero,) = reports[0]["outcomes"]
    assert zero["status"] == "failed"
    assert "the save failed on rank 1 (" in zero["error"] and mine["error"] in zero["error"]
