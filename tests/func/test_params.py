"""Hyperparameters recorded in the version: `cpv tag --param KEY=VALUE`, `tag(params=...)` and
the values of the params files, bounded on the way in and on the way back."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import UsageError
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint

PARAMS_YAML = """\
# hyperparameters
lr: 0.1
seed: 0
data:
  seed: 5
  splits: [train, test]
"""


def test_cli_params_and_the_params_file_are_recorded_and_shown(repo: Path) -> None:
    (repo / "params.yaml").write_text(PARAMS_YAML)
    write_checkpoint(repo, b"one")
    out = run_cpv(
        "tag", "--param", "lr=3e-4", "--param", "optimizer=adam", "--param", "resume=true",
        "--json", cwd=repo,
    )  # fmt: skip
    recorded = json.loads(out.stdout)["versions"][0]["params"]
    assert recorded == {
        "lr": 0.0003,  # --param wins over the file
        "seed": 0,
        "data.seed": 5,
        "data.splits": ["train", "test"],
        "optimizer": "adam",
        "resume": True,
    }
    shown = run_cpv("show", "v0.1", cwd=repo).stdout
    assert "param optimizer" in shown and "adam" in shown and "param data.seed" in shown
    assert json.loads(run_cpv("show", "v0.1", "--json", cwd=repo).stdout)["params"] == recorded

    (repo / "params.yaml").write_text(PARAMS_YAML.replace("lr: 0.1", "lr: 0.2"))
    write_checkpoint(repo, b"two")
    run_cpv("tag", cwd=repo)
    diff = run_cpv("diff", "v0.1", "v0.2", cwd=repo).stdout
    lr_row = next(line for line in diff.splitlines() if line.startswith("param lr"))
    assert "0.0003" in lr_row and "0.2" in lr_row and "changed" in lr_row
    compared = json.loads(run_cpv("compare", "v0.1", "v0.2", "--json", cwd=repo).stdout)
    rows = {p["name"]: p for p in compared["params"]}
    assert rows["lr"]["values"] == [0.0003, 0.2] and rows["lr"]["differs"]
    assert rows["seed"]["differs"] is False


def test_the_api_records_params_flattened_over_the_files(repo: Path) -> None:
    (repo / "params.yaml").write_text("seed: 1\noptimizer: {name: sgd}\n")
    write_checkpoint(repo, b"one")
    result = ModelCheckpoints(repo).tag(params={"optimizer": {"lr": 0.1}, "seed": 7})
    assert result.records[0].params == {"seed": 7, "optimizer.name": "sgd", "optimizer.lr": 0.1}
    assert ModelCheckpoints(repo).show("v0.1").params == result.records[0].params


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--param", "lr"], "invalid --param 'lr'"),
        (["--param", "a b=1"], "is not a param name"),
        (["--param", f"note={'x' * 201}"], "longer than 200"),
        (["--param", "lr=nan"], "not a finite number"),
        ([f"--param=k{i}={i}" for i in range(201)], "more than the 200"),
    ],
)
def test_params_out_of_bounds_are_refused_and_change_nothing(
    repo: Path, args: list[str], says: str
) -> None:
    write_checkpoint(repo, b"one")
    before = repo_snapshot(repo)
    proc = run_cpv("tag", *args, cwd=repo, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("Error: ") and says in proc.stderr
    assert "Hint: " in proc.stderr and "Traceback" not in proc.stderr
    assert repo_snapshot(repo) == before


def test_a_params_file_that_does_not_parse_is_named(repo: Path) -> None:
    (repo / "params.yaml").write_text("lr: [0.1\n")
    write_checkpoint(repo, b"one")
    with pytest.raises(UsageError) as info:
        ModelCheckpoints(repo).tag()
    assert "params file params.yaml cannot be read" in info.value.message
    assert "params_files" in (info.value.hint or "")
    assert ModelCheckpoints(repo).list() == []


def test_params_read_back_from_a_forged_tag_are_bounded(repo: Path) -> None:
    write_checkpoint(repo, b"one")
    ModelCheckpoints(repo).tag()
    message = subprocess.run(
        ["git", "tag", "-l", "--format=%(contents)", "model/v0.1"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    head, _, body = message.partition("cpv-metadata: ")
    record = json.loads(body)
    record["params"] = {
        "ok": 1,
        "\x1b[31mred": 2,
        "long": "y" * 5000,
        **{f"k{i}": i for i in range(500)},
    }
    forged = f"{head}cpv-metadata: {json.dumps(record)}\n"
    subprocess.run(
        ["git", "tag", "-f", "-a", "model/v0.1", "-m", forged], cwd=repo, check=True,
        capture_output=True,
    )  # fmt: skip
    params = json.loads(run_cpv("show", "v0.1", "--json", cwd=repo).stdout)["params"]
    assert params["ok"] == 1 and "long" not in params
    assert not any("\x1b" in key for key in params)
    assert len(params) == 200
