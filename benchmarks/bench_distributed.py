"""A sharded checkpoint saved by many ranks: the training stall per save on each rank, and
the time until the save is done, with plain DCP (``dcp.save``, ``dcp.async_save``) and
with cpv versioning it (``dcp.save`` + ``log_checkpoint(distributed=True)``).

    python benchmarks/bench_distributed.py [--world 2] [--size-mb 64] [--saves 6] [--step-seconds 1] [--s3]

Starts ``--world`` gloo processes on the CPU, each with a folder of its own (a node: its
clone of the model and its checkpoint folder). The state is ``--size-mb`` of float32
sharded by rows over the ranks (DTensor ``Shard(0)``), different at every save. Between
saves each rank computes for ``--step-seconds`` (no collective), as training would, so
that background work has something to overlap with. Rounds interleave the variants, in
every order in turn (``--saves 6`` covers each once): what ran just before a save changes
its time, as the disk is still busy with it.

* stall: what the training thread waits for at a save (``dcp.save``; ``async_save`` until
  it returns; cpv: ``dcp.save`` + ``log_checkpoint``);
* done: from the save's start until it is on disk (``dcp.save``), written (``async_save``'s
  future) or versioned, with every rank's shards in the storage (cpv's future);
* of which log_checkpoint: cpv's own part of the stall (the snapshot of the rank's files).

Targets (issue 24): cpv's stall within 1.2x of ``dcp.save``'s; ``--s3`` uses a moto server.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("dcp.save", "async_save", "cpv")
#: Round n runs the variants in the order ORDERS[n % 6]: each follows each other equally often.
ORDERS = list(itertools.permutations(VARIANTS))


def rank_main(args: argparse.Namespace) -> None:
    import torch
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    from cpv.integrations import versioning

    rank, world, node = args.rank, args.world, Path(args.node)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=rank, world_size=world
    )
    mesh = init_device_mesh("cpu", (world,))
    rows = args.size_mb * (1 << 20) // 4 // 1024
    rows -= rows % world
    base = torch.randn(rows, 1024, generator=torch.Generator().manual_seed(0))
    a = torch.randn(256, 256)
    timings: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    with versioning(repo=node / "model", push=False) as v:
        for n in range(args.saves):
            for variant in ORDERS[n % len(ORDERS)]:
                state = {
                    "w": distribute_tensor(
                        base + (n * 10 + VARIANTS.index(variant)), mesh, [Shard(0)]
                    )
                }
                folder = node / f"ckpt-{variant}-{n}"
                dist.barrier()
                start = time.perf_counter()
                cpv_part = 0.0
                if variant == "dcp.save":
                    dcp.save(state, checkpoint_id=folder)
                    stall = time.perf_counter() - start
                    future = None
                elif variant == "async_save":
                    future = dcp.async_save(state, checkpoint_id=folder)
                    stall = time.perf_counter() - start
                else:
                    dcp.save(state, checkpoint_id=folder)
                    logged = time.perf_counter()
                    future = v.log_checkpoint(folder, distributed=True)
                    stall = time.perf_counter() - start
                    cpv_part = time.perf_counter() - logged
                finished: list[float] = []
                if future is not None:  # when the save is done, not when the loop looks
                    future.add_done_callback(
                        lambda _f, box=finished: box.append(time.perf_counter())
                    )
                until = time.perf_counter() + args.step_seconds
                while time.perf_counter() < until:  # training goes on meanwhile
                    a = torch.tanh(a @ a)
                if future is not None:
                    future.result()
                    while not finished:  # (callbacks run right after the result is set)
                        time.sleep(0.001)
                done = finished[0] - start if finished else stall
                timings[variant].append((stall, done, cpv_part))
                dist.barrier()
    everyone: list = [None] * world
    dist.all_gather_object(everyone, timings)
    if rank == 0:
        print(json.dumps(everyone))
    dist.destroy_process_group()


def _setup(world: int, root: Path, s3: bool) -> list[Path]:
    from cpv.ops.init import init_repository
    from cpv.ops.pull import clone

    nodes = [root / f"node{r}" for r in range(world)]
    for node in nodes:
        node.mkdir()
    init_repository(team="bench", model="sharded", path=nodes[0] / "model")
    subprocess.run(["git", "push", "-q", "origin", "HEAD"], cwd=nodes[0] / "model", check=True)
    origin = subprocess.run(
        ["git", "remote", "get-url", "origin"],
        cwd=nodes[0] / "model",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for node in nodes[1:]:
        clone(origin, node / "model")
    return nodes


def _moto(home: Path) -> object:
    """A moto S3 server, and this user's storage pointed at its bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="bench", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )
    return server


def _table(everyone: list[dict]) -> str:
    lines = [
        "| rank | variant | stall per save | of which log_checkpoint | done per save "
        "| stall vs dcp.save | done vs dcp.save |",
        "|---|---|---|---|---|---|---|",
    ]
    for rank, timings in enumerate(everyone):
        med = {v: [statistics.median(t[i] for t in timings[v]) for i in range(3)] for v in VARIANTS}
        base_stall, base_done, _ = med["dcp.save"]
        for v in VARIANTS:
            stall, done, part = med[v]
            lines.append(
                f"| {rank} | {v} | {stall * 1e3:.0f} ms | "
                + (f"{part * 1e3:.0f} ms" if v == "cpv" else "")
                + f" | {done:.2f} s | {stall / base_stall:.2f}x | {done / base_done:.2f}x |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--size-mb", type=int, default=64, help="the whole state, all ranks")
    parser.add_argument("--saves", type=int, default=6)
    parser.add_argument("--step-seconds", type=float, default=1.0)
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--rank", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--node", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank is not None:
        rank_main(args)
        return
    import socket

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["CPV_HOME"] = str(root / "home")
        server = _moto(root) if args.s3 else None
        nodes = _setup(args.world, root, args.s3)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])
        common = [
            "--world",
            str(args.world),
            "--size-mb",
            str(args.size_mb),
            "--port",
            port,
            "--saves",
            str(args.saves),
            "--step-seconds",
            str(args.step_seconds),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, *common, "--rank", str(r), "--node", str(node)],
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for r, node in enumerate(nodes)
        ]
        outs = [p.communicate()[0] for p in procs]
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    if any(p.returncode for p in procs):
        sys.exit("a rank failed")
    everyone = json.loads(outs[0].strip().splitlines()[-1])
    storage = "moto S3" if args.s3 else "local storage"
    print(
        f"world {args.world}, {args.size_mb} MB state ({args.size_mb / args.world:.0f} MB a rank), "
        f"{args.saves} saves per variant, {storage}"
    )
    print(_table(everyone))


if __name__ == "__main__":
    main()
