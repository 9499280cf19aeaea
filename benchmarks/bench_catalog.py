"""`cpv models` over N models in an S3 bucket (moto's server on loopback): the whole command,
as a child process, from process start to the JSON on stdout.

A few models are made by real `cpv push`es (their indexes are the reference format); the
rest of the N indexes are copies of one of them written straight to the bucket with boto3,
spread over `--teams` teams, so the setup takes seconds rather than N pushes.

Run:  .venv/bin/python benchmarks/bench_catalog.py [--models 500] [--teams 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BUCKET = "cpv-bench"
REAL = 3  # models made by real pushes


def bench_env(home: str) -> None:
    """A private CPV_HOME and HOME, a git identity, moto's fake keys, no DVC analytics: what
    every benchmark process (and the cpv processes it starts) runs with."""
    os.environ.update(
        CPV_HOME=home,
        HOME=home,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        DVC_NO_ANALYTICS="1",
    )


def _real_pushes(work: Path) -> list[dict[str, object]]:
    """Three models tagged and pushed by cpv: their indexes, as read back from the bucket."""
    from cpv import ModelCheckpoints
    from cpv.catalog.index import ModelIndex
    from cpv.ops.init import init_repository
    from cpv.ops.models import models
    from cpv.ops.push import push

    for i in range(REAL):
        repo = init_repository(team="real", model=f"m{i}", path=work / f"m{i}")
        with (repo / "cpv.yaml").open("a") as fh:
            fh.write("best: {metric: loss, mode: min}\n")
        for v in range(2):
            (repo / "checkpoints" / "w.bin").write_bytes(f"model {i} version {v}".encode() * 100)
            ModelCheckpoints(repo).tag(metrics={"loss": 1 / (v + 1)})
        ModelCheckpoints(repo).promote("v0.1", "prod")
        result = push(repo)
        assert result.index_warning is None, result.index_warning
    entries = models(team="real").models
    assert [e.model for e in entries] == [f"m{i}" for i in range(REAL)]
    assert all(e.indexed and e.model_version == "v0.2" for e in entries)
    fields = set(ModelIndex.model_fields)
    return [
        {k: v for k, v in e.model_dump(mode="json", by_alias=True).items() if k in fields}
        | {"schema": e.schema_}
        for e in entries
    ]


def _fill(s3: object, template: dict[str, object], count: int, teams: int) -> None:
    def put(i: int) -> None:
        team, model = f"team{i % teams:02d}", f"model-{i:04d}"
        body = dict(template, team=team, model=model, git_remote=f"git@example.com:{model}.git")
        raw = json.dumps(body).encode()
        # what cpv push writes: the index beside the data, and its copy under the root
        for key in (f"{team}/{model}/cpv-index.json", f"cpv-catalog.d/{team}/{model}.json"):
            s3.put_object(Bucket=BUCKET, Key=key, Body=raw)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(count)))


_FLOOR = """
import sys, time, boto3
from concurrent.futures import ThreadPoolExecutor
endpoint, bucket, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
t0 = time.perf_counter()
with ThreadPoolExecutor(16) as pool:
    list(pool.map(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys))
print(time.perf_counter() - t0)
"""


def _floor(endpoint: str, count: int, teams: int) -> float:
    """Seconds for the GETs alone: every index read by a plain boto3 client, 16 at a time,
    in another process, its imports and client not counted — what moto's server costs."""
    keys = [f"team{i % teams:02d}/model-{i:04d}/cpv-index.json" for i in range(count - REAL)]
    proc = subprocess.run(
        [sys.executable, "-c", _FLOOR, endpoint, BUCKET, *keys],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(proc.stdout)


def _time(args: list[str], runs: int) -> tuple[list[float], list[float], str]:
    """Wall-clock seconds and CPU seconds (user + system) of each run, and the last output."""
    times, cpu, out = [], [], ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(args, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = proc.stdout
    return times, cpu, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    bench_env(str(work / "home"))
    import boto3
    from moto.server import ThreadedMotoServer

    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request costs CPU
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        save_user_config(
            UserConfig(
                storage=StorageSettings(
                    provider="minio", bucket=BUCKET, endpoint_url=endpoint, region="us-east-1"
                )
            )
        )
        real = _real_pushes(work)
        _fill(s3, real[0], args.models - REAL, args.teams)
        cpv = [sys.executable, "-m", "cpv"]
        start, _, _ = _time([*cpv, "--version"], args.runs)
        cold, _, _ = _time([*cpv, "models", "--json"], 1)  # reads every index, keeps a snapshot
        times, cpu, out = _time([*cpv, "models", "--json"], args.runs)
        listed = json.loads(out)["models"]
        assert len(listed) == args.models and all(m["indexed"] for m in listed), len(listed)
        team_times, _, _ = _time([*cpv, "models", "--json", "--team", "team00"], args.runs)
        floor = [_floor(endpoint, args.models, args.teams) for _ in range(args.runs)]
    finally:
        server.stop()
    med = statistics.median
    print(f"{args.models} models in {args.teams + 1} teams on moto, {args.runs} runs each")
    print(f"cpv models --json, first listing (every index read): {cold[0]:.2f} s")
    print(
        f"cpv models --json, next listings: median {med(times):.2f} s  (min {min(times):.2f}, "
        f"max {max(times):.2f}); its CPU time: median {med(cpu):.2f} s"
    )
    print(
        f"cpv models --json --team:   median {med(team_times):.2f} s  "
        f"({args.models // args.teams} models)"
    )
    print(f"cpv --version (start only): median {med(start):.2f} s")
    print(f"the {args.models - REAL} GETs alone (plain boto3): median {med(floor):.2f} s")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
