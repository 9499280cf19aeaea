"""How long `cpv tag` and `cpv push` take for one big checkpoint, side by side with baselines.

Run:  .venv/bin/python benchmarks/bench_tag_push.py [--size-mb 1024] [--repeat 1]

In one run, on one machine, against one S3 endpoint (moto's server on 127.0.0.1):
  tag:  `md5sum` + `cp` of the file (the floor: read once to hash, once to copy)
        vs `cpv tag model` (hash + copy into the DVC cache + commit + tag)
  push: a tuned boto3 upload (TransferConfig 64 MiB parts, 8 threads)
        vs `cpv push` (DVC objects + git push)
Ratios are what to compare; absolute seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sh(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    import boto3
    from boto3.s3.transfer import TransferConfig
    from moto.server import ThreadedMotoServer

    work = Path(args.workdir or tempfile.mkdtemp(prefix="cpv-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CPV_HOME": str(work / "home"),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "b@example.com",
    }
    os.environ.update(env)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="bench")
    from cpv.settings.config import StorageSettings, UserConfig, save_user_config

    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="bench", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )

    cpv = [sys.executable, "-m", "cpv"]
    sh(*cpv, "init", "acme/bench", str(work / "repo"), env=env)
    repo = work / "repo"
    src = work / "model.bin"
    with open(src, "wb") as fh:
        for _ in range(args.size_mb):
            fh.write(os.urandom(1 << 20))
    size = src.stat().st_size
    sh("sync")

    results: dict[str, float] = {}
    results["md5sum+cp"] = timed(
        lambda: (sh("md5sum", str(src)), shutil.copyfile(src, work / "copy.bin"))
    )
    (work / "copy.bin").unlink()
    shutil.copyfile(src, repo / "checkpoints" / "model.bin")
    sh("sync")
    results["cpv tag"] = timed(
        lambda: sh(*cpv, "tag", "--kind", "model", "-m", "bench", cwd=repo, env=env)
    )

    config = TransferConfig(
        multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=8
    )
    results["boto3 tuned upload"] = timed(
        lambda: s3.upload_file(str(src), "bench", "baseline/model.bin", Config=config)
    )
    s3.delete_object(Bucket="bench", Key="baseline/model.bin")
    results["cpv push"] = timed(lambda: sh(*cpv, "push", cwd=repo, env=env))
    server.stop()

    report = {
        "size_bytes": size,
        "seconds": {k: round(v, 2) for k, v in results.items()},
        "ratios": {
            "cpv tag / (md5sum+cp)": round(results["cpv tag"] / results["md5sum+cp"], 2),
            "cpv push / boto3 tuned": round(results["cpv push"] / results["boto3 tuned upload"], 2),
        },
        "MB/s": {k: round(size / 1e6 / v, 1) for k, v in results.items()},
    }
    print(json.dumps(report, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
