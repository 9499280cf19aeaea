"""How fast cpv moves bytes itself (push, clone, pull, tag), side by side with baselines.

Run:  .venv/bin/python benchmarks/bench_transfer.py            # 256 MiB, 2,000 files, 200 versions
      .venv/bin/python benchmarks/bench_transfer.py --big      # 1 GiB for push and tag
      .venv/bin/python benchmarks/bench_transfer.py --quick    # small sizes: a smoke run
      RGW_KEEP=1 scripts/with-rgw.sh .venv/bin/python benchmarks/bench_transfer.py --rgw
                                    # against a real Ceph RADOS Gateway instead of moto

Every measurement is a whole child process (interpreter start-up and imports included, for
cpv and for the baselines alike), timed from the parent; its peak RSS is GNU time's ``%M``
(``/usr/bin/time``: the command's own peak; ``os.wait4``'s figure would start at the size
of this benchmark process, which forked it). Each comparison is repeated ``--repeat``
times (default 3), the tools interleaved in a rotating order inside each round; medians
are reported and every raw number is printed. S3 is moto's server in its own process on
127.0.0.1, started afresh (same port, empty) before every upload measurement: moto keeps
objects in memory and slows down as it grows.

1. push:  `cpv push` of one new version of SIZE vs a tuned boto3 upload (8 MiB parts,
          10 threads) vs `aws s3 cp` (its defaults: 8 MiB parts, 10 requests).
          Target: cpv <= 1.1x the faster baseline; cpv's peak RSS <= 250 MB.
2. fetch: `cpv clone` (latest version, 256 MiB) and `cpv pull VERSION` (another 256 MiB)
          vs a boto3 download (64 MiB parts) + md5 of the file. Target <= 1.2x.
3. small: one version of a folder of 2,000 x 4 KiB files, through a loopback proxy adding
          20 ms to every HTTP request: `cpv push` vs 16 threads of boto3 put_object vs plain
          `dvc push`. Target: cpv <= 1.2x boto3, and >= 1.5x faster than dvc push.
4. tag:   `cpv tag model` of SIZE vs `md5sum` + `cp` of the same file. Target <= 1.3x.
5. many:  `cpv push` of N tiny unpublished versions (one small file each) and of N/4.

The latency proxy (:class:`DelayProxy`): a threaded TCP relay, one pair of threads per
connection. HTTP/1.1 clients here do not pipeline, so a request begins with the first
client->server chunk after the server has answered (or the first chunk on a connection);
when such a chunk starts with an HTTP method, the relay sleeps 20 ms before forwarding it.
That is one simulated round trip per request (a body sent after ``100 Continue`` is not
delayed again), and the relay counts the requests it saw.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path

PY = sys.executable
CPV = [PY, "-m", "cpv"]
DVC = str(Path(PY).parent / "dvc")
TIME = Path("/usr/bin/time").is_file()
BUCKET = "bench"
MiB = 1 << 20

UPLOAD_BOTO3 = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=10)
s3.upload_file(path, bucket, key, Config=cfg)
"""

DOWNLOAD_BOTO3 = """
import hashlib, sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, key, path, md5 = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
cfg = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=10)
s3.download_file(bucket, key, path, Config=cfg)
digest = hashlib.md5()
with open(path, "rb") as fh:
    while chunk := fh.read(8 << 20):
        digest.update(chunk)
assert digest.hexdigest() == md5, "md5 mismatch"
"""

PUT_POOL_BOTO3 = """
import sys, boto3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from botocore.config import Config
endpoint, bucket, prefix, folder = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=Config(max_pool_connections=16))
def put(p):
    s3.put_object(Bucket=bucket, Key=prefix + p.name, Body=p.read_bytes())
with ThreadPoolExecutor(16) as pool:
    list(pool.map(put, sorted(Path(folder).iterdir())))
"""


# --------------------------------------------------------------------------- processes


class Child:
    """One child process's wall time (s), peak RSS (MB) and stdout."""

    def __init__(self, seconds: float, rss_mb: float, out: str) -> None:
        self.seconds, self.rss_mb, self.out = seconds, rss_mb, out


PROFILE_DIR: list[Path] = []  # --profile: where cpv commands write their cProfile stats


def _profiled(args: list[str]) -> list[str]:
    if not PROFILE_DIR or args[: len(CPV)] != CPV:
        return args
    out = PROFILE_DIR[0] / f"{len(list(PROFILE_DIR[0].iterdir())):03d}-{args[len(CPV)]}.prof"
    return [PY, "-m", "cProfile", "-o", str(out), "-m", "cpv", *args[len(CPV) :]]


def run(args: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> Child:
    """Run ``args`` to completion: wall time and peak RSS via ``os.wait4``; fail loudly."""
    args = _profiled(args)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        rss_file = Path(tempfile.mkstemp()[1])
        timer = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if TIME else []
        start = time.perf_counter()
        proc = subprocess.Popen([*timer, *args], cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        # /usr/bin/time's %M is the command's own peak; wait4's ru_maxrss of a child starts
        # at the size of this (forking) process, so it is only the fallback.
        rss_kib = int(rss_file.read_text().split()[-1]) if TIME else usage.ru_maxrss
        rss_file.unlink()
        out.seek(0), err.seek(0)
        stdout = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed ({proc.returncode}):\n{stdout}\n"
                + err.read().decode(errors="replace")
            )
    return Child(seconds, rss_kib * 1024 / 1e6, stdout)


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def aws_cli() -> str:
    """The real `aws` script (a pyenv shim would add its own start-up to every run)."""
    try:
        return sh("pyenv", "which", "aws").strip()
    except (OSError, subprocess.CalledProcessError):
        found = shutil.which("aws")
        if not found:
            raise SystemExit("the AWS CLI (`aws`) is not installed") from None
        return found


class Moto:
    """moto's S3 server in its own process, restartable on the same port (empty)."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.stop()
        server = Path(PY).parent / "moto_server"
        self.proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("moto did not start")
        import boto3

        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(
            Bucket=BUCKET
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None


class Gateway:
    """A running S3 server given by the environment (``--rgw``: the Ceph RADOS Gateway that
    ``scripts/with-rgw.sh`` starts), emptied where :class:`Moto` would be restarted."""

    def __init__(self) -> None:
        self.endpoint = os.environ["CPV_TEST_RGW_ENDPOINT"]
        self.port = int(self.endpoint.rsplit(":", 1)[1].strip("/"))
        self.keys = (os.environ["CPV_TEST_RGW_ACCESS_KEY"], os.environ["CPV_TEST_RGW_SECRET_KEY"])

    def start(self) -> None:
        import boto3

        s3 = boto3.resource("s3", endpoint_url=self.endpoint, region_name="us-east-1")
        bucket = s3.Bucket(BUCKET)
        if bucket.creation_date is None:
            bucket.create()
        bucket.objects.all().delete()
        for upload in bucket.multipart_uploads.all():
            upload.abort()
        # RGW frees deleted objects' data only in its garbage collection, two hours later by
        # default: a long run of 256 MiB uploads filled the 20 GB OSD ("osd.0 is full") and
        # every request hung. Collect now (best effort: radosgw-admin may be elsewhere).
        conf = Path(os.environ.get("RGW_DIR", "/tmp/cpv-rgw")) / "ceph.conf"
        if shutil.which("radosgw-admin") and conf.is_file():
            subprocess.run(
                [
                    "radosgw-admin",
                    "-c",
                    str(conf),
                    "-n",
                    "client.admin",
                    "gc",
                    "process",
                    "--include-all",
                ],
                capture_output=True,
                timeout=300,
                check=False,
            )

    def stop(self) -> None:
        pass


class DelayProxy:
    """Loopback TCP relay to ``port`` that holds each new HTTP request back ``delay`` s."""

    METHODS = (b"GET ", b"PUT ", b"POST ", b"HEAD ", b"DELETE ")

    def __init__(self, port: int, delay: float) -> None:
        self.upstream, self.delay, self.requests = port, delay, 0
        self.lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.endpoint = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream))
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        answered = [True]  # the next client chunk may begin a request

        def pump(src: socket.socket, dst: socket.socket, to_server: bool) -> None:
            try:
                while data := src.recv(1 << 16):
                    if to_server and answered[0] and data.startswith(self.METHODS):
                        answered[0] = False
                        with self.lock:
                            self.requests += 1
                        time.sleep(self.delay)
                    elif not to_server:
                        answered[0] = True
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        other = threading.Thread(target=pump, args=(upstream, client, False), daemon=True)
        other.start()
        pump(client, upstream, True)
        other.join()
        client.close(), upstream.close()

    def count(self) -> int:
        with self.lock:
            n, self.requests = self.requests, 0
        return n


# --------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="cpv-bench-transfer-"))
        self.work.mkdir(parents=True, exist_ok=True)
        home = self.work / "home"
        home.mkdir(exist_ok=True)
        (home / "aws-config").write_text("")
        self.env = {
            **os.environ,
            "HOME": str(home),
            "CPV_HOME": str(home / ".cpv"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "b@example.com",
            "GIT_COMMITTER_NAME": "bench",
            "GIT_COMMITTER_EMAIL": "b@example.com",
            "DVC_NO_ANALYTICS": "1",
            "NO_COLOR": "1",
        }
        server: Moto | Gateway = Gateway() if args.rgw else Moto()
        if isinstance(server, Gateway):
            self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"] = server.keys
        self.env.pop("AWS_PROFILE", None)
        self.env.pop("CPV_FAULT", None)
        os.environ.clear()
        os.environ.update(self.env)
        self.moto = server
        self.models = 0
        self.raw: dict[str, list[float]] = {}
        self.failures: list[str] = []
        self.aws = aws_cli()

    # helpers -------------------------------------------------------------------

    def record(self, name: str, value: float) -> None:
        self.raw.setdefault(name, []).append(value)
        print(f"    {name}: {value:.3f}", flush=True)

    def med(self, name: str) -> float:
        return statistics.median(self.raw[name])

    def fresh_storage(self) -> None:
        """An empty moto on the same port, and the user config pointing at it."""
        self.moto.start()
        from cpv.settings.config import StorageSettings, UserConfig, save_user_config

        save_user_config(
            UserConfig(
                storage=StorageSettings(
                    provider="minio",
                    bucket=BUCKET,
                    endpoint_url=self.moto.endpoint,
                    region="us-east-1",
                )
            )
        )

    def new_model(self) -> Path:
        self.models += 1
        name = f"m{self.models}"
        run([*CPV, "init", f"acme/{name}", str(self.work / name)], env=self.env)
        return self.work / name

    def random_file(self, path: Path, size: int) -> Path:
        with open(path, "wb") as fh:
            left = size
            while left:
                n = min(left, 16 * MiB)
                fh.write(os.urandom(n))
                left -= n
        return path

    def drop(self, *paths: Path) -> None:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)

    def rounds(self, tools: dict[str, Callable[[], None]]) -> None:
        names = list(tools)
        for r in range(self.args.repeat):
            order = names[r % len(names) :] + names[: r % len(names)]
            print(f"  round {r + 1}/{self.args.repeat}: {', '.join(order)}", flush=True)
            for name in order:
                tools[name]()

    # 1 + 4: push and tag of one big file ---------------------------------------

    def push_and_tag(self) -> None:
        size = self.args.size_mb * MiB
        print(f"\n[1+4] push and tag of {self.args.size_mb} MiB", flush=True)
        src = self.random_file(self.work / "big.bin", size)
        sh("sync")

        def cpv() -> None:
            self.fresh_storage()
            repo = self.new_model()
            shutil.copyfile(src, repo / "checkpoints" / "model.bin")
            sh("sync")
            tag = run([*CPV, "tag", "--kind", "model", "-m", "bench"], cwd=repo, env=self.env)
            self.record("tag: cpv tag", tag.seconds)
            self.record("tag: cpv tag RSS MB", tag.rss_mb)
            # The tag's 2 x SIZE of dirty pages (cache and workspace) are written back now, not
            # during the push: the baselines read a file whose writeback ended long before.
            sh("sync")
            push = run([*CPV, "push", "--json"], cwd=repo, env=self.env)
            pushed = json.loads(push.out)["objects_pushed"]
            assert pushed == 2, f"cpv push uploaded {pushed} objects, expected 2"
            self.record("push: cpv push", push.seconds)
            self.record("push: cpv push RSS MB", push.rss_mb)
            self.drop(repo)

        def boto3() -> None:
            self.fresh_storage()
            child = run(
                [PY, "-c", UPLOAD_BOTO3, self.moto.endpoint, BUCKET, "baseline/big.bin", str(src)],
                env=self.env,
            )
            self.record("push: boto3 tuned", child.seconds)
            self.record("push: boto3 tuned RSS MB", child.rss_mb)

        def aws() -> None:
            self.fresh_storage()
            child = run(
                [
                    self.aws,
                    "s3",
                    "cp",
                    "--only-show-errors",
                    "--endpoint-url",
                    self.moto.endpoint,
                    str(src),
                    f"s3://{BUCKET}/baseline/big.bin",
                ],
                env=self.env,
            )
            self.record("push: aws s3 cp", child.seconds)
            self.record("push: aws s3 cp RSS MB", child.rss_mb)

        def floor() -> None:
            copy = self.work / "copy.bin"
            start = time.perf_counter()
            sh("md5sum", str(src))
            sh("cp", str(src), str(copy))
            self.record("tag: md5sum+cp", time.perf_counter() - start)
            self.drop(copy)

        self.rounds({"cpv": cpv, "boto3": boto3, "aws": aws, "md5sum+cp": floor})
        self.moto.stop()
        self.drop(src)

    # 2: clone and pull -----------------------------------------------------------

    def fetch(self) -> None:
        size = self.args.fetch_mb * MiB
        print(f"\n[2] clone and pull VERSION of {self.args.fetch_mb} MiB", flush=True)
        self.fresh_storage()
        repo = self.new_model()
        a = self.random_file(repo / "checkpoints" / "model.bin", size)
        md5_a = hashlib.md5(a.read_bytes()).hexdigest()
        run([*CPV, "tag", "--kind", "model"], cwd=repo, env=self.env)
        self.random_file(repo / "checkpoints" / "model.bin", size)
        run([*CPV, "tag", "--kind", "model"], cwd=repo, env=self.env)
        run([*CPV, "push"], cwd=repo, env=self.env)
        from cpv.objects.store import remote_settings

        url = remote_settings(repo)["url"]
        prefix = url.removeprefix(f"s3://{BUCKET}").strip("/")
        key = f"{prefix}/files/md5/{md5_a[:2]}/{md5_a[2:]}".lstrip("/")
        model = repo.name
        self.drop(repo)

        def cpv() -> None:
            dest = self.work / "clone"
            try:
                cpv_fetch(dest)
            except RuntimeError as exc:  # report it, keep measuring the rest
                last = [line for line in str(exc).splitlines() if line.strip()][-2:]
                self.failures.append(f"{str(exc).splitlines()[0]}: {' / '.join(last)}")
                print(f"    FAILED: {self.failures[-1]}", flush=True)
            self.drop(dest)

        def cpv_fetch(dest: Path) -> None:
            child = run([*CPV, "clone", f"acme/{model}", str(dest)], env=self.env)
            self.record("fetch: cpv clone", child.seconds)
            self.record("fetch: cpv clone RSS MB", child.rss_mb)
            child = run([*CPV, "pull", "v0.1"], cwd=dest, env=self.env)
            got = hashlib.md5((dest / "checkpoints" / "model.bin").read_bytes()).hexdigest()
            assert got == md5_a, "cpv pull v0.1 did not bring v0.1's bytes"
            self.record("fetch: cpv pull v0.1", child.seconds)
            self.record("fetch: cpv pull RSS MB", child.rss_mb)

        def boto3() -> None:
            dest = self.work / "download.bin"
            args = [PY, "-c", DOWNLOAD_BOTO3, self.moto.endpoint, BUCKET, key, str(dest), md5_a]
            child = run(args, env=self.env)
            self.record("fetch: boto3 download+md5", child.seconds)
            self.record("fetch: boto3 RSS MB", child.rss_mb)
            self.drop(dest)

        self.rounds({"cpv": cpv, "boto3": boto3})
        self.moto.stop()

    # 3: many small files through a latency proxy -----------------------------------

    def small_files(self) -> None:
        n, delay = self.args.files, self.args.latency_ms / 1000
        print(f"\n[3] {n} x 4 KiB files, {self.args.latency_ms} ms per request", flush=True)
        folder = self.work / "shards"
        folder.mkdir(exist_ok=True)
        for i in range(n):
            (folder / f"shard-{i:05d}.bin").write_bytes(os.urandom(4096))

        def model_with_files() -> tuple[Path, DelayProxy]:
            self.fresh_storage()
            proxy = DelayProxy(self.moto.port, delay)
            repo = self.new_model()
            shutil.copytree(folder, repo / "checkpoints" / "shards")
            run([*CPV, "tag", "--kind", "model"], cwd=repo, env=self.env)
            sh(
                DVC,
                "remote",
                "modify",
                "--local",
                "storage",
                "endpointurl",
                proxy.endpoint,
                cwd=repo,
            )
            proxy.count()
            return repo, proxy

        def cpv() -> None:
            repo, proxy = model_with_files()
            child = run([*CPV, "push", "--json"], cwd=repo, env=self.env)
            pushed = json.loads(child.out)["objects_pushed"]
            assert pushed == n + 1, f"cpv push uploaded {pushed} objects, expected {n + 1}"
            self.record("small: cpv push", child.seconds)
            self.record("small: cpv push requests", proxy.count())
            self.drop(repo)

        def dvc() -> None:
            repo, proxy = model_with_files()
            child = run([DVC, "push", "-q"], cwd=repo, env=self.env)
            self.record("small: dvc push", child.seconds)
            self.record("small: dvc push requests", proxy.count())
            self.drop(repo)

        def boto3() -> None:
            self.fresh_storage()
            proxy = DelayProxy(self.moto.port, delay)
            args = [PY, "-c", PUT_POOL_BOTO3, proxy.endpoint, BUCKET, "baseline/", str(folder)]
            child = run(args, env=self.env)
            self.record("small: boto3 16-thread put", child.seconds)
            self.record("small: boto3 requests", proxy.count())

        self.rounds({"cpv": cpv, "boto3": boto3, "dvc": dvc})
        self.moto.stop()
        self.drop(folder)

    # 5: many unpublished versions -----------------------------------------------------

    def many_versions(self) -> None:
        from cpv import ModelCheckpoints

        counts = [max(1, self.args.versions // 4), self.args.versions]
        print(f"\n[5] push of {counts[0]} and {counts[1]} tiny versions", flush=True)
        self.fresh_storage()
        repos = {}
        for count in counts:
            repo = self.new_model()
            start = time.perf_counter()
            for i in range(count):
                (repo / "checkpoints" / "model.bin").write_bytes(os.urandom(1024) + b"%d" % i)
                ModelCheckpoints(repo).tag()
            took = time.perf_counter() - start
            print(f"  made {count} versions in {took:.1f} s ({took / count:.3f} s each)")
            repos[count] = repo
        bare_of = {
            c: sh("git", "remote", "get-url", "origin", cwd=r).strip() for c, r in repos.items()
        }

        def push(count: int) -> Callable[[], None]:
            def one() -> None:
                repo = repos[count]
                # Fresh remotes: empty storage, empty bare git repo, no remote-tracking refs.
                self.fresh_storage()
                bare = Path(bare_of[count])
                self.drop(bare)
                sh("git", "init", "-q", "--bare", str(bare))
                for ref in sh(
                    "git", "for-each-ref", "--format=%(refname)", "refs/remotes", cwd=repo
                ).split():
                    sh("git", "update-ref", "-d", ref, cwd=repo)
                child = run([*CPV, "push", "--json"], cwd=repo, env=self.env)
                pushed = json.loads(child.out)
                assert len(pushed["pushed_tags"]) == count, pushed["pushed_tags"][:3]
                self.record(f"many: cpv push {count} versions", child.seconds)
                self.record(f"many: objects {count}", pushed["objects_pushed"])

            return one

        self.rounds({f"{c} versions": push(c) for c in counts})
        self.moto.stop()
        self.counts = counts

    # report ------------------------------------------------------------------------------

    def report(self, sections: set[str]) -> None:
        a = self.args
        print("\n## Raw numbers (seconds unless named)\n")
        for name, values in self.raw.items():
            print(f"- {name}: {', '.join(f'{v:.2f}' for v in values)}")
        rows: list[tuple[str, str, str, str]] = []

        def row(what: str, name: str, ratio: str = "", target: str = "") -> None:
            unit = " MB" if "RSS" in name else (" req" if "requests" in name else " s")
            digits = 2 if unit == " s" else 0
            rows.append((what, f"{self.med(name):.{digits}f}{unit}", ratio, target))

        def verdict(ok: bool) -> str:
            return "met" if ok else "**missed**"

        if "push" in sections:
            best = min(self.med("push: boto3 tuned"), self.med("push: aws s3 cp"))
            r = self.med("push: cpv push") / best
            rss = max(self.raw["push: cpv push RSS MB"])
            row(f"tuned boto3 upload, {a.size_mb} MiB (8 MiB x 10)", "push: boto3 tuned")
            row(f"`aws s3 cp`, {a.size_mb} MiB", "push: aws s3 cp")
            row(
                f"`cpv push`, {a.size_mb} MiB",
                "push: cpv push",
                f"{r:.2f}x faster baseline",
                f"<= 1.1x: {verdict(r <= 1.1)}",
            )
            row(
                f"`cpv push` peak RSS (median; max {rss:.0f} MB)",
                "push: cpv push RSS MB",
                "",
                f"<= 250 MB: {verdict(rss <= 250)}",
            )
            row("tuned boto3 upload peak RSS", "push: boto3 tuned RSS MB")
            row("`aws s3 cp` peak RSS", "push: aws s3 cp RSS MB")
            r = self.med("tag: cpv tag") / self.med("tag: md5sum+cp")
            row(f"`md5sum` + `cp`, {a.size_mb} MiB", "tag: md5sum+cp")
            row(
                f"`cpv tag model`, {a.size_mb} MiB",
                "tag: cpv tag",
                f"{r:.2f}x",
                f"<= 1.3x: {verdict(r <= 1.3)}",
            )
        if "fetch" in sections:
            base = self.med("fetch: boto3 download+md5")
            row(
                f"boto3 download (64 MiB parts) + md5, {a.fetch_mb} MiB",
                "fetch: boto3 download+md5",
            )
            for name, label in (
                []
                if "fetch: cpv clone" not in self.raw
                else (
                    ("fetch: cpv clone", "`cpv clone`"),
                    ("fetch: cpv pull v0.1", "`cpv pull v0.1`"),
                )
            ):
                r = self.med(name) / base
                row(
                    f"{label}, {a.fetch_mb} MiB", name, f"{r:.2f}x", f"<= 1.2x: {verdict(r <= 1.2)}"
                )
        if "small" in sections:
            base, dvc = self.med("small: boto3 16-thread put"), self.med("small: dvc push")
            mine = self.med("small: cpv push")
            row(f"boto3 put_object x 16 threads, {a.files} x 4 KiB", "small: boto3 16-thread put")
            row("plain `dvc push`", "small: dvc push")
            row(
                "`cpv push`",
                "small: cpv push",
                f"{mine / base:.2f}x boto3; dvc/cpv {dvc / mine:.2f}x",
                f"<= 1.2x boto3: {verdict(mine / base <= 1.2)}; >= 1.5x faster than dvc: "
                f"{verdict(dvc / mine >= 1.5)}",
            )
            for name in (
                "small: boto3 requests",
                "small: dvc push requests",
                "small: cpv push requests",
            ):
                row(
                    f"HTTP requests ({name.split(': ')[1].split(' requests')[0].replace(' requests', '')})",
                    name,
                )
        if "many" in sections:
            lo, hi = self.counts
            for c in self.counts:
                m = self.med(f"many: cpv push {c} versions")
                row(
                    f"`cpv push` of {c} tiny versions",
                    f"many: cpv push {c} versions",
                    f"{m / c * 1000:.1f} ms/version",
                )
            ratio = self.med(f"many: cpv push {hi} versions") / self.med(
                f"many: cpv push {lo} versions"
            )
            extra = self.med(f"many: cpv push {hi} versions") - self.med(
                f"many: cpv push {lo} versions"
            )
            rows.append(
                (
                    f"marginal cost per version ({lo} -> {hi})",
                    "",
                    f"{extra / (hi - lo) * 1000:.1f} ms/version",
                    "",
                )
            )
            rows.append(
                (f"{hi} / {lo} versions", "", f"{ratio:.2f}x time for {hi / lo:.0f}x versions", "")
            )
        print(
            f"\n## Results ({date.today().isoformat()}, medians of {a.repeat} interleaved rounds)\n"
        )
        for failure in dict.fromkeys(self.failures):
            rows.append((f"FAILED: {failure}", "", "", "**missed**"))
        print("| measurement | median | ratio | target |\n|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
        print(f"\nCommand: .venv/bin/python {' '.join(sys.argv)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--big", action="store_true", help="1 GiB for push and tag")
    parser.add_argument("--size-mb", type=int, default=None, help="push/tag size (256)")
    parser.add_argument("--fetch-mb", type=int, default=None, help="clone/pull size (256)")
    parser.add_argument("--files", type=int, default=None, help="small files (2000)")
    parser.add_argument("--versions", type=int, default=None, help="tiny versions (200)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", default="push,fetch,small,many", help="sections: push,fetch,small,many"
    )
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir)")
    parser.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="run every cpv command under cProfile, writing DIR/<n>-<command>.prof",
    )
    parser.add_argument(
        "--rgw",
        action="store_true",
        help="use the S3 server in CPV_TEST_RGW_* (run under scripts/with-rgw.sh) instead of moto",
    )
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
        PROFILE_DIR.append(Path(args.profile).resolve())
    small = args.quick
    args.size_mb = args.size_mb or (16 if small else 1024 if args.big else 256)
    args.fetch_mb = args.fetch_mb or (16 if small else 256)
    args.files = args.files or (100 if small else 2000)
    args.versions = args.versions or (8 if small else 200)
    sections = set(args.only.split(","))

    # Bytecode for cpv, as `pip install` leaves it (PYTHONDONTWRITEBYTECODE may be set here,
    # and the baselines' libraries come with theirs): cpv is not timed compiling itself.
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "cpv"), quiet=1)
    bench = Bench(args)
    started = time.perf_counter()
    try:
        if "push" in sections:
            bench.push_and_tag()
        if "fetch" in sections:
            bench.fetch()
        if "small" in sections:
            bench.small_files()
        if "many" in sections:
            bench.many_versions()
    finally:
        bench.moto.stop()
        if not args.workdir:
            shutil.rmtree(bench.work, ignore_errors=True)
    bench.report(sections)
    print(f"Total run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
