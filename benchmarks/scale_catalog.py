"""The thousand-model part of bench_scale: ``cpv models --json`` over N models in a bucket on
moto's ThreadedMotoServer (127.0.0.1), against one boto3 ``ListObjectsV2`` pass over their
index keys. The bucket is filled as ``bench_catalog.py`` fills it: three models pushed by cpv
(their indexes are the reference format), the rest copies of one written with boto3 where
``cpv push`` writes them."""

from __future__ import annotations

import logging
import statistics
import subprocess
import sys
from pathlib import Path

import bench_catalog
from bench_scale import run_once

_FLOOR = """
import sys, time
t0 = time.perf_counter()
import boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
t1 = time.perf_counter()
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2], Prefix="cpv-catalog.d/"):
    keys += [o["Key"] for o in page.get("Contents", [])]
print(time.perf_counter() - t1, len(keys))
"""


def _floor(endpoint: str, runs: int, models: int) -> tuple[float, float]:
    """(whole process, the pass alone): median seconds."""
    whole, alone = [], []
    for _ in range(runs):
        args = [sys.executable, "-c", _FLOOR, endpoint, bench_catalog.BUCKET]
        proc = subprocess.run(args, capture_output=True, text=True, check=True)
        seconds, count = proc.stdout.split()
        assert int(count) == models, (count, models)
        alone.append(float(seconds))
        whole.append(run_once(args)[0])
    return statistics.median(whole), statistics.median(alone)


def bench_models(work: Path, models: int, runs: int) -> dict:
    import boto3
    from moto.server import ThreadedMotoServer

    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    work.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bench_catalog.BUCKET)
        storage = StorageSettings(
            provider="minio", bucket=bench_catalog.BUCKET, endpoint_url=endpoint, region="us-east-1"
        )
        save_user_config(UserConfig(storage=storage))
        real = bench_catalog._real_pushes(work)
        bench_catalog._fill(s3, real[0], models - bench_catalog.REAL, 10)
        cmd = [sys.executable, "-m", "cpv", "models", "--json"]
        first = run_once(cmd)[0]
        warm = statistics.median(run_once(cmd)[0] for _ in range(runs))
        whole, alone = _floor(endpoint, runs, models)
    finally:
        server.stop()
    return {
        "models": models,
        "cpv models --json (first)": first,
        "cpv models --json": warm,
        "floor_process": whole,
        "floor_pass": alone,
    }
