"""Compact mode (issue 23): bytes each version stores, whole files vs compact vs compact+zstd.

A small BERT (transformers' ``BertForMaskedLM``; 11.2 M parameters by default) is trained on
random tokens on the CPU; after each epoch a version is saved as ``model.safetensors`` (fp32
or bf16) and ``ckpt.pt`` (``torch.save`` of the weights and the AdamW state). Two
scenarios: full training, and a fine-tune whose embeddings and first two layers are frozen.
Each version is measured three ways with the code ``cpv tag`` runs (:mod:`cpv.tensors`):

* whole files: the bytes of the files no earlier version held (cpv's and DVC's default);
* compact: the bytes of the segments and recipes no earlier version stored;
* compact+zstd: the same with byte planes + zstandard.

The first version stores everything in every mode; the table reports the later ones (their
mean share of the logical size). Decompression is timed on one core (the CPU time of this
single-threaded process): the codec alone (GB/s of rebuilt bytes) and the whole rebuild
with its md5 check, for the last version's ``model.safetensors``.

With ``--cpv``, each mode is also run through cpv itself: a fresh model repository on the
embedded local storage, each version copied into its workspace, ``cpv tag``, ``cpv push``
(timed, and the bytes the storage gained), then ``cpv clone`` of the last version.

Run:  .venv/bin/python benchmarks/bench_compact.py [--epochs 4] [--steps 8] [--cpv]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _model(hidden: int, layers: int) -> object:
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=30522,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        intermediate_size=4 * hidden,
        max_position_embeddings=128,
    )
    return BertForMaskedLM(config)


def _freeze(model: object) -> None:
    """The fine-tune: embeddings and layers 0-1 frozen."""
    for name, param in model.named_parameters():  # type: ignore[attr-defined]
        if name.startswith("bert.embeddings.") or name.startswith(
            ("bert.encoder.layer.0.", "bert.encoder.layer.1.")
        ):
            param.requires_grad_(False)


def _save(model: object, opt: object, folder: Path, dtype: str) -> list[Path]:
    import torch
    from safetensors.torch import save_file

    cast = torch.bfloat16 if dtype == "bf16" else torch.float32
    state = {k: v.detach().to(cast).clone() for k, v in model.state_dict().items()}  # type: ignore[attr-defined]
    for tied in ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias"):
        state.pop(tied, None)  # tied to the word embeddings and the bias (as save_pretrained)
    save_file(state, folder / "model.safetensors")
    torch.save({"model": state, "optimizer": opt.state_dict()}, folder / "ckpt.pt")  # type: ignore[attr-defined]
    return [folder / "model.safetensors", folder / "ckpt.pt"]


def _train(scenario: str, dtype: str, args: argparse.Namespace, out: Path) -> list[list[Path]]:
    """Each epoch's saved files (copies kept per version)."""
    import torch

    torch.manual_seed(0)
    model = _model(args.hidden, args.layers)
    if scenario == "fine-tune":
        _freeze(model)
    params = [p for p in model.parameters() if p.requires_grad]  # type: ignore[attr-defined]
    opt = torch.optim.AdamW(params, lr=1e-4)
    versions = []
    for epoch in range(args.epochs):
        for _ in range(args.steps):
            ids = torch.randint(0, 30522, (8, 64))
            loss = model(input_ids=ids, labels=ids).loss  # type: ignore[operator]
            loss.backward()
            opt.step()
            opt.zero_grad()
        folder = out / f"{scenario.replace(' ', '-')}-{dtype}-{epoch}"
        folder.mkdir()
        versions.append(_save(model, opt, folder, dtype))
    return versions


def _stored(versions: list[list[Path]], mode: str) -> list[tuple[int, int]]:
    """(logical bytes, newly stored bytes) per version in ``mode``."""
    from cpv.tensors.compose import decompose, md5_of

    seen: set[str] = set()
    rows = []
    for files in versions:
        logical = sum(f.stat().st_size for f in files)
        new = 0
        for f in files:
            if mode == "whole files":
                oid = md5_of(f.read_bytes())
                new += f.stat().st_size if oid not in seen else 0
                seen.add(oid)
                continue
            fresh: dict[str, int] = {}

            def put(
                oid: str, data: bytes, fresh: dict[str, int] = fresh, seen: set[str] = seen
            ) -> None:
                if oid not in seen:
                    fresh[oid] = len(data)

            recipe = decompose(f, put=put, compress=mode == "compact+zstd")
            body = recipe.dump()
            put(md5_of(body), body)
            seen |= set(fresh)
            new += sum(fresh.values())
        rows.append((logical, new))
    return rows


def _decode_speed(path: Path) -> tuple[float, float, float]:
    """(stored/logical, codec GB/s, rebuild-with-md5 GB/s) of one file, one core: CPU time
    of this process (single-threaded code), so that other load on the machine does not count."""
    from cpv.tensors import codec
    from cpv.tensors.compose import decompose, rebuild

    store: dict[str, bytes] = {}
    recipe = decompose(path, put=store.__setitem__, compress=True)
    segs = [(s, store[s.oid]) for s in recipe.segments if s.oid is not None]
    best_codec = best_rebuild = float("inf")
    for _ in range(3):
        start = time.process_time()
        for seg, blob in segs:
            codec.decode(seg.codec, blob, size=seg.size, where="bench")
        best_codec = min(best_codec, time.process_time() - start)
        start = time.process_time()
        rebuild(recipe, read=store.__getitem__, out=_Null(), where="bench")
        best_rebuild = min(best_rebuild, time.process_time() - start)
    size = sum(s.size for s, _ in segs)
    return recipe.stored / recipe.size, size / best_codec / 1e9, recipe.size / best_rebuild / 1e9


MODES = {
    "whole files": "",
    "compact": "{layout: compact}",
    "compact+zstd": "{layout: compact, compress: zstd}",
}


def _through_cpv(versions: list[list[Path]], mode: str, work: Path) -> dict[str, float]:
    """Real ``cpv tag`` (files copied into the workspace), ``push`` (to the embedded local
    storage) and ``clone`` of the last version, in ``mode``: mean seconds of the later
    versions, and the bytes the storage gained per later version."""
    import shutil
    import subprocess

    from cpv import ModelCheckpoints, clone, push
    from cpv.ops.init import init_repository

    name = f"m{len(list(work.iterdir()))}"
    repo = init_repository(team="bench", model=name, path=work / name)
    if MODES[mode]:
        with (repo / "cpv.yaml").open("a") as fh:
            fh.write(f"storage: {MODES[mode]}\n")
        subprocess.run(["git", "commit", "-qam", "storage"], cwd=repo, check=True)
    storage = Path(os.environ["CPV_HOME"]) / "storage" / "bench" / name
    times: dict[str, list[float]] = {"tag s": [], "push s": [], "stored MB": []}
    for files in versions:
        for f in files:
            shutil.copyfile(f, repo / "checkpoints" / f.name)
        before = _du(storage)
        start = time.perf_counter()
        ModelCheckpoints(repo).tag()
        times["tag s"].append(time.perf_counter() - start)
        start = time.perf_counter()
        push(repo)
        times["push s"].append(time.perf_counter() - start)
        times["stored MB"].append((_du(storage) - before) / 1e6)
    url = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    start = time.perf_counter()
    clone(url, work / f"{name}-clone")
    out = {k: sum(v[1:]) / max(1, len(v) - 1) for k, v in times.items()}
    out["clone s"] = time.perf_counter() - start
    return out


def _du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


class _Null(io.RawIOBase):
    def write(self, b: object) -> int:  # type: ignore[override]
        return len(memoryview(b))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="training steps per epoch")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--cpv", action="store_true", help="also time real tag, push and clone in each mode"
    )
    args = parser.parse_args()
    results: list[dict[str, object]] = []
    timings: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="cpv-bench-compact-") as tmp:
        _isolate(Path(tmp))
        for scenario in ("full training", "fine-tune"):
            for dtype in ("fp32", "bf16"):
                versions = _train(scenario, dtype, args, Path(tmp))
                for mode in MODES if args.cpv else ():
                    work = Path(tmp) / "repos"
                    work.mkdir(exist_ok=True)
                    row_t = {"scenario": scenario, "dtype": dtype, "mode": mode}
                    timings.append({**row_t, **_through_cpv(versions, mode, work)})
                row: dict[str, object] = {"scenario": scenario, "dtype": dtype}
                for mode in ("whole files", "compact", "compact+zstd"):
                    rows = _stored(versions, mode)
                    later = rows[1:]
                    row[mode] = sum(n for _, n in later) / max(1, sum(lg for lg, _ in later))
                    row["logical MB"] = rows[-1][0] / 1e6
                ratio, codec_gbs, rebuild_gbs = _decode_speed(versions[-1][0])
                row.update(
                    {
                        "safetensors zstd ratio": ratio,
                        "decode GB/s": codec_gbs,
                        "rebuild+md5 GB/s": rebuild_gbs,
                    }
                )
                results.append(row)
    if args.json:
        print(json.dumps({"stored": results, "cpv": timings}, indent=2))
        return
    print("stored per later version, as a share of its logical size (model.safetensors + ckpt.pt)")
    _table(results)
    if timings:
        print("\nthrough cpv (local storage): mean of the later versions; clone of the last")
        _table(timings)


def _isolate(work: Path) -> None:
    """A private CPV_HOME (storage and git remotes under it) and a git identity."""
    from bench_catalog import bench_env

    home = work / "home"
    home.mkdir()
    bench_env(str(home))


def _fmt(key: str, value: object) -> str:
    if not isinstance(value, float):
        return str(value)
    return f"{value:.2f}" if key.endswith(("GB/s", "MB", " s")) else f"{value:.1%}"


def _table(results: list[dict[str, object]]) -> None:
    keys = list(results[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in results:
        print("| " + " | ".join(_fmt(k, row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
