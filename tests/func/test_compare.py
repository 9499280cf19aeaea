"""``cpv compare`` (issue 11, part 3): N versions side by side, deltas, the best, --json,
--html, --png and the training curves from ``metrics.log``, on real repositories."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.core.versioning import TagRequest, append_metrics_log
from cpv.domain.errors import UsageError, VersionNotFoundError
from cpv.ops.compare import read_log, training_curves
from tests.conftest import run_cpv, write_checkpoint

#: (wer, accuracy, lr, message) of v0.1 … v0.4
RUNS = [
    (0.31, 0.80, 3e-4, "baseline"),
    (0.25, 0.84, 3e-4, "more data"),
    (0.27, 0.83, 1e-4, "lower lr"),
    (0.21, 0.88, 1e-4, "<script>alert(1)</script> & more"),
]


@pytest.fixture
def versions(repo: Path) -> Path:
    """Four model versions with metrics and params; ``prod`` names v0.2."""
    models = ModelCheckpoints(repo)
    for i, (wer, acc, lr, message) in enumerate(RUNS):
        write_checkpoint(repo, b"w" * (1000 * (i + 1)))
        models.tag(
            metrics={"wer": wer, "accuracy": acc, "step": 100 * (i + 1)},
            params={"lr": lr, "optimizer": {"name": "adam"}},
            message=message,
        )
    models.promote("v0.2", "prod")
    return repo


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_last_versions_side_by_side_with_deltas_and_the_best(versions: Path) -> None:
    res = ModelCheckpoints(versions).compare()
    assert res.tags == [f"model/v0.{i}" for i in range(1, 5)]
    assert [v.aliases for v in res.versions] == [[], ["prod"], [], []]
    rows = {r.name: r for r in res.metrics}
    assert list(rows) == ["accuracy", "wer", "step"]  # counters after the metrics
    wer = rows["wer"]
    assert wer.direction == "min" and wer.best == "model/v0.4"
    assert wer.values == [0.31, 0.25, 0.27, 0.21]
    assert wer.deltas == [0.0, -0.06, -0.04, -0.1]  # against the first, rounded
    assert wer.baseline == "model/v0.1"
    assert rows["accuracy"].direction == "max" and rows["accuracy"].best == "model/v0.4"
    assert rows["step"].direction is None and rows["step"].best is None
    assert res.size_deltas == [0, 1000, 2000, 3000]
    params = {p.name: p for p in res.params}
    assert params["lr"].differs and params["lr"].values == [3e-4, 3e-4, 1e-4, 1e-4]
    assert not params["optimizer.name"].differs


def test_named_versions_in_order_last_and_the_baseline_best(versions: Path) -> None:
    models = ModelCheckpoints(versions)
    res = models.compare(["v0.3", "prod", "latest"], against="best", metrics=["wer"])
    assert res.tags == ["model/v0.3", "model/v0.2", "model/v0.4"]
    (wer,) = res.metrics
    assert wer.baseline == wer.best == "model/v0.4"
    assert wer.deltas == [0.06, 0.04, 0.0]
    assert models.compare(last=2).tags == ["model/v0.3", "model/v0.4"]
    # The direction can be given: accuracy:min makes the lowest accuracy the best.
    (acc,) = models.compare(metrics=["accuracy:min"]).metrics
    assert acc.direction == "min" and acc.best == "model/v0.1"


def test_cpv_yaml_best_sets_the_direction_of_its_metric(versions: Path) -> None:
    config = versions / "cpv.yaml"
    config.write_text(config.read_text() + "best: {metric: step, mode: min}\n")
    (step,) = ModelCheckpoints(versions).compare(metrics=["step"]).metrics
    assert step.direction == "min" and step.best == "model/v0.1"  # else no direction at all


def test_wrong_requests_are_usage_errors(versions: Path) -> None:
    models = ModelCheckpoints(versions)
    with pytest.raises(UsageError, match="not both"):
        models.compare(["v0.1"], last=2)
    with pytest.raises(UsageError, match="'bleu'"):
        models.compare(metrics=["bleu"])
    with pytest.raises(UsageError, match="baseline"):
        models.compare(against="median")
    with pytest.raises(VersionNotFoundError):
        models.compare(["v0.1", "v0.9"])


def test_no_version_yet_is_an_error(repo: Path) -> None:
    with pytest.raises(VersionNotFoundError, match="nothing to compare"):
        ModelCheckpoints(repo).compare()


def test_cli_table_shows_every_version_alias_delta_and_the_best(versions: Path) -> None:
    out = run_cpv("compare", "--metric", "wer", cwd=versions, env={"COLUMNS": "200"}).stdout
    lines = out.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == [f"model/v0.{i}" for i in range(1, 5)]
    aliases = next(line for line in lines if line.startswith("aliases"))
    assert re.split(r"\s{2,}", aliases) == ["aliases", "-", "prod", "-", "-"]
    wer = next(line for line in lines if line.strip().startswith("wer"))
    assert "0.25 (-0.06)" in wer and "0.21 (-0.1) *" in wer and "0.31 " in wer
    assert "accuracy" not in out  # --metric keeps only wer
    assert re.search(r"^  lr\s+0\.0003\s+0\.0003\s+0\.0001\s+0\.0001$", out, re.M)
    assert "  the same in all: optimizer.name=adam" in out
    assert "optimizer.name" not in out.split("the same in all")[0]  # collapsed, not a row
    # what people compare leads; the bookkeeping follows
    order = [out.index(word) for word in ("metrics (", "  wer", "params:", "details:", "created")]
    assert order == sorted(order)
    assert "\x1b[" not in out  # a pipe gets no colour


def test_cli_colours_improvements_green_and_regressions_red(versions: Path) -> None:
    env = {"COLUMNS": "200", "FORCE_COLOR": "1", "NO_COLOR": ""}  # as on a terminal
    out = run_cpv("compare", "--metric", "wer", "--against", "best", cwd=versions, env=env).stdout
    assert re.search(r"\x1b\[31m \(\+0\.1\)", out), out  # v0.1 is 0.1 worse than the best
    out = run_cpv("compare", "--metric", "wer", cwd=versions, env=env).stdout
    assert re.search(r"\x1b\[32m \(-0\.06\)", out), out  # v0.2 improves on v0.1


def test_cli_json_and_last(versions: Path) -> None:
    data = json.loads(run_cpv("compare", "--last", "2", "--json", cwd=versions).stdout)
    assert [v["tag"] for v in data["versions"]] == ["model/v0.3", "model/v0.4"]
    wer = next(m for m in data["metrics"] if m["name"] == "wer")
    assert wer == {
        "name": "wer",
        "direction": "min",
        "values": [0.27, 0.21],
        "deltas": [0.0, -0.06],
        "baseline": "model/v0.3",
        "best": "model/v0.4",
    }
    assert data["versions"][1]["message"] == RUNS[3][3]
    assert data["size_deltas"] == [0, 1000] and data["curves"] == []


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["v0.1", "v0.9"], 1, "v0.9"),
        (["v0.1", "--last", "2"], 2, "not both"),
        (["--metric", "bleu"], 2, "bleu"),
    ],
)
def test_cli_errors_are_one_line(versions: Path, args: list[str], code: int, text: str) -> None:
    proc = run_cpv("compare", *args, cwd=versions, check=False)
    assert proc.returncode == code
    error = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and text in error[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_html_report_is_self_contained_and_escaped(versions: Path, tmp_path: Path) -> None:
    report, png = tmp_path / "report.html", tmp_path / "charts.png"
    proc = run_cpv("compare", "--html", str(report), "--png", str(png), cwd=versions)
    assert "model/v0.4" in proc.stdout  # the table is printed too
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?:|//[a-z]|<script|<link|<img|<iframe|\bsrc=|@import", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert page.count("<svg") == 2  # accuracy and wer across versions; step is a counter
    assert 'aria-label="step' not in page
    assert '<span class="delta better">-0.06</span>' in page  # wer, v0.2 against v0.1
    assert '<span class="best">0.21</span>' in page  # wer's best, v0.4
    assert "Training curves" not in page  # no run logged steps here
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "chart ids clash"
    width, height = _png_size(png)
    assert width >= 800 and height >= 300  # two charts side by side
    # metrics, their charts, then the details; equal params collapsed into one line
    order = [page.index(m) for m in ('id="compared"', 'id="metrics"', 'id="details"')]
    assert order == sorted(order)
    assert page.index(">wer") < page.index(">created<") and page.index(">author<") > order[1]
    assert re.search(
        r'<tr class="same"><td>the same in all</td><td[^>]*>optimizer\.name=adam<', page
    )
    assert ">optimizer.name</td>" not in page
    assert "<td>ranks</td>" not in page  # no version was saved by many ranks


def test_html_report_shows_the_ranks_of_a_distributed_version(repo: Path, tmp_path: Path) -> None:
    """A save logged with ``distributed=True`` (here a world of one: no process group)
    records its ranks; the report gives them a row, "–" for a version of one process."""
    from cpv.integrations import versioning

    write_checkpoint(repo, b"plain weights")
    ModelCheckpoints(repo).tag()
    shards = tmp_path / "dcp"
    shards.mkdir()
    (shards / ".metadata").write_bytes(b"m" * 10)
    (shards / "__0_0.distcp").write_bytes(b"s" * 2000)
    with versioning(repo=repo) as v:
        v.log_checkpoint(shards, distributed=True)
    report = tmp_path / "report.html"
    run_cpv("compare", "v0.1", "v0.2", "--html", str(report), cwd=repo)
    page = report.read_text(encoding="utf-8")
    row = re.search(r"<tr><td>ranks</td>(.*?)</tr>", page)
    assert row is not None, page
    assert row.group(1) == (
        '<td class="text">–</td><td class="text">1 rank<br>rank 0: 2 file(s), 2.0 KB</td>'
    )


def test_reports_into_a_missing_folder_create_it(versions: Path, tmp_path: Path) -> None:
    report, png = tmp_path / "reports" / "new" / "report.html", tmp_path / "charts" / "c.png"
    run_cpv("compare", "--html", str(report), "--png", str(png), cwd=versions)
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _png_size(png)[0] >= 800
    (tmp_path / "a-file").write_text("x")
    proc = run_cpv(
        "compare", "--html", str(tmp_path / "a-file" / "r.html"), cwd=versions, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: cannot write") and "a file, not a folder" in proc.stderr
    assert "unexpected" not in proc.stderr and "Traceback" not in proc.stderr


def test_report_without_matplotlib_is_one_error_with_the_install_hint(
    versions: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "site"
    (blocker / "matplotlib").mkdir(parents=True)
    (blocker / "matplotlib" / "__init__.py").write_text("raise ImportError('blocked')\n")
    report = tmp_path / "r.html"
    # In front of the code under test (a PYTHONPATH already set names it), not instead of it.
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))
    }
    proc = run_cpv("compare", "--html", str(report), cwd=versions, env=env, check=False)
    assert proc.returncode == 1 and not report.exists()
    assert "Error: charts need matplotlib" in proc.stderr
    assert "pip install 'matplotlib>=3.10,<4'" in proc.stderr
    # The table and --json need no matplotlib.
    assert run_cpv("compare", "--json", cwd=versions, env=env).stdout.startswith("{")


def _log_run(repo: Path, run: str, steps: range, *, version: str, loss0: float) -> None:
    """What the integrations write with a version: its run's steps, then its own line."""
    record = ModelCheckpoints(repo).show(version)
    lines = tuple({"step": s, "metrics": {"loss": loss0 / (s + 1)}} for s in steps)
    append_metrics_log(repo, [record], TagRequest(run=run, steps=lines))


def test_training_curves_follow_each_versions_run(versions: Path, tmp_path: Path) -> None:
    # Versions' lines again, now with a run and its steps (as a training callback writes them).
    log = versions / "metrics.log"
    _log_run(versions, "run-a", range(0, 10), version="v0.2", loss0=2.0)
    _log_run(versions, "run-b", range(0, 5), version="v0.3", loss0=4.0)
    _log_run(versions, "run-a", range(10, 20), version="v0.4", loss0=2.0)
    subprocess.run(["git", "commit", "-qam", "steps"], cwd=versions, check=True)
    assert len([e for e in read_log(log) if e.get("kind") == "step"]) == 25

    res = ModelCheckpoints(versions).compare()
    curves = {(c.tag, c.metric): c for c in res.curves}
    assert set(curves) == {("model/v0.2", "loss"), ("model/v0.3", "loss"), ("model/v0.4", "loss")}
    assert curves[("model/v0.2", "loss")].steps == [float(s) for s in range(10)]
    assert curves[("model/v0.4", "loss")].steps == [float(s) for s in range(20)]  # its run
    assert curves[("model/v0.3", "loss")].values[0] == 4.0

    report = tmp_path / "r.html"
    run_cpv("compare", "--html", str(report), cwd=versions)
    page = report.read_text(encoding="utf-8")
    assert "Training curves" in page and page.count("<svg") == 3  # accuracy, wer; loss curves
    assert 'aria-label="loss during training"' in page


def test_curves_survive_a_renumbering_of_their_version(versions: Path) -> None:
    """push's renumbering rewrites a renamed version's line (keeping its run) and leaves
    the step lines byte for byte."""
    from cpv.core.renumber import Renames, relabel_log

    _log_run(versions, "run-a", range(3), version="v0.4", loss0=1.0)
    record = ModelCheckpoints(versions).show("v0.4")
    before = (versions / "metrics.log").read_text().splitlines()
    key = ("model", "v0.4", record.created_at, record.content_hash)
    renames = Renames(versions={("model", "v0.4"): "v0.5"}, lines={key: "v0.5"})
    relabelled = relabel_log("\n".join(before).encode(), renames)
    assert relabelled is not None
    after = relabelled.decode().split("\n")
    steps = [line for line in before if '"kind": "step"' in line]
    assert len(steps) == 3 and all(line in after for line in steps)
    renamed = [json.loads(line) for line in after if '"v0.5"' in line]
    assert [e.get("run") for e in renamed] == [None, "run-a"]  # the tag's line, then ours
    log = versions / "metrics.log"
    log.write_text("\n".join(after))
    moved = record.model_copy(update={"version": "v0.5", "tag": "model/v0.5"})
    (curve,) = training_curves(log, [moved])
    assert curve.steps == [0.0, 1.0, 2.0]
