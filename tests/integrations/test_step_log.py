"""Per-step metrics of a training run (``Versioning.log_metrics``) go to ``metrics.log`` in
the commit of the run's next version, just before its line; no torch needed."""

from __future__ import annotations

from pathlib import Path

from cpv.api.managers import ModelCheckpoints
from cpv.integrations import versioning
from cpv.integrations._steps import StepLog
from tests.conftest import git as _git

from .conftest import metrics_log, step_lines


def test_steps_are_committed_with_the_next_version_and_name_its_run(
    integ_repo: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "model.bin"
    with versioning(repo=integ_repo) as v:
        for epoch in range(2):
            for step in range(epoch * 3, epoch * 3 + 3):
                v.log_metrics({"loss": 1.0 / (step + 1), "note": "text is left out"}, step=step)
            ckpt.write_bytes(f"epoch {epoch}".encode())
            v.log_checkpoint(ckpt, metrics={"wer": 0.3 - epoch / 10})
        v.log_metrics({"loss": 0.01}, step=99)  # after the last version: never written

    steps, versions = step_lines(integ_repo), metrics_log(integ_repo)
    assert [s["step"] for s in steps] == [0, 1, 2, 3, 4, 5]
    assert steps[0] == {"kind": "step", "run": v.run_id, "step": 0, "metrics": {"loss": 1.0}}
    assert [e["run"] for e in versions] == [v.run_id, v.run_id]
    # In each version's own commit: its run's steps, then its line.
    at_v1 = _git(integ_repo, "show", "model/v0.1:metrics.log").splitlines()
    assert ['"step": 0' in line for line in at_v1] == [True, False, False, False]
    assert '"version": "v0.1"' in at_v1[-1]
    assert _git(integ_repo, "status", "--porcelain") == ""  # nothing left uncommitted

    curves = ModelCheckpoints(integ_repo).compare().curves
    assert [(c.tag, c.steps) for c in curves] == [
        ("model/v0.1", [0.0, 1.0, 2.0]),
        ("model/v0.2", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]),
    ]


def test_steps_of_a_save_that_made_no_version_go_with_the_next(
    integ_repo: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"same")
    with versioning(repo=integ_repo, background=False) as v:
        v.log_checkpoint(ckpt)
        v.log_metrics({"loss": 2.0}, step=1)
        v.log_checkpoint(ckpt)  # unchanged: no version, no commit
        v.log_metrics({"loss": 1.0}, step=2)
        ckpt.write_bytes(b"new")
        v.log_checkpoint(ckpt)
    assert [o.created for o in v.outcomes] == [True, False, True]
    assert [s["step"] for s in step_lines(integ_repo)] == [1, 2]
    assert [e["version"] for e in metrics_log(integ_repo)] == ["v0.1", "v0.2"]


def test_a_long_stretch_is_thinned_evenly() -> None:
    log = StepLog(limit=10)
    for step in range(100):
        log.add(step, {"loss": float(step)})
    kept = [line["step"] for line in log.take()]
    assert 5 <= len(kept) < 10
    gaps = {b - a for a, b in zip(kept, kept[1:], strict=False)}
    assert len(gaps) == 1, kept  # one stride: evenly spread
    assert log.take() == ()  # taken once
    log.add(1, {"loss": float("nan"), "name": "x"})
    assert log.take() == ()  # nothing finite to keep
