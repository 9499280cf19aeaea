"""The CLI contract: JSON output, one-line errors with hints, exit codes, untouched repos."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from cpv.cli.main import cli
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint


def test_every_command_and_option_has_help() -> None:
    def walk(cmd: click.Command, name: str) -> None:
        assert cmd.help or cmd.short_help, f"{name} has no help"
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts} has no help"
        if isinstance(cmd, click.Group):
            for sub_name, sub in cmd.commands.items():
                walk(sub, f"{name} {sub_name}")

    walk(cli, "cpv")


def test_end_to_end_cli_with_json(tmp_path: Path) -> None:
    run_cpv("init", "acme/whisper-small", cwd=tmp_path)
    repo = tmp_path / "whisper-small"
    write_checkpoint(repo, b"a" * 1000)
    out = json.loads(
        run_cpv(
            "-C",
            str(repo),
            "tag",
            "--kind",
            "model",
            "-m",
            "lr 3e-4",
            "--metric",
            "wer=0.21",
            "--json",
        ).stdout
    )
    assert out["created"] and out["versions"][0]["tag"] == "model/v0.1"
    again = run_cpv("-C", str(repo), "tag")
    assert "unchanged, still v0.1" in again.stdout
    (repo / "data/train/t.jsonl").write_text("{}\n{}\n")
    write_checkpoint(repo, b"b" * 2000)
    (repo / "m.json").write_text('{"wer": 0.18, "bleu": 30}')
    run_cpv(
        "tag", "--kind", "all", "-m", "new data + retrain", "--metrics-file", "m.json", cwd=repo
    )
    listing = json.loads(run_cpv("list", "--json", cwd=repo).stdout)
    assert [r["tag"] for r in listing] == ["model/v0.1", "model/v0.2", "data/v0.2"]
    for r in listing:
        for key in (
            "kind",
            "version",
            "tag",
            "created_at",
            "size_bytes",
            "metrics",
            "message",
            "commit",
        ):
            assert key in r
    shown = json.loads(run_cpv("show", "v0.2", "--json", cwd=repo).stdout)
    assert shown["metrics"] == {"wer": 0.18, "bleu": 30} and shown["data_version"] == "data/v0.2"
    diff = json.loads(run_cpv("diff", "v0.1", "v0.2", "--json", cwd=repo).stdout)
    wer = next(m for m in diff["metrics"] if m["key"] == "wer")
    assert wer["a"] == 0.21 and wer["b"] == 0.18 and abs(wer["delta"] + 0.03) < 1e-9
    status = json.loads(run_cpv("status", "--json", cwd=repo).stdout)
    assert status["unpushed_tags"] == ["data/v0.2", "model/v0.1", "model/v0.2"]
    run_cpv("revert", "v0.1", "--kind", "model", cwd=repo)
    assert (repo / "checkpoints/model.bin").read_bytes() == b"a" * 1000
    assert "model/v0.1" in run_cpv("list", "--kind", "model", cwd=repo).stdout


BAD_TAG_ARGS = [
    ["tag", "--as", "v1..2"],
    ["tag", "--as", "banana"],
    ["tag", "--as", "-rf"],
    ["tag", "--as", "x.lock"],
    ["tag", "--as", "a/b"],
    ["tag", "--as", "../v9"],
    ["tag", "--as", "v0.0"],
    ["tag", "--as", "v0.1"],  # exists
    ["tag", "--metric", "novalue"],
    ["tag", "--metrics-file", "missing.json"],
    ["tag", "weights"],
    ["tag", "--bump", "patch"],
    ["show", "v9.9"],
    ["show", "banana"],
    ["revert", "v0.7"],
    ["revert", "v1..2"],
    ["diff", "v0.1", "v0.9"],
    ["init", "Acme/Bad Name"],
    ["init", "acme/whisper-small", "."],
]


@pytest.mark.parametrize("args", BAD_TAG_ARGS, ids=[" ".join(a) for a in BAD_TAG_ARGS])
def test_rejected_input_is_one_line_error_and_changes_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    run_cpv("init", "acme/whisper-small", cwd=tmp_path)
    repo = tmp_path / "whisper-small"
    write_checkpoint(repo, b"x")
    run_cpv("tag", cwd=repo)
    write_checkpoint(repo, b"y")
    before = repo_snapshot(repo)
    proc = run_cpv(*args, cwd=repo, check=False)
    assert proc.returncode in (1, 2), proc
    assert proc.stderr.startswith("Error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Hint:" in proc.stderr
    assert repo_snapshot(repo) == before


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = run_cpv("list", cwd=tmp_path, env={"CPV_DEBUG": "1"}, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_not_a_repository_and_bad_config(tmp_path: Path) -> None:
    proc = run_cpv("list", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "not a cpv model repository" in proc.stderr
    run_cpv("init", "acme/m", cwd=tmp_path)
    (tmp_path / "m" / "cpv.yaml").write_text("team: [oops\n")
    proc = run_cpv("list", cwd=tmp_path / "m", check=False)
    assert proc.returncode == 1 and "cpv.yaml" in proc.stderr and "YAML" in proc.stderr
    assert proc.stderr.count("\n") <= 2


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    proc = run_cpv("tag", "--no-such-flag", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("Error: ")


def test_init_with_unreachable_hosted_remote_creates_nothing(tmp_path: Path) -> None:
    url = "ssh://git@127.0.0.1:1/acme/nope.git"  # port 1: nothing listens
    proc = run_cpv("init", "acme/nope", "--git-remote", url, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith(f"Error: cannot reach git remote {url}") and "Hint:" in proc.stderr
    )
    assert not (tmp_path / "nope").exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("home")] == []


def test_tag_on_a_detached_head_is_refused(tmp_path: Path) -> None:
    run_cpv("init", "acme/m", cwd=tmp_path)
    repo = tmp_path / "m"
    write_checkpoint(repo, b"one")
    run_cpv("tag", cwd=repo)
    import subprocess

    subprocess.run(["git", "checkout", "-q", "model/v0.1"], cwd=repo, check=True)
    write_checkpoint(repo, b"two")
    before = repo_snapshot(repo)
    proc = run_cpv("tag", cwd=repo, check=False)
    assert proc.returncode == 1 and "HEAD is detached" in proc.stderr and "Hint:" in proc.stderr
    assert repo_snapshot(repo) == before
