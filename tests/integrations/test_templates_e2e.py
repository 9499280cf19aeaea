"""Both templates rendered by `cpv init --template` and trained twice: v0.1, then v0.2."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from cpv.api.managers import DataCheckpoints, ModelCheckpoints

from .conftest import metrics_log, run_script

EXPECTED_METRICS = {
    "pytorch": {"val_loss", "val_accuracy", "train_loss"},
    "transformers": {"eval_loss", "eval_accuracy", "train_loss", "is_best"},
}


@pytest.mark.slow
@pytest.mark.parametrize("template", ["pytorch", "transformers"])
def test_two_runs_make_two_versions_with_their_metrics(template: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    if template == "transformers":
        pytest.importorskip("transformers")
    from tests.conftest import run_cpv

    run_cpv("init", "acme/demo", str(tmp_path / "demo"), "--template", template)
    project = tmp_path / "demo"

    timings = []
    for _ in range(2):
        started = time.monotonic()
        run_script(project / "train.py", cwd=project)
        timings.append(time.monotonic() - started)
    assert max(timings) < 60, timings

    records = ModelCheckpoints(project).list()
    assert [r.version for r in records] == ["v0.1", "v0.2"]
    assert records[0].content_hash != records[1].content_hash
    for record in records:
        assert EXPECTED_METRICS[template] <= set(record.metrics), record.metrics
        assert record.params["seed"] == 0
        assert record.data_version == "data/v0.1"
    assert [r.version for r in DataCheckpoints(project).list()] == ["v0.1"]
    log = metrics_log(project)
    assert [(e["kind"], e["version"]) for e in log] == [
        ("data", "v0.1"),
        ("model", "v0.1"),
        ("model", "v0.2"),
    ]
    assert log[2]["metrics"] == records[1].metrics
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    ).stdout
    assert status == ""  # outputs/ ignored, checkpoints/ and data/ tracked by DVC
    assert "demo" in (project / "README.md").read_text()
