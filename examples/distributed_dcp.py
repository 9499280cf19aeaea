"""Version every sharded (DCP) save of an FSDP run from every rank, then reload the last
version at another world size and check the weights. Runs on CPU (gloo).

    cpv init acme/tiny-fsdp && cd tiny-fsdp
    torchrun --nproc-per-node 2 /path/to/examples/distributed_dcp.py train --repo .
    python /path/to/examples/distributed_dcp.py check --repo .          # world size 1
    torchrun --nproc-per-node 3 /path/to/examples/distributed_dcp.py check --repo .

``train``: a tiny model sharded with FSDP2 over the ranks; at each epoch every rank writes
its shard with ``dcp.save`` into ``--ckpt`` (its own folder on its own node, or one shared
folder: each rank versions only its own files) and calls
``v.log_checkpoint(..., distributed=True)``: one version per save, pushed. At the end,
rank 0 keeps the trained weights in full in ``<ckpt>/../final-weights.pt`` for ``check``.

``check``: a fresh clone of the model (as on a new machine), ``latest`` pulled, the DCP
checkpoint loaded into the model sharded over *this* run's ranks, every weight compared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    set_model_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import fully_shard

from cpv import ModelCheckpoints
from cpv.integrations import versioning


def tiny_model(world: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    if world > 1:  # sharded over the ranks (FSDP2); a single process keeps it whole
        fully_shard(model, mesh=init_device_mesh("cpu", (world,)))
    return model


def train(args: argparse.Namespace, rank: int, world: int) -> None:
    model = tiny_model(world)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    data = torch.Generator().manual_seed(1 + rank)  # each rank its own batches
    with versioning(repo=args.repo, push=True, params={"lr": 0.05, "world": world}) as v:
        for epoch in range(args.epochs):
            for _ in range(10):
                x = torch.randn(16, 8, generator=data)
                loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            state = {"model": get_model_state_dict(model)}
            dcp.save(state, checkpoint_id=args.ckpt)  # every rank writes its own shard
            v.log_checkpoint(
                args.ckpt, distributed=True, metrics={"loss": loss.item(), "epoch": epoch}
            )
        # leaving the block waits until every rank's part of every save is versioned
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    if rank == 0:
        torch.save(full, args.ckpt.parent / "final-weights.pt")
        print(f"trained {args.epochs} epochs on {world} ranks; versions:")
        for record in ModelCheckpoints(args.repo).list():
            print(f"  {record.tag}  {record.distributed.world_size} ranks  {record.metrics}")


def check(args: argparse.Namespace, rank: int, world: int) -> None:
    origin = subprocess.run(
        ["git", "remote", "get-url", "origin"],
        cwd=args.repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as fresh:  # this rank's new machine
        clone, _ = ModelCheckpoints.clone(origin, Path(fresh) / "model", version="latest")
        latest = clone.latest()
        model = tiny_model(world)
        state = {"model": get_model_state_dict(model)}
        dcp.load(state, checkpoint_id=clone.root / latest.path)  # resharded to this world
        set_model_state_dict(model, state["model"])
    expected = torch.load(args.ckpt.parent / "final-weights.pt")
    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    same = all(torch.equal(full[k], expected[k]) for k in expected)
    if rank == 0:
        print(f"loaded {latest.tag} on {world} rank(s): weights identical: {same}")
    if not same:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["train", "check"])
    parser.add_argument("--repo", type=Path, default=Path("."))
    parser.add_argument("--ckpt", type=Path, default=None, help="default: <repo>/../ckpt")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    args.ckpt = (args.ckpt or args.repo.resolve().parent / "ckpt").resolve()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if world > 1 else 0
    try:
        (train if args.step == "train" else check)(args, rank, world)
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
