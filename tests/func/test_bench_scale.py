"""``benchmarks/bench_scale.py --quick`` still runs: it builds its models in cpv's format,
every command it times succeeds on them, and it reports each one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_scale.py"


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="the benchmark measures through os.wait4")
def test_the_scale_benchmark_runs_quick_and_reports_every_command() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--no-catalog", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert [s["versions"] for s in results["sizes"]] == [10, 50]
    for size in results["sizes"]:
        rows = size["rows"]
        for name in ("list", "show latest", "status --no-remote", "du --json"):
            assert rows[name]["seconds"] > 0, (size["versions"], name)
        assert rows["tag (one new version)"]["seconds"] > 0
    assert "cpv --version" in results["startup"]
