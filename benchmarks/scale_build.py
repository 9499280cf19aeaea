"""Build a model repository with N versions in cpv's own format, in seconds, for bench_scale.

The repository is made by ``cpv init`` (its real layout, DVC config and bare git remote under
``CPV_HOME``); then ``git fast-import`` writes what N runs of ``cpv tag`` would have written:
per version a commit ``cpv: model vX.Y — …`` changing ``checkpoints.dvc`` (and
``metrics.log``), and the annotated tag ``model/vX.Y`` whose message is
:func:`cpv.domain.metadata.encode_tag_message` of the version's record. Each version's one small
file and its ``.dir`` listing are written to the local cache and to the storage, so ``du``
and ``verify`` find real objects. The branch and tags are then pushed to the bare remote
with plain git, so the versions are published.

``metrics_log``:
  ``grow``  every commit appends the version's line, as ``cpv tag`` does (its history then
            holds N copies of a growing file: cost quadratic in N, kept for N <= a few 1,000);
  ``head``  only the last commit writes ``metrics.log`` (all N lines): the same files at HEAD,
            a history without the growing copies (the default; building 10,000 stays quick).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cpv.domain.metadata import VersionRecord, encode_tag_message
from cpv.domain.versions import Kind

IDENT = "bench <bench@example.com>"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def cpv(*args: str, cwd: Path | None = None) -> str:
    """Run the cpv CLI of this interpreter (a failure stops the benchmark, with its output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "cpv", *args], cwd=cwd, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"cpv {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def git(root: Path, *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=root, input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed:\n{proc.stderr.decode()}")
    return proc.stdout.decode()


def _put(folder: Path, md5: str, body: bytes) -> None:
    path = folder / "files" / "md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(body)
        os.chmod(path, 0o444)


def weights(i: int) -> bytes:
    return f"weights of version {i}\n".encode()


class Version:
    """What ``cpv tag`` of version ``v0.<i>`` writes: its object, listing, pointer, log line."""

    def __init__(self, i: int) -> None:
        self.i = i
        self.name = f"v0.{i}"
        self.body = weights(i)
        self.md5 = hashlib.md5(self.body).hexdigest()
        self.listing = json.dumps([{"md5": self.md5, "relpath": "w.bin"}], sort_keys=True).encode()
        self.dir_md5 = hashlib.md5(self.listing).hexdigest() + ".dir"
        self.when = START + timedelta(minutes=i)
        self.created_at = self.when.isoformat(timespec="seconds")
        self.metrics = {"loss": round(1 / (i + 1), 6), "acc": round(1 - 1 / (i + 2), 6)}
        self.message = f"epoch {i}"

    def pointer(self) -> bytes:
        return (
            f"outs:\n- md5: {self.dir_md5}\n  size: {len(self.body)}\n  nfiles: 1\n"
            "  hash: md5\n  path: checkpoints\n"
        ).encode()

    def log_line(self) -> bytes:
        line = {
            "kind": "model",
            "version": self.name,
            "created_at": self.created_at,
            "metrics": self.metrics,
            "params": {},
            "message": self.message,
            "content_hash": self.dir_md5,
        }
        return (json.dumps(line, sort_keys=True) + "\n").encode()

    def tag_message(self) -> bytes:
        record = VersionRecord(
            kind=Kind.MODEL,
            version=self.name,
            tag=f"model/{self.name}",
            created_at=self.created_at,
            author=IDENT,
            message=self.message,
            size_bytes=len(self.body),
            file_count=1,
            content_hash=self.dir_md5,
            metrics=self.metrics,
            path="checkpoints",
        )
        return encode_tag_message(record).encode()

    def store(self, *folders: Path) -> None:
        for folder in folders:
            _put(folder, self.md5, self.body)
            _put(folder, self.dir_md5[: -len(".dir")] + ".dir", self.listing)


def _data(body: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(body), body)


def _stream(versions: list[Version], parent: str, metrics_log: str) -> Iterator[bytes]:
    """The fast-import stream: blobs first (the growing metrics.log copies one after another,
    so that each is stored as a delta of the previous), then the commits and tags."""
    log_marks: dict[int, int] = {}
    mark = 0
    if metrics_log == "grow":
        text = b""
        for v in versions:
            text += v.log_line()
            mark += 1
            log_marks[v.i] = mark
            yield b"blob\nmark :%d\n" % mark + _data(text)
    else:
        mark += 1
        log_marks[versions[-1].i] = mark
        yield b"blob\nmark :%d\n" % mark + _data(b"".join(v.log_line() for v in versions))
    for n, v in enumerate(versions):
        stamp = b"%s %d +0000" % (IDENT.encode(), int(v.when.timestamp()))
        mark += 1
        commit = mark
        subject = f"cpv: model {v.name} — {v.message}".encode()
        out = [b"commit refs/heads/main\nmark :%d\n" % commit]
        out.append(b"author %s\ncommitter %s\n" % (stamp, stamp) + _data(subject))
        if n == 0:
            out.append(b"from %s\n" % parent.encode())
        out.append(b"M 100644 inline checkpoints.dvc\n" + _data(v.pointer()))
        if v.i in log_marks:
            out.append(b"M 100644 :%d metrics.log\n" % log_marks[v.i])
        out.append(b"tag model/%s\nfrom :%d\ntagger %s\n" % (v.name.encode(), commit, stamp))
        out.append(_data(v.tag_message()))
        yield b"".join(out)


def build(root: Path, *, count: int, metrics_log: str = "head", team: str = "acme") -> Path:
    """A model repository ``root`` (created by ``cpv init``) with ``count`` versions."""
    cpv("init", f"{team}/{root.name}", str(root))
    versions = [Version(i) for i in range(1, count + 1)]
    storage = Path(os.environ["CPV_HOME"]) / "storage" / team / root.name
    for v in versions:
        v.store(root / ".dvc" / "cache", storage)
    parent = git(root, "rev-parse", "HEAD").strip()
    stream = b"".join(_stream(versions, parent, metrics_log)) + b"done\n"
    git(root, "fast-import", "--quiet", "--done", "--force", stdin=stream)
    git(root, "reset", "-q", "--hard", "main")
    (root / "checkpoints" / "w.bin").write_bytes(versions[-1].body)
    git(root, "push", "-q", "origin", "main", "refs/tags/*:refs/tags/*")
    return root


def main() -> None:
    import argparse
    import tempfile
    import time

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("count", type=int)
    parser.add_argument("--metrics-log", choices=("head", "grow"), default="head")
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="cpv-scale-"))
    os.environ.setdefault("CPV_HOME", str(base / "home"))
    t0 = time.perf_counter()
    root = build(base / f"m{args.count}", count=args.count, metrics_log=args.metrics_log)
    print(f"{root} ({args.count} versions) built in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
