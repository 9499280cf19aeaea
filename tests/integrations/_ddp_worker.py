"""One process of a two-process gloo run (started by test_distributed.py).

The rank is given to torch.distributed only, not through RANK: cpv must ask
torch.distributed which process it is. With ``before`` as the last argument, the
``versioning()`` object is made before ``init_process_group`` (as under ``mp.spawn``,
where a script builds it at the top): the rank must still be decided at each save.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from cpv.integrations import global_rank, versioning


def main() -> None:
    rank, world, port, repo, out = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        Path(sys.argv[4]),
        Path(sys.argv[5]),
    )
    os.environ.pop("RANK", None)
    early = sys.argv[6] == "before" if len(sys.argv) > 6 else False
    v = versioning(repo=repo) if early else None
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    ckpt = out / f"rank{rank}" / "model.pt"
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    queued = 0
    with v if v is not None else versioning(repo=repo) as v:
        for epoch in range(2):
            x = torch.randn(16, 4) + rank
            loss = ddp(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            # Per-rank content (as RNG or sampler state would be): were rank 1 to version
            # too, its saves could not be deduplicated against rank 0's.
            torch.save({"model": model.state_dict(), "rank": rank}, ckpt)
            if v.log_checkpoint(ckpt.parent, metrics={"loss": loss.item(), "epoch": epoch}):
                queued += 1
            dist.barrier()
    (out / f"rank{rank}.json").write_text(json.dumps({"rank": global_rank(), "queued": queued}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
