"""cpv at 10 / 1,000 / 10,000 versions (and 1,000 models), side by side with its floors.

Each size is a model built in cpv's own format in seconds (``scale_build.py``: ``cpv init``,
then ``git fast-import`` of what N ``cpv tag`` runs write, objects in the cache and the
storage, pushed to the bare remote). Every command runs as a child process
(``python -m cpv -C <repo> …``); its wall time is the median of ``--runs``, its peak RSS
that of the child (``os.wait4``). Ratios: to the floor at the same size (``git for-each-ref``
of the same tags with their messages, the call ``cpv list`` makes) and to the same command
at the smallest size. Start-up: a read command on the smallest model against
``dvc --version``. The catalog: ``cpv models --json`` over ``--models`` models in a bucket
on moto's ThreadedMotoServer (127.0.0.1) against one boto3 ``ListObjectsV2`` pass over
their index keys.

Run:  .venv/bin/python benchmarks/bench_scale.py [--sizes 10,1000,10000] [--runs 3]
      [--models 1000] [--quick] [--json] [--before ROOT]
(``--before ROOT``: each command is also run by the cpv at ROOT, e.g. an older commit's
``git archive``, right after the current one: a before/after table under the same load.)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_catalog  # noqa: E402
import scale_build  # noqa: E402

#: what ``cpv list`` asks git for (``GitRepo.list_tags``): every tag with its message
FOR_EACH_REF = [
    "git",
    "for-each-ref",
    "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)%00%(contents)%00%1e",
    "refs/tags/model",
    "refs/tags/data",
]


def _env(base: Path) -> None:
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    bench_catalog.bench_env(str(home))


_TIME = shutil.which("time", path="/usr/bin:/bin") if os.name == "posix" else None


def run_once(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> tuple[float, float | None, float | None]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system, with the git processes it
    ran) of one child process. The peak by ``/usr/bin/time -f %M`` where it exists (the
    child's own peak), else by ``os.wait4`` (on Linux a forked child starts from this
    process's peak, so small children read as this process's size); no wait4: neither."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        wrapped = [_TIME, "-f", "%M", "-o", rss_file.name, *args] if _TIME else args
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            wrapped,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        rss: float | None = None
        cpu: float | None = None
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - t0
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            # ru_maxrss: KiB on Linux, bytes on macOS
            rss = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
            cpu = usage.ru_utime + usage.ru_stime
            err = proc.stderr.read() if proc.stderr else b""
        else:  # no wait4 (Windows): no peak RSS
            _, err = proc.communicate()
            seconds, code = time.perf_counter() - t0, proc.returncode
        if _TIME and code == 0:
            rss = int(rss_file.read().split()[-1]) / 1024
    if code != 0:
        raise SystemExit(f"{' '.join(args)} failed ({code}):\n{err.decode(errors='replace')}")
    return seconds, rss, cpu


def measure(args: list[str], runs: int, cwd: Path | None = None, before=None, env=None) -> dict:
    times, rss, cpu = [], [], []
    for _ in range(runs):
        if before is not None:
            before()
        seconds, peak, used = run_once(args, cwd, env)
        times.append(seconds)
        if peak is not None:
            rss.append(peak)
        if used is not None:
            cpu.append(used)
    return {
        "seconds": round(statistics.median(times), 4),
        "min": round(min(times), 4),
        "cpu": round(statistics.median(cpu), 4) if cpu else None,
        "rss_mb": round(max(rss), 1) if rss else None,
    }


def _cpv(repo: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "cpv", "-C", str(repo), *args]


def bench_size(base: Path, count: int, runs: int, metrics_log: str, old: str | None = None) -> dict:
    """Build a ``count``-version model and time each command on it (with ``old``, a
    checkout's root: each command also run by that code right after, rows ``before``)."""
    t0 = time.perf_counter()
    repo = scale_build.build(base / f"m{count}", count=count, metrics_log=metrics_log)
    built = time.perf_counter() - t0
    mid = f"v0.{max(1, count // 2)}"
    out: dict = {"versions": count, "build_seconds": round(built, 1), "rows": {}}
    rows = out["rows"]
    before: dict | None = out.setdefault("before", {}) if old else None
    old_env = {"PYTHONPATH": old} if old else None
    rows["git for-each-ref (floor)"] = measure(FOR_EACH_REF, runs, repo)
    t0 = time.perf_counter()
    scale_build.cpv("-C", str(repo), "promote", mid, "prod", "-m", "bench")
    rows["promote (once)"] = {"seconds": round(time.perf_counter() - t0, 4), "rss_mb": None}
    for name, args in [
        ("list", ["list"]),
        ("list --json", ["list", "--json"]),
        ("show v0.N/2", ["show", mid]),
        ("show latest", ["show", "latest"]),
        ("show prod (alias)", ["show", "prod"]),
        ("status --no-remote", ["status", "--no-remote"]),
        ("du --json", ["du", "--json"]),
    ]:
        rows[name] = measure(_cpv(repo, *args), runs, repo)
        if before is not None:
            before[name] = measure(_cpv(repo, *args), runs, repo, env=old_env)
    counter = iter(range(1, 1 << 30))

    def new_weights() -> None:
        (repo / "checkpoints" / "w.bin").write_bytes(b"new weights %d\n" % next(counter))

    tag = _cpv(repo, "tag", "-m", "bench", "--metric", "loss=0.001")
    rows["tag (one new version)"] = measure(tag, runs, repo, new_weights)
    if before is not None:
        before["tag (one new version)"] = measure(tag, runs, repo, new_weights, old_env)
        before["git for-each-ref (floor)"] = rows["git for-each-ref (floor)"]
    git_dir = repo / ".git"
    subprocess.run(["git", "gc", "-q"], cwd=repo, check=True)
    out["git_dir_bytes_after_gc"] = sum(p.stat().st_size for p in git_dir.rglob("*") if p.is_file())
    return out


def bench_startup(repo: Path, runs: int) -> dict:
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or shutil.which("dvc")
    rows = {
        "python -c pass": measure([sys.executable, "-c", "pass"], runs),
        "cpv --version": measure([sys.executable, "-m", "cpv", "--version"], runs),
        "cpv list (10 versions)": measure(_cpv(repo, "list"), runs, repo),
        "cpv show latest (10 versions)": measure(_cpv(repo, "show", "latest"), runs, repo),
    }
    if dvc:
        rows["dvc --version (floor)"] = measure([dvc, "--version"], runs)
    return rows


def _table(results: dict, key: str = "rows") -> str:
    sizes = results["sizes"]
    counts = [s["versions"] for s in sizes]
    small = sizes[0][key]
    head = "| command | " + " | ".join(f"{n:,} versions" for n in counts) + " |"
    lines = [head, "|---" * (len(counts) + 1) + "|"]
    for name in small:
        cells = []
        for s in sizes:
            row, first = s[key][name], small[name]
            by = "cpu" if row.get("cpu") and first.get("cpu") else "seconds"
            floor = s[key]["git for-each-ref (floor)"][by]
            cell = f"{row['seconds']:.3f} s" + (
                f" (CPU {row['cpu']:.3f} s)" if row.get("cpu") else ""
            )
            if name != "git for-each-ref (floor)" and floor:
                cell += f": {row[by] / floor:.1f}× floor"
                if s is not sizes[0]:
                    cell += f", {row[by] / first[by]:.2f}× at {counts[0]}"
            if row.get("rss_mb"):
                cell += f"; {row['rss_mb']:.0f} MB"
            cells.append(cell)
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    if key != "rows":
        return "\n".join(lines)
    lines.append(
        "| `.git` after `git gc` (incl. the bench's extra versions) | "
        + " | ".join(f"{s['git_dir_bytes_after_gc'] / 1e6:.1f} MB" for s in sizes)
        + " |"
    )
    lines.append("")
    start = results["startup"]
    floor = start.get("dvc --version (floor)", {})
    lines.append("| start-up | seconds | CPU seconds | peak RSS |")
    lines.append("|---|---|---|---|")
    for name, row in start.items():
        wall = f"{row['seconds']:.3f}"
        if floor.get("seconds"):
            wall += f" ({row['seconds'] / floor['seconds']:.2f}× dvc --version)"
        cpu = f"{row['cpu']:.3f}" if row.get("cpu") else "-"
        if row.get("cpu") and floor.get("cpu"):
            cpu += f" ({row['cpu'] / floor['cpu']:.2f}×)"
        lines.append(f"| `{name}` | {wall} | {cpu} | {row['rss_mb'] or '-'} MB |")
    if "catalog" in results:
        cat = results["catalog"]
        lines.append("")
        lines.append(f"| {cat['models']:,} models on moto | seconds |")
        lines.append("|---|---|")
        floor = cat["floor_process"]
        for name in ("cpv models --json (first)", "cpv models --json"):
            ratio = f"{cat[name] / floor:.2f}× floor process, {cat[name] / cat['floor_pass']:.1f}×"
            lines.append(f"| `{name}` | {cat[name]:.3f} ({ratio} pass) |")
        lines.append(f"| boto3 ListObjectsV2 pass, whole process (floor) | {floor:.3f} |")
        lines.append(f"| boto3 ListObjectsV2 pass alone | {cat['floor_pass']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--metrics-log", choices=("head", "grow"), default="head")
    parser.add_argument("--quick", action="store_true", help="10 and 50 versions, 20 models, 1 run")
    parser.add_argument("--json", action="store_true", help="the results as JSON, no table")
    parser.add_argument("--no-catalog", action="store_true")
    parser.add_argument("--table-from", metavar="JSON", help="print the table of saved --json")
    parser.add_argument(
        "--before", metavar="ROOT", help="also run each command by the cpv at ROOT, right after"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.runs, args.models = "10,50", 1, 20
    if args.table_from:
        args.json = False
        results = json.loads(Path(args.table_from).read_text())
    else:
        results = _run(args)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    if "before" in results["sizes"][0]:
        print(f"before ({results.get('before_root')}):\n")
        print(_table(results, "before"))
        print("\nafter:\n")
    print(_table(results))
    print(f"\nruns {results['runs']}; load average {results['load']} on {os.cpu_count()} CPUs")


def _run(args: argparse.Namespace) -> dict:
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(tempfile.mkdtemp(prefix="cpv-bench-scale-"))
    _env(base)
    try:
        results: dict = {"runs": args.runs, "before_root": args.before, "sizes": []}
        for n in sizes:
            results["sizes"].append(bench_size(base, n, args.runs, args.metrics_log, args.before))
            print(json.dumps(results["sizes"][-1]), file=sys.stderr, flush=True)
        results["startup"] = bench_startup(base / f"m{sizes[0]}", args.runs)
        if not args.no_catalog:
            from scale_catalog import bench_models

            results["catalog"] = bench_models(base / "catalog", args.models, args.runs)
        results["load"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
