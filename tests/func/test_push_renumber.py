"""A version renamed by ``cpv push`` after a collision carries its new number everywhere
(issue 9): its tag, its commit's subject and its ``metrics.log`` line, at the tag and at
HEAD. Real git, two clones, the local default storage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.domain.errors import DirtyWorkspaceError, InjectedFault
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import git, repo_snapshot, write_checkpoint


def log_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def two_writers(repo: Path, tmp_path: Path) -> Path:
    """A publishes v0.2 ("writer A"); B, a clone from before, made its own v0.2 ("writer B")
    and a commit on top of it, both unpublished. Returns B's repository."""
    write_checkpoint(repo, b"base")
    ModelCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    write_checkpoint(repo, b"writer A")
    assert ModelCheckpoints(repo).tag(message="A", metrics={"loss": 0.5}).version == "v0.2"
    write_checkpoint(other, b"writer B")
    assert ModelCheckpoints(other).tag(message="B", metrics={"loss": 0.25}).version == "v0.2"
    (other / "NOTES.md").write_text("after v0.2\n")
    git(other, "add", "NOTES.md")
    git(other, "commit", "-q", "-m", "notes about v0.2")
    push(repo)
    return other


def test_renamed_version_has_its_new_number_in_subject_and_metrics_log(
    repo: Path, tmp_path: Path
) -> None:
    other = two_writers(repo, tmp_path)
    old_commit = git(other, "rev-parse", "model/v0.2^{commit}").strip()
    old_dates = git(other, "log", "-1", "--format=%an <%ae> %ad | %cn <%ce> %cd", old_commit)
    git(other, "tag", "-a", "-m", "x", "mine", old_commit)  # a tag cpv did not make

    res = push(other)

    assert res.renamed == {"model/v0.2": "model/v0.3"}
    bare = git(repo, "remote", "get-url", "origin").strip()
    remote_tags = git(bare, "tag", "--list")
    assert remote_tags.split() == ["model/v0.1", "model/v0.2", "model/v0.3"]
    subjects = git(bare, "log", "--format=%s", "main").splitlines()
    assert "cpv: model v0.3 — B" in subjects and "cpv: model v0.2 — A" in subjects
    assert "cpv: model v0.2 — B" not in subjects
    assert "notes about v0.2" in subjects  # not a cpv subject: left as written
    new_commit = git(bare, "rev-parse", "model/v0.3^{commit}").strip()
    assert git(bare, "log", "-1", "--format=%s", new_commit).strip() == "cpv: model v0.3 — B"
    assert git(bare, "log", "-1", "--format=%an <%ae> %ad | %cn <%ce> %cd", new_commit) == (
        old_dates
    )

    at_tag = log_lines(git(bare, "show", "model/v0.3:metrics.log"))
    assert [(e["version"], e["message"]) for e in at_tag] == [("v0.1", ""), ("v0.3", "B")]
    a_line = git(repo, "show", "model/v0.2:metrics.log").splitlines()[-1]
    assert json.loads(a_line)["message"] == "A"
    for text in (git(bare, "show", "main:metrics.log"), (other / "metrics.log").read_text()):
        assert a_line in text.splitlines()  # the first writer's line, byte for byte
        ours = [e for e in log_lines(text) if e["message"] == "B"]
        assert [e["version"] for e in ours] == ["v0.3"]
        assert ours[0]["metrics"] == {"loss": 0.25}
    assert git(other, "status", "--porcelain") == ""

    record = {r.version: r for r in ModelCheckpoints(other).list()}["v0.3"]
    assert record.message == "B" and record.commit == new_commit
    # The tag cpv did not make stays on the commit it named, which keeps its old subject.
    assert git(other, "rev-parse", "mine^{commit}").strip() == old_commit
    assert git(other, "log", "-1", "--format=%s", "mine").strip() == "cpv: model v0.2 — B"

    third, _ = clone(bare, tmp_path / "third")
    pull(third, version="v0.3")
    assert (third / "checkpoints/model.bin").read_bytes() == b"writer B"
    pull(third, version="v0.2")
    assert (third / "checkpoints/model.bin").read_bytes() == b"writer A"


def test_later_unpublished_versions_move_with_their_rewritten_commits(
    repo: Path, tmp_path: Path
) -> None:
    other = two_writers(repo, tmp_path)
    write_checkpoint(other, b"writer B again")
    assert ModelCheckpoints(other).tag(message="B2").version == "v0.3"
    before = git(other, "rev-parse", "model/v0.3^{commit}").strip()

    res = push(other)

    assert res.renamed == {"model/v0.2": "model/v0.4"}
    bare = git(repo, "remote", "get-url", "origin").strip()
    subjects = git(bare, "log", "--format=%s", "main").splitlines()
    assert "cpv: model v0.4 — B" in subjects and "cpv: model v0.3 — B2" in subjects
    v03 = git(bare, "rev-parse", "model/v0.3^{commit}").strip()
    assert v03 != before  # rewritten: its parent changed
    assert git(bare, "merge-base", "--is-ancestor", "model/v0.4", "model/v0.3") == ""
    at_v03 = log_lines(git(bare, "show", "model/v0.3:metrics.log"))
    assert [(e["version"], e["message"]) for e in at_v03] == [
        ("v0.1", ""),
        ("v0.4", "B"),
        ("v0.3", "B2"),
    ]
    third, _ = clone(bare, tmp_path / "third")
    for version, content in {
        "v0.2": b"writer A",
        "v0.3": b"writer B again",
        "v0.4": b"writer B",
    }.items():
        pull(third, version=version)
        assert (third / "checkpoints/model.bin").read_bytes() == content


def test_local_metrics_log_edits_refuse_the_renumbering_and_change_nothing(
    repo: Path, tmp_path: Path
) -> None:
    other = two_writers(repo, tmp_path)
    with open(other / "metrics.log", "a", encoding="utf-8") as fh:
        fh.write("my own note\n")
    before = repo_snapshot(other)

    with pytest.raises(DirtyWorkspaceError) as caught:
        push(other)

    assert "metrics.log" in str(caught.value) and "\n" not in str(caught.value)
    assert "model/v0.2 -> model/v0.3" in str(caught.value)
    assert repo_snapshot(other) == before


def test_a_failure_midway_puts_refs_and_files_back(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = two_writers(repo, tmp_path)
    git(other, "fetch", "-q", "--no-tags", "origin")  # the push fetches the branch first
    before = repo_snapshot(other)
    monkeypatch.setenv("CPV_FAULT", "after_renumber_checkout")

    with pytest.raises(InjectedFault):
        push(other)

    assert repo_snapshot(other) == before
    monkeypatch.delenv("CPV_FAULT")
    assert push(other).renamed == {"model/v0.2": "model/v0.3"}


def test_only_cpv_formats_of_the_renamed_numbers_change() -> None:
    from cpv.core.renumber import Renames, relabel_log, relabel_message

    renames = Renames(
        versions={("model", "v0.2"): "v0.3", ("data", "v0.2"): "v0.3"},
        commits={"c"},
        lines={("model", "v0.2", "t", "h.dir"): "v0.3"},
    )

    def subject(text: str, *, own: bool = True) -> str:
        return relabel_message(text.encode() + b"\n\nbody v0.2\n", renames, own=own).decode()

    assert subject("cpv: model v0.2 — B") == "cpv: model v0.3 — B\n\nbody v0.2\n"
    assert subject("cpv: model + data v0.2").startswith("cpv: model + data v0.3\n")
    assert subject("cpv: revert model to v0.2", own=False).startswith("cpv: revert model to v0.3")
    for unchanged in (
        "cpv: model v0.20 — x",
        "cpv: model v0.2x",
        "fix model v0.2",
        "cpv: model v0.1",
    ):
        assert subject(unchanged).startswith(unchanged + "\n")
    assert subject("cpv: model v0.2", own=False).startswith("cpv: model v0.2\n")

    ours = {"content_hash": "h.dir", "created_at": "t", "kind": "model", "version": "v0.2"}
    theirs = {**ours, "created_at": "other"}
    lines = [json.dumps(theirs, sort_keys=True), json.dumps(ours, sort_keys=True)]
    unsorted = json.dumps(dict(reversed(ours.items())))  # not a line as cpv writes it
    text = "\n".join([*lines, unsorted, "v0.2", ""])
    relabelled = relabel_log(text.encode(), renames)
    assert relabelled is not None
    out = relabelled.decode().split("\n")
    assert out[0] == lines[0] and json.loads(out[1])["version"] == "v0.3"
    assert out[2:] == text.split("\n")[2:]
    assert relabel_log(lines[0].encode() + b"\n", renames) is None


def test_a_model_and_data_version_is_renumbered_as_a_pair(repo: Path, tmp_path: Path) -> None:
    from cpv import CombinedCheckpoints

    write_checkpoint(repo, b"base")
    (repo / "data/train").mkdir(parents=True, exist_ok=True)
    (repo / "data/train/rows.txt").write_text("a\n")
    CombinedCheckpoints(repo).tag()
    push(repo)
    other, _ = clone("acme/whisper-small", tmp_path / "other")
    for where, text in ((repo, "A"), (other, "B")):
        write_checkpoint(where, f"writer {text}".encode())
        (where / "data/train/rows.txt").write_text(f"{text}\n")
        CombinedCheckpoints(where).tag(message=text)
    push(repo)

    res = push(other)

    assert res.renamed == {"model/v0.2": "model/v0.3", "data/v0.2": "data/v0.3"}
    bare = git(repo, "remote", "get-url", "origin").strip()
    subjects = git(bare, "log", "--format=%s", "main").splitlines()
    assert "cpv: model + data v0.3 — B" in subjects
    assert "cpv: model + data v0.2 — B" not in subjects
    at_tag = log_lines(git(bare, "show", "data/v0.3:metrics.log"))
    assert [(e["kind"], e["version"]) for e in at_tag if e["message"] == "B"] == [
        ("model", "v0.3"),
        ("data", "v0.3"),
    ]
    model = {r.version: r for r in ModelCheckpoints(other).list()}["v0.3"]
    assert model.data_version == "data/v0.3"
