"""What each version of a training run stores: whole files against one safetensors shard
per module group (the default path of docs/storage.md), on a small BERT built from a config.

Run:  PYTHONPATH=. .venv/bin/python benchmarks/bench_storage.py [--versions 3] [--steps 2]

Scenarios (each a fresh model repository on moto's S3 server, 127.0.0.1):
  regime:  full (every parameter trains) | finetune (embeddings and layers 0-1 frozen)
  dtype:   fp32 | bf16 (the weights saved in bf16; training itself in fp32)
  state:   weights only | + optimizer.pt (AdamW's state, torch.save)
  layout:  whole (model.safetensors) | grouped (cpv.integrations.save_grouped)
Each version trains --steps real steps (random tokens), saves, `tag`s and `push`es; the
bytes a version adds to the storage are the objects it uploaded (listed before and after).
At the end, `cpv clone` of the last version into a fresh folder. Prints a markdown table
and, with --json FILE, every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HIDDEN, LAYERS, VOCAB = 256, 4, 30522  # 11.2 M parameters: the small BERT


def _model(seed: int = 0) -> Any:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=4,
        intermediate_size=4 * HIDDEN,
        max_position_embeddings=64,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def _train(model: Any, opt: Any, steps: int, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        ids = torch.randint(3, VOCAB, (8, 32), generator=gen)
        labels = torch.randint(0, 2, (8,), generator=gen)
        opt.zero_grad()
        model(input_ids=ids, labels=labels).loss.backward()
        opt.step()


def _save(model: Any, opt: Any, folder: Path, *, layout: str, dtype: str, state: bool) -> None:
    import torch
    from safetensors.torch import save_file

    from cpv.integrations import save_grouped

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    cast = torch.bfloat16 if dtype == "bf16" else torch.float32
    weights = {k: v.detach().to(cast).contiguous() for k, v in model.state_dict().items()}
    if layout == "grouped":
        save_grouped(weights, folder)
    else:
        save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(str(folder))
    if state:
        torch.save(opt.state_dict(), folder / "optimizer.pt")


def _stored(s3: Any, bucket: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            if "/files/md5/" in obj["Key"]:
                sizes[obj["Key"]] = obj["Size"]
    return sizes


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_scenario(work: Path, s3: Any, scenario: dict[str, Any], args: argparse.Namespace) -> dict:
    import torch

    from cpv import ModelCheckpoints, clone, push
    from cpv.ops.init import init_repository

    name = "-".join(str(v) for v in scenario.values()).lower()
    repo = init_repository(team="bench", model=name, path=work / name)
    model = _model()
    if scenario["regime"] == "finetune":
        for module in (model.bert.embeddings, *model.bert.encoder.layer[:2]):
            module.requires_grad_(False)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ckpt = work / f"{name}-ckpt"
    versions = []
    for v in range(args.versions):
        _train(model, opt, args.steps, seed=v)
        _save(model, opt, ckpt, layout=scenario["layout"], dtype=scenario["dtype"],
              state=scenario["state"])  # fmt: skip
        before = _stored(s3, "bench")
        start = time.perf_counter()
        ModelCheckpoints(repo).tag(source=ckpt, message=f"version {v + 1}")
        tag_s = time.perf_counter() - start
        start = time.perf_counter()
        push(repo)
        push_s = time.perf_counter() - start
        after = _stored(s3, "bench")
        added = sum(size for key, size in after.items() if key not in before)
        logical = _folder_bytes(ckpt)
        versions.append({"logical": logical, "stored": added, "tag_s": tag_s, "push_s": push_s})
    url = _remote_url(repo)
    start = time.perf_counter()
    clone(url, work / f"{name}-clone")
    clone_s = time.perf_counter() - start
    return {**scenario, "versions": versions, "clone_s": clone_s}


def _remote_url(repo: Path) -> str:
    import subprocess

    return subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def _table(results: list[dict]) -> str:
    lines = [
        "| regime | dtype | optimizer.pt | layout | logical / version | stored v1 | stored "
        "later (mean) | not stored (later) | tag s (later) | push s (later) | clone s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    mb = 1e6
    for r in results:
        first, later = r["versions"][0], r["versions"][1:] or r["versions"]
        stored = sum(v["stored"] for v in later) / len(later)
        logical = sum(v["logical"] for v in later) / len(later)
        tag_s = sum(v["tag_s"] for v in later) / len(later)
        push_s = sum(v["push_s"] for v in later) / len(later)
        lines.append(
            f"| {r['regime']} | {r['dtype']} | {'yes' if r['state'] else 'no'} | {r['layout']} "
            f"| {logical / mb:.1f} MB | {first['stored'] / mb:.1f} MB | {stored / mb:.1f} MB "
            f"| {100 * (1 - stored / logical):.0f}% | {tag_s:.2f} | {push_s:.2f} "
            f"| {r['clone_s']:.2f} |"
        )
    return "\n".join(lines)


def _setup(work: Path) -> tuple[Any, Any, str]:
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.update(
        {
            "CPV_HOME": str(work / "home"),
            "HOME": str(work / "home"),
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "HF_HUB_OFFLINE": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "b@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@example.com",
        }
    )
    (work / "home").mkdir(parents=True, exist_ok=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="bench", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )
    return server, s3, endpoint


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="training steps per version")
    parser.add_argument("--only", default="", help="e.g. finetune,bf16: scenarios holding all")
    parser.add_argument("--json", default="", help="write every figure to this file")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    import logging

    import torch

    torch.set_num_threads(1)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    work = Path(args.workdir or tempfile.mkdtemp(prefix="cpv-bench-storage-"))
    server, s3, endpoint = _setup(work)
    wanted = {w for w in args.only.split(",") if w}
    results = []
    try:
        for regime in ("full", "finetune"):
            for dtype in ("fp32", "bf16"):
                for state in (False, True):
                    for layout in ("whole", "grouped"):
                        scenario = {"regime": regime, "dtype": dtype, "state": state,
                                    "layout": layout}  # fmt: skip
                        words = {regime, dtype, layout, "optimizer" if state else "weights"}
                        if not wanted <= words:
                            continue
                        urllib.request.urlopen(
                            urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
                        ).read()
                        s3.create_bucket(Bucket="bench")
                        results.append(run_scenario(work, s3, scenario, args))
                        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    finally:
        server.stop()
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(_table(results))


if __name__ == "__main__":
    main()
