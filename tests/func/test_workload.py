"""Issue 19: a randomized workload of three clones of one model acting at once — tag,
promote, revert, pull, then push, one of them running ``gc --keep-last 2 --remote`` every
third round — and then every version and alias checked byte for byte from a fresh clone,
and the kept versions by plain ``git clone`` + ``dvc pull``.

Each clone acts in its own thread through the real command line (child processes), so the
pushes, the gc's lease and the fetches really interleave. A command may fail cleanly
(a push that lost the race five times, a promote of a version gc removed meanwhile): what
must hold is the end state. The seed is printed; ``CPV_WORKLOAD_SEED`` replays one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from pathlib import Path

import pytest

from cpv.ops.init import init_repository
from cpv.ops.pull import clone
from tests.conftest import run_cpv, write_checkpoint

ROUNDS = 6


def _payload(ident: str) -> bytes:
    return (ident + "\n").encode() * 40


def _versions(repo: Path) -> list[str]:
    proc = run_cpv("list", "--json", cwd=repo, check=False)
    if proc.returncode != 0:
        return []
    return [row["tag"].split("/")[1] for row in json.loads(proc.stdout)]


def _act(repo: Path, who: int, round_: int, rng: random.Random, log: list[str]) -> None:
    action = rng.choice(["tag", "tag", "promote", "promote", "revert", "pull"])
    versions = _versions(repo)
    if action == "tag" or not versions:
        ident = f"clone{who}-round{round_}"
        write_checkpoint(repo, _payload(ident))
        proc = run_cpv("tag", "-m", ident, cwd=repo, check=False)
    elif action == "promote":
        proc = run_cpv("promote", rng.choice(versions), "prod", cwd=repo, check=False)
    elif action == "revert":
        proc = run_cpv("revert", rng.choice(versions), cwd=repo, check=False)
    else:
        proc = run_cpv("pull", cwd=repo, check=False)
    steps = [(action, proc)]
    if round_ % 3 == 2 and who == 0:
        steps.append(("gc", run_cpv("gc", "--keep-last", "2", "--remote", cwd=repo, check=False)))
    steps.append(("push", run_cpv("push", cwd=repo, check=False)))
    for name, p in steps:
        assert "Traceback" not in p.stderr, p.stderr
        log.append(f"clone{who} r{round_} {name}: {p.returncode} {p.stderr.strip()[:160]}")


def test_three_clones_at_once_never_lose_a_version_or_an_alias(
    s3_user_config: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CPV_WORKLOAD_SEED", random.randrange(1 << 30)))
    print(f"workload seed: {seed}")
    rng = random.Random(seed)
    first = init_repository(team="acme", model="m", path=tmp_path / "c0")
    write_checkpoint(first, _payload("clone0-round-1"))
    run_cpv("tag", "-m", "clone0-round-1", cwd=first)
    run_cpv("push", cwd=first)
    clones = [first] + [clone("acme/m", tmp_path / f"c{i}")[0] for i in (1, 2)]
    log: list[str] = []
    for round_ in range(ROUNDS):
        rngs = [random.Random(rng.random()) for _ in clones]
        threads = [
            threading.Thread(target=_act, args=(repo, who, round_, rngs[who], log))
            for who, repo in enumerate(clones)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
    for repo in clones:  # settle: every clone publishes what it still holds
        run_cpv("pull", cwd=repo, check=False)
        run_cpv("push", cwd=repo, check=False)
    print("\n".join(log))
    assert sum(" gc: 0" in line for line in log) == 2, log  # rounds 2 and 5, clone 0
    _check_everything(tmp_path, log, seed)


def _check_everything(tmp_path: Path, log: list[str], seed: int) -> None:
    why = f"seed {seed}:\n" + "\n".join(log)
    fresh, _ = clone("acme/m", tmp_path / "fresh")
    rows = json.loads(run_cpv("list", "--deleted", "--json", cwd=fresh).stdout)
    live = [r for r in rows if not r.get("removed")]
    assert live, why
    for row in live:  # every version not removed on purpose: its bytes, exactly
        version = row["tag"].split("/")[1]
        pulled = run_cpv("pull", version, cwd=fresh, check=False)
        assert pulled.returncode == 0, f"{row['tag']}: {pulled.stderr}\n{why}"
        got = (fresh / "checkpoints" / "model.bin").read_bytes()
        assert got == _payload(row["message"]), f"{row['tag']}\n{why}"
    aliases = json.loads(run_cpv("aliases", "--json", cwd=fresh).stdout)
    for alias in aliases:
        target = alias["tag"]
        if target is None:  # demoted
            continue
        assert target in {r["tag"] for r in live}, f"{alias} names a removed version\n{why}"
        pulled = run_cpv("pull", alias["alias"], cwd=fresh, check=False)
        assert pulled.returncode == 0, f"{alias}: {pulled.stderr}\n{why}"
    # plain git + dvc: the newest kept version and the one prod names
    bare = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=fresh, capture_output=True, text=True
    ).stdout.strip()
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", bare, str(plain)], check=True)
    for row in [live[-1]]:
        subprocess.run(["git", "checkout", "-q", row["tag"]], cwd=plain, check=True)
        done = subprocess.run(["dvc", "pull", "-q"], cwd=plain, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (plain / "checkpoints" / "model.bin").read_bytes() == _payload(row["message"])


pytestmark = [pytest.mark.s3, pytest.mark.slow]
