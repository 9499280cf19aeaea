"""`cpv list` over N versions: one `git for-each-ref` vs reading tag messages one by one.

Run:  .venv/bin/python benchmarks/bench_list.py [--versions 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "b@example.com")
    os.environ.setdefault("GIT_COMMITTER_NAME", "bench")
    os.environ.setdefault("GIT_COMMITTER_EMAIL", "b@example.com")
    os.environ["CPV_HOME"] = tempfile.mkdtemp()
    import git

    from cpv.core.repo import ModelRepo
    from cpv.domain.metadata import VersionRecord, encode_tag_message
    from cpv.domain.versions import Kind
    from cpv.ops.init import init_repository

    root = init_repository(team="acme", model="many", path=Path(tempfile.mkdtemp()) / "many")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    # Write N annotated tags with real cpv metadata, fast, via fast-import-like batch of `git tag`.
    lines = []
    for i in range(1, args.versions + 1):
        rec = VersionRecord(
            kind=Kind.MODEL,
            version=f"v0.{i}",
            tag=f"model/v0.{i}",
            created_at="2026-01-01T00:00:00+00:00",
            content_hash=f"{i:032x}.dir",
            metrics={"loss": 1 / i},
        )
        msg = root / ".git" / f"m{i}"
        msg.write_text(encode_tag_message(rec))
        lines.append(f"git tag -a -F {msg} model/v0.{i} {head}")
    subprocess.run(["sh", "-c", " && ".join(lines)], cwd=root, check=True)

    repo = ModelRepo.open(root)
    t0 = time.perf_counter()
    records = repo.records()
    one_call = time.perf_counter() - t0
    t0 = time.perf_counter()
    with git.Repo(root) as g:
        messages = [t.tag.message for t in g.tags if t.tag is not None]
    per_tag = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run(
        [os.sys.executable, "-m", "cpv", "-C", str(root), "list", "--json"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cli = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "versions": len(records),
                "messages": len(messages),
                "seconds": {
                    "cpv records() one for-each-ref": round(one_call, 3),
                    "GitPython tag.message each": round(per_tag, 3),
                    "cpv list --json (whole CLI process)": round(cli, 3),
                },
                "ratio per-tag / one-call": round(per_tag / one_call, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
