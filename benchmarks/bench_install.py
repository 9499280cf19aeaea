"""A user's plain ``pip install`` of the project (no constraints file) in a fresh venv.

    python benchmarks/bench_install.py [--extras ""] [--keep]

Reports the wall time and whether pip had to backtrack ("pip is looking at multiple
versions of …"): the dependency bounds in pyproject.toml must resolve at once (issue 9:
under 90 s here). The index and pip's cache are whatever this machine uses.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="e.g. 'torch' (empty: the core install)")
    parser.add_argument("--keep", action="store_true", help="keep the venv")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cpv-install-"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    target = f"{ROOT}[{args.extras}]" if args.extras else str(ROOT)
    started = time.perf_counter()
    proc = subprocess.run(
        [*pip, "install", "--disable-pip-version-check", target],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    output = proc.stdout + proc.stderr
    backtracked = sorted(set(re.findall(r"looking at multiple versions of ([\w.-]+)", output)))
    check = subprocess.run([str(venv / "bin" / "cpv"), "--version"], capture_output=True, text=True)
    print(f"pip install {target.replace(str(ROOT), '.')}: exit {proc.returncode}, {elapsed:.1f} s")
    print(f"backtracked on: {', '.join(backtracked) or 'nothing'}")
    print(f"cpv --version: {check.stdout.strip() or check.stderr.strip()}")
    if proc.returncode != 0:
        print(output[-3000:])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if proc.returncode or backtracked else 0)


if __name__ == "__main__":
    main()
