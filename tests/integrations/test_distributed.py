"""Only the global rank 0 process versions: two gloo processes on the CPU."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from cpv.api.managers import ModelCheckpoints  # noqa: E402
from cpv.integrations import global_rank  # noqa: E402

from .conftest import metrics_log  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("created", ["after", "before"])
def test_two_gloo_processes_make_one_version_per_save(
    integ_repo: Path, tmp_path: Path, created: str
) -> None:
    """``versioning()`` made after or before ``init_process_group``: rank 0 alone versions."""
    port = str(_free_port())
    script = Path(__file__).with_name("_ddp_worker.py")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(rank),
                "2",
                port,
                str(integ_repo),
                str(tmp_path),
                created,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs

    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert reports == [{"rank": 0, "queued": 2}, {"rank": 1, "queued": 0}]
    records = ModelCheckpoints(integ_repo).list()
    assert [r.version for r in records] == ["v0.1", "v0.2"]  # two saves, one version each
    assert [r.metrics["epoch"] for r in records] == [0, 1]
    assert len(metrics_log(integ_repo)) == 2


def test_rank_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    assert global_rank() == 0
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert global_rank() == 3
    monkeypatch.setenv("RANK", "2")
    assert global_rank() == 2
