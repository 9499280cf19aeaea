"""One rank of a gloo run that saves a sharded checkpoint with DCP (test_distributed_saves.py).

Each rank has a folder of its own (``<node>``: a node with no shared filesystem) holding its
clone of the model repository (``<node>/model``) and its checkpoint folder
(``<node>/ckpt``); it reads no other rank's folder. The checkpoint is two tensors sharded
by rows over the ranks (DTensor ``Shard(0)``), so every rank writes different bytes.

``save`` mode: ``saves`` saves, each versioned with ``log_checkpoint(distributed=True)``;
``fault`` = "RANK:SAVE" injects a storage failure on that rank at that save.
``load`` mode: ``cpv pull latest`` into this node's clone, then ``dcp.load`` at this world
size and the tensors compared with what the last save held.
Writes ``<out>/rank<r>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import Shard, distribute_tensor

from cpv.domain.errors import CpvError
from cpv.integrations import VersioningError, versioning


def full_state(save: int) -> dict[str, torch.Tensor]:
    """What save number ``save`` holds (the same on every rank, before sharding)."""
    return {
        "w": torch.arange(48, dtype=torch.float32).reshape(12, 4) + 100 * save,
        "b": torch.arange(6, dtype=torch.float32) - save,
    }


def sharded(state: dict[str, torch.Tensor], world: int) -> dict[str, torch.Tensor]:
    mesh = init_device_mesh("cpu", (world,))
    return {k: distribute_tensor(v, mesh, [Shard(0)]) for k, v in state.items()}


def save(rank: int, world: int, node: Path, args: dict) -> dict:
    fault = args.get("fault")  # "RANK:SAVE"
    outcomes, error = [], None
    with versioning(repo=node / "model", push=args.get("push", False)) as v:
        try:
            for n in range(args["saves"]):
                dcp.save(sharded(full_state(n), world), checkpoint_id=node / "ckpt")
                if fault == f"{rank}:{n}":
                    os.environ["CPV_FAULT"] = "shard_upload"
                try:
                    future = v.log_checkpoint(node / "ckpt", distributed=True, metrics={"save": n})
                except CpvError as exc:  # this rank's own mistake, raised here at once
                    outcomes.append({"status": "raised", "tag": None, "error": str(exc)})
                    break
                outcome = future.result()  # (the fault is read on the worker thread)
                os.environ.pop("CPV_FAULT", None)
                outcomes.append(
                    {
                        "status": outcome.status,
                        "tag": outcome.tag,
                        "error": str(outcome.error or ""),
                    }
                )
            v.close()
        except VersioningError as exc:
            error = f"{exc}\n{exc.report}"
    return {"rank": rank, "outcomes": outcomes, "error": error}


def load(rank: int, world: int, node: Path, args: dict) -> dict:
    from cpv import ModelCheckpoints

    ModelCheckpoints(node / "model").pull("latest")
    expected = full_state(args["saves"] - 1)
    target = sharded({k: torch.zeros_like(t) for k, t in expected.items()}, world)
    dcp.load(target, checkpoint_id=node / "model" / "checkpoints")
    same = all(torch.equal(target[k].full_tensor(), expected[k]) for k in expected)
    return {"rank": rank, "same": same}


def main() -> None:
    rank, world, port, node, out = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        Path(sys.argv[4]),
        Path(sys.argv[5]),
    )
    args = json.loads(sys.argv[6])
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        result = (save if args["mode"] == "save" else load)(rank, world, node, args)
    finally:
        dist.destroy_process_group()
    (out / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
