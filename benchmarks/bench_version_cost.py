"""CPU and wall seconds per version of a checkpoint, by the two routes cpv has.

    python benchmarks/bench_version_cost.py [--sizes 16,1024] [--versions 4]

* ``workspace tag``: the checkpoint is written into ``checkpoints/`` and
  ``ModelCheckpoints.tag()`` versions it through DVC (hash, copy into the cache, pointer).
* ``training save``: what ``versioning().log_checkpoint()`` costs per save: the snapshot
  copy on the training thread, then, on the worker, one hashing read, a rename into the
  cache and the git commit and tag (:mod:`cpv.core.snapshots`), with the repository opened
  once per run.

Both routes run interleaved (A, B, A, B, ...) in one process on one disk, each on its own
repository, with distinct content per version; CPU is this process's user+system time plus
its git children's. ``md5sum + cp`` of the same file is the floor for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _write(path: Path, size: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        fh.write(seed.to_bytes(8, "little"))
        for _ in range(size >> 20):
            fh.write(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="16,1024", help="checkpoint sizes in MiB")
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cpv-bench-cost-"))
    os.environ.setdefault("CPV_HOME", str(work / "cpv-home"))
    for var in ("AUTHOR", "COMMITTER"):
        os.environ.setdefault(f"GIT_{var}_NAME", "bench")
        os.environ.setdefault(f"GIT_{var}_EMAIL", "bench@example.com")
    from cpv.api.managers import ModelCheckpoints
    from cpv.integrations import versioning
    from cpv.ops.init import init_repository

    results = {}
    for mib in (int(s) for s in args.sizes.split(",")):
        size = mib << 20
        repo_a = init_repository(team="bench", model=f"a{mib}", path=work / f"a{mib}")
        repo_b = init_repository(team="bench", model=f"b{mib}", path=work / f"b{mib}")
        out = work / f"out{mib}"
        v = versioning(repo=repo_b)
        rows: dict[str, dict[str, list[float]]] = {
            n: {"cpu": [], "wall": [], "loop": []}
            for n in ("workspace tag", "training save", "md5sum + cp")
        }
        for i in range(args.versions):
            _write(repo_a / "checkpoints" / "model.pt", size, i)
            c, t = _cpu(), time.perf_counter()
            ModelCheckpoints(repo_a).tag(message=str(i))
            rows["workspace tag"]["cpu"].append(_cpu() - c)
            rows["workspace tag"]["wall"].append(time.perf_counter() - t)

            _write(out / "model.pt", size, i)
            c, t = _cpu(), time.perf_counter()
            v.log_checkpoint(out, message=str(i))
            loop = time.perf_counter() - t
            v.wait()
            rows["training save"]["cpu"].append(_cpu() - c)
            rows["training save"]["wall"].append(time.perf_counter() - t)
            rows["training save"]["loop"].append(loop)

            c, t = _cpu(), time.perf_counter()
            subprocess.run(["md5sum", str(out / "model.pt")], check=True, capture_output=True)
            shutil.copyfile(out / "model.pt", work / "floor.bin")
            rows["md5sum + cp"]["cpu"].append(_cpu() - c)
            rows["md5sum + cp"]["wall"].append(time.perf_counter() - t)
        v.close()
        results[f"{mib} MiB"] = {
            name: {
                "cpu_s_median": round(statistics.median(r["cpu"]), 3),
                "cpu_s_min": round(min(r["cpu"]), 3),
                "wall_s_median": round(statistics.median(r["wall"]), 3),
                **(
                    {"loop_blocked_s_median": round(statistics.median(r["loop"]), 4)}
                    if r["loop"]
                    else {}
                ),
            }
            for name, r in rows.items()
        }
        for repo in (repo_a, repo_b):
            shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
    summary = {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "results": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"load average {summary['load_average']}, {summary['cpus']} CPUs")
    for size_name, table in results.items():
        print(f"\n{size_name}, {args.versions} versions, medians (min CPU)")
        print(f"{'route':16} {'CPU s':>14} {'wall s':>8} {'loop blocked s':>15}")
        for name, r in table.items():
            cpu = f"{r['cpu_s_median']:.3f} ({r['cpu_s_min']:.3f})"
            loop = r.get("loop_blocked_s_median", "")
            print(f"{name:16} {cpu:>14} {r['wall_s_median']:>8.3f} {loop!s:>15}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
