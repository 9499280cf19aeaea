"""Aliases (promote / demote / aliases) and references (latest, best, an alias) against real
git and the local default storage: two clones, pushes and pulls, concurrent moves."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cpv import CombinedCheckpoints, DataCheckpoints, ModelCheckpoints
from cpv.cli.main import main
from cpv.domain.errors import UsageError, VersionNotFoundError
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import git, repo_snapshot, write_checkpoint


def cpv(repo: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """``cpv -C repo ARGS`` through the console entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    got = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(["-C", str(repo), *args])
    except SystemExit as exc:
        got = int(exc.code or 0)
    assert got == code, f"cpv {' '.join(args)}: exit {got}\n{out.getvalue()}\n{err.getvalue()}"
    return subprocess.CompletedProcess(args, got, out.getvalue(), err.getvalue())


def cpv_json(repo: Path, *args: str) -> Any:
    return json.loads(cpv(repo, *args, "--json").stdout)


def remote_tags(repo: Path) -> list[str]:
    out = git(repo, "ls-remote", "--tags", "origin")
    return sorted(
        line.split("refs/tags/")[1] for line in out.splitlines() if not line.endswith("^{}")
    )


def versions(repo: Path, *metrics: dict[str, float]) -> None:
    """One model version per ``metrics`` (v0.1, v0.2, …), each with other bytes."""
    for i, values in enumerate(metrics, 1):
        write_checkpoint(repo, f"weights {i} {values}".encode() * 100)
        ModelCheckpoints(repo).tag(metrics=values, message=f"version {i}")


def current(repo: Path) -> dict[str, str | None]:
    return {m["alias"]: m["tag"] for m in cpv_json(repo, "aliases")}


def test_promote_and_demote_travel_between_two_clones(repo: Path, tmp_path: Path) -> None:
    versions(repo, {"loss": 0.5}, {"loss": 0.3})
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    move = cpv_json(repo, "promote", "v0.1", "prod", "-m", "passes eval")
    assert move["ref"] == "alias/prod/1" and move["tag"] == "model/v0.1" and move["changed"]
    assert move["by"] == "Test User <test@example.com>" and move["why"] == "passes eval"
    assert push(repo).records_pushed == ["alias/prod/1"]
    pull(other)
    shown = cpv(other, "aliases").stdout
    assert "prod" in shown and "model/v0.1" in shown and "passes eval" in shown
    demoted = cpv_json(other, "demote", "prod", "-m", "regression")
    assert demoted["tag"] is None and demoted["previous"] == "model/v0.1"
    assert demoted["ref"] == "alias/prod/2"
    push(other)
    pull(repo)
    assert current(repo) == {"prod": None}
    assert "(demoted)" in cpv(repo, "aliases").stdout
    history = cpv_json(repo, "aliases", "--history")
    assert [(m["ref"], m["action"], m["tag"]) for m in history] == [
        ("alias/prod/1", "promote", "model/v0.1"),
        ("alias/prod/2", "demote", None),
    ]
    assert "regression" in cpv(repo, "aliases", "--history").stdout
    with pytest.raises(VersionNotFoundError, match="points at nothing"):
        ModelCheckpoints(repo).resolve("prod")


def test_concurrent_moves_the_later_publication_wins(repo: Path, tmp_path: Path) -> None:
    versions(repo, {"loss": 0.5}, {"loss": 0.3})
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    # Neither pulls: both make alias/prod/1, to different versions.
    assert ModelCheckpoints(repo).promote("v0.1", "prod").ref == "alias/prod/1"
    assert ModelCheckpoints(other).promote("v0.2", "prod").ref == "alias/prod/1"
    push(repo)
    assert push(other).records_pushed == ["alias/prod/2"]  # renumbered, never forced
    assert [t for t in remote_tags(repo) if t.startswith("alias/")] == [
        "alias/prod/1",
        "alias/prod/2",
    ]
    assert current(other) == {"prod": "model/v0.2"}
    pull(repo)
    assert current(repo) == {"prod": "model/v0.2"}
    history = ModelCheckpoints(repo).aliases(history=True)
    assert [(m.number, m.tag) for m in history] == [(1, "model/v0.1"), (2, "model/v0.2")]
    # The renumbered tag's own record says 2 as well (plain git readers agree).
    assert '"number": 2' in git(repo, "cat-file", "tag", "alias/prod/2")


def test_unpublished_moves_keep_their_order_when_renumbered(repo: Path, tmp_path: Path) -> None:
    versions(repo, {"loss": 0.5}, {"loss": 0.3}, {"loss": 0.2})
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    ModelCheckpoints(repo).promote("v0.1", "prod")
    push(repo)
    ModelCheckpoints(other).promote("v0.2", "prod")  # alias/prod/1 here too
    ModelCheckpoints(other).promote("v0.3", "prod")  # alias/prod/2
    push(other)
    assert current(other) == {"prod": "model/v0.3"}  # the last move made stays the last
    pull(other)  # push publishes; pull brings the other clone's moves
    moves = ModelCheckpoints(other).aliases(history=True)
    assert [(m.number, m.tag, m.previous) for m in moves] == [
        (1, "model/v0.1", None),
        (2, "model/v0.2", None),
        (3, "model/v0.3", "model/v0.2"),
    ]


def test_an_alias_names_a_version_everywhere(repo: Path) -> None:
    versions(repo, {"loss": 0.5}, {"loss": 0.3})
    ModelCheckpoints(repo).promote("v0.1", "prod")
    assert ModelCheckpoints(repo).resolve("prod").tag == "model/v0.1"
    assert CombinedCheckpoints(repo).resolve("prod").tag == "model/v0.1"
    assert CombinedCheckpoints(repo).resolve("v0.2").tag == "model/v0.2"
    assert "model/v0.1" in cpv(repo, "show", "prod").stdout
    diff = cpv_json(repo, "diff", "prod", "latest")
    assert (diff["a"]["tag"], diff["b"]["tag"]) == ("model/v0.1", "model/v0.2")
    assert [r["tag"] for r in cpv_json(repo, "pull", "prod")["records"]] == ["model/v0.1"]
    assert (repo / "checkpoints/model.bin").read_bytes().startswith(b"weights 1 ")
    assert ModelCheckpoints(repo).pull("latest").records[0].tag == "model/v0.2"
    # promote takes any reference: latest, another alias
    assert cpv_json(repo, "promote", "latest", "staging")["tag"] == "model/v0.2"
    assert cpv_json(repo, "promote", "staging", "champion")["tag"] == "model/v0.2"


def test_best_by_the_metric_cpv_yaml_declares(repo: Path) -> None:
    versions(repo, {"loss": 0.5, "acc": 0.9}, {"loss": 0.2, "acc": 0.7}, {"loss": 0.4})
    with pytest.raises(UsageError, match="needs a metric"):
        ModelCheckpoints(repo).resolve("best")
    assert ModelCheckpoints(repo).resolve("best:acc:max").tag == "model/v0.1"
    assert ModelCheckpoints(repo).resolve("best:acc:min").tag == "model/v0.2"
    config = (repo / "cpv.yaml").read_text()
    (repo / "cpv.yaml").write_text(config + "best:\n  metric: loss\n  mode: min\n")
    assert ModelCheckpoints(repo).resolve("best").tag == "model/v0.2"
    assert cpv_json(repo, "promote", "best", "prod")["tag"] == "model/v0.2"
    (repo / "cpv.yaml").write_text(config + "best:\n  metric: loss\n  mode: max\n")
    assert ModelCheckpoints(repo).resolve("best").tag == "model/v0.1"
    assert cpv_json(repo, "show", "best")["tag"] == "model/v0.1"
    with pytest.raises(VersionNotFoundError, match="no version has the metric"):
        ModelCheckpoints(repo).resolve("best:wer:min")


def test_best_of_a_model_and_data_version_is_the_model_s(repo: Path) -> None:
    """`tag all --metric` records the metric on both kinds: `best` (promote's default kinds
    are both) names the model's version, as a bare version does, not the data's."""
    write_checkpoint(repo, b"weights" * 100)
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n")
    CombinedCheckpoints(repo).tag(metrics={"wer": 0.2}, message="both")
    assert CombinedCheckpoints(repo).resolve("best:wer:min").tag == "model/v0.1"
    assert cpv_json(repo, "promote", "best:wer:min", "prod")["tag"] == "model/v0.1"
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n{}\n")
    DataCheckpoints(repo).tag(metrics={"rows": 2.0}, message="data")  # a metric only data has
    assert CombinedCheckpoints(repo).resolve("best:rows:max").tag == "data/v0.2"


@pytest.mark.parametrize("name", ["Prod", "latest", "v1", "best", "model", "1st", "a/b"])
def test_invalid_alias_names_are_refused_and_change_nothing(repo: Path, name: str) -> None:
    versions(repo, {"loss": 0.5})
    before = repo_snapshot(repo)
    result = cpv(repo, "promote", "v0.1", name, code=2)
    assert (
        result.stderr.startswith("Error: invalid alias name") and "Traceback" not in result.stderr
    )
    cpv(repo, "demote", name, code=2)
    assert repo_snapshot(repo) == before


def test_refusals_change_nothing(repo: Path) -> None:
    versions(repo, {"loss": 0.5}, {"loss": 0.3})
    before = repo_snapshot(repo)
    assert "model/v0.9 does not exist" in cpv(repo, "promote", "v0.9", "prod", code=1).stderr
    assert "no alias named 'prod'" in cpv(repo, "demote", "prod", code=1).stderr
    assert "data" in cpv(repo, "promote", "v0.1", "prod", "--kind", "data", code=1).stderr
    assert repo_snapshot(repo) == before
    ModelCheckpoints(repo).promote("v0.1", "prod")
    after_promote = repo_snapshot(repo)
    noop = cpv(repo, "promote", "model/v0.1", "prod")
    assert "already points at model/v0.1; nothing to do" in noop.stdout
    assert cpv_json(repo, "promote", "v0.1", "prod")["changed"] is False
    assert repo_snapshot(repo) == after_promote  # no record for a no-op
    ModelCheckpoints(repo).demote("prod")
    demoted = repo_snapshot(repo)
    assert "points at nothing already" in cpv(repo, "demote", "prod", code=1).stderr
    assert repo_snapshot(repo) == demoted


def test_plain_git_shows_the_moves(repo: Path) -> None:
    versions(repo, {"loss": 0.5})
    cpv(repo, "promote", "v0.1", "prod", "-m", "first release")
    assert git(repo, "tag", "-l", "alias/*").split() == ["alias/prod/1"]
    shown = git(repo, "show", "--no-patch", "alias/prod/1")
    assert "alias prod -> model/v0.1" in shown and "first release" in shown
    assert git(repo, "rev-parse", "alias/prod/1^{commit}") == git(
        repo, "rev-parse", "model/v0.1^{commit}"
    )


def test_a_move_follows_the_version_push_renames(repo: Path, tmp_path: Path) -> None:
    write_checkpoint(repo, b"base")
    ModelCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    write_checkpoint(repo, b"writer A")
    ModelCheckpoints(repo).tag(message="A")
    write_checkpoint(other, b"writer B")
    ModelCheckpoints(other).tag(message="B")  # v0.2 on both sides
    assert ModelCheckpoints(other).promote("v0.2", "prod").tag == "model/v0.2"
    push(repo)
    res = push(other)
    assert res.renamed == {"model/v0.2": "model/v0.3"}
    assert res.records_pushed == ["alias/prod/1"]
    record = ModelCheckpoints(other).resolve("prod")
    assert (record.tag, record.message) == ("model/v0.3", "B")
    assert git(other, "rev-parse", "alias/prod/1^{commit}") == git(
        other, "rev-parse", "model/v0.3^{commit}"
    )
    third, _ = clone("acme/whisper-small", tmp_path / "third")
    assert ModelCheckpoints(third).resolve("prod").message == "B"
    pull(third, version="prod")
    assert (third / "checkpoints/model.bin").read_bytes() == b"writer B"
