from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpv import CombinedCheckpoints, DataCheckpoints, ModelCheckpoints
from cpv.domain.errors import NothingToTagError, UsageError, VersionExistsError
from tests.conftest import git, write_checkpoint


def test_init_layout(repo: Path) -> None:
    for p in (
        "cpv.yaml",
        ".dvc/config",
        "README.md",
        ".gitignore",
        "checkpoints",
        "data/train",
        "data/validation",
        "data/test",
    ):
        assert (repo / p).exists(), p
    assert "cpv init acme/whisper-small" in git(repo, "log", "--format=%s")
    assert Path(git(repo, "remote", "get-url", "origin").strip()).is_dir()  # bare repo created
    assert "storage/acme/whisper-small" in (repo / ".dvc/config").read_text()


def test_tag_sequence_and_numeric_order(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    for i in range(1, 12):
        write_checkpoint(repo, f"weights {i}".encode())
        res = m.tag(metrics={"loss": 1 / i}, message=f"run {i}")
        assert res.created and res.version == f"v0.{i}"
    assert [r.version for r in m.list()][-3:] == ["v0.9", "v0.10", "v0.11"]
    assert m.latest().version == "v0.11"  # type: ignore[union-attr]
    rec = m.show("v0.10")
    assert rec.metrics == {"loss": 0.1} and rec.message == "run 10" and rec.tag == "model/v0.10"
    assert (
        rec.size_bytes == len(b"weights 10")
        and rec.file_count == 1
        and rec.content_hash.endswith(".dir")
    )
    assert git(repo, "cat-file", "-t", "model/v0.10").strip() == "tag"  # annotated
    assert git(repo, "rev-parse", "model/v0.10^{commit}").strip() == rec.commit
    res = m.tag(bump="major")
    assert not res.created  # unchanged content is never a new version
    write_checkpoint(repo, b"major")
    assert m.tag(bump="major").version == "v1.0"
    log = [json.loads(line) for line in (repo / "metrics.log").read_text().splitlines()]
    assert [entry["version"] for entry in log][-2:] == ["v0.11", "v1.0"]


def test_unchanged_content_is_not_a_new_version(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    write_checkpoint(repo, b"same")
    first = m.tag()
    head = git(repo, "rev-parse", "HEAD")
    again = m.tag(metrics={"x": 1})
    assert not again.created and again.version == first.version
    assert git(repo, "rev-parse", "HEAD") == head
    forced = m.tag(force=True)
    assert forced.created and forced.version == "v0.2"


def test_explicit_versions(repo: Path) -> None:
    m = ModelCheckpoints(repo)
    write_checkpoint(repo, b"a")
    assert m.tag(version="v0.5").version == "v0.5"
    write_checkpoint(repo, b"b")
    with pytest.raises(VersionExistsError):
        m.tag(version="v0.5")
    with pytest.raises(UsageError):
        m.tag(version="v0.3")
    assert m.tag(version="v0.3", force=True).version == "v0.3"
    write_checkpoint(repo, b"c")
    assert m.tag().version == "v0.6"


def test_empty_checkpoints_rejected(repo: Path) -> None:
    with pytest.raises(NothingToTagError):
        ModelCheckpoints(repo).tag()


def test_combined_tags_share_a_number(repo: Path) -> None:
    write_checkpoint(repo, b"w1")
    ModelCheckpoints(repo).tag()
    ModelCheckpoints(repo).tag  # noqa: B018
    write_checkpoint(repo, b"w2")
    ModelCheckpoints(repo).tag()
    (repo / "data/train/rows.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n')
    (repo / "data/validation/rows.csv").write_text("x,y\n1,2\n")
    res = CombinedCheckpoints(repo).tag(message="new data + retrain")
    assert [r.tag for r in res.records] == ["model/v0.3", "data/v0.3"]
    model, data = res.records
    assert model.data_version == "data/v0.3"
    assert data.sample_count == 4 and data.samples == {"train": 3, "validation": 1, "test": 0}
    # Only the weights change: the data half still gets its tag at the same number.
    write_checkpoint(repo, b"w3")
    res = CombinedCheckpoints(repo).tag()
    assert [r.tag for r in res.records] == ["model/v0.4", "data/v0.4"]
    assert res.records[1].content_hash == data.content_hash
    # A model-only tag records the data version the workspace data matches.
    write_checkpoint(repo, b"w4")
    assert ModelCheckpoints(repo).tag().record.data_version == "data/v0.4"
    assert DataCheckpoints(repo).tag().created is False
