"""A version's commit holds what produced it: the params files go into the version's commit
(whole or not at all, with the pointers), and other modified tracked files are recorded as
``dirty`` in its metadata, never committed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cpv import CombinedCheckpoints, ModelCheckpoints
from cpv.domain.errors import ConfigError, InjectedFault, NothingToTagError
from cpv.domain.metadata import decode_tag_message
from cpv.settings.config import load_repo_config
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint


def commit_files(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", "project files", "--", *files)


def status_of(repo: Path, path: str) -> str:
    return git(repo, "status", "--porcelain", "--", path)


def test_modified_params_file_is_committed_with_the_version(repo: Path) -> None:
    commit_files(repo, {"params.yaml": "learning_rate: 0.01\n"})
    write_checkpoint(repo, b"w1")
    (repo / "params.yaml").write_text("learning_rate: 0.02\n")

    run_cpv("tag", "--kind", "model", "-m", "lr 0.02", cwd=repo)

    assert git(repo, "show", "model/v0.1:params.yaml") == "learning_rate: 0.02\n"
    assert status_of(repo, "params.yaml") == ""
    # one commit: the pointer and the params file together
    changed = set(
        git(repo, "diff-tree", "--no-commit-id", "-r", "--name-only", "model/v0.1^{commit}").split()
    )
    assert {"checkpoints.dvc", "metrics.log", "params.yaml"} <= changed
    assert changed <= {".gitignore", "checkpoints.dvc", "metrics.log", "params.yaml"}


def test_untracked_params_file_is_committed_and_nothing_else(repo: Path) -> None:
    cfg = yaml.safe_load((repo / "cpv.yaml").read_text())
    cfg["params_files"] = ["./params.yaml", "conf/train.yaml", "missing.yaml", "secret.yaml"]
    ignore = (repo / ".gitignore").read_text() + "secret.yaml\n"
    commit_files(repo, {"cpv.yaml": yaml.safe_dump(cfg), ".gitignore": ignore})
    (repo / "params.yaml").write_text("seed: 1\n")  # untracked
    (repo / "conf").mkdir()
    (repo / "conf/train.yaml").write_text("epochs: 3\n")  # untracked, in a folder
    (repo / "secret.yaml").write_text("token: x\n")  # listed, but ignored: never committed
    (repo / "notes.txt").write_text("not listed\n")  # untracked, not listed
    write_checkpoint(repo, b"w1")

    record = ModelCheckpoints(repo).tag().record

    files = git(repo, "ls-tree", "-r", "--name-only", "model/v0.1").split()
    assert {"params.yaml", "conf/train.yaml"} <= set(files)
    assert not {"secret.yaml", "notes.txt", "missing.yaml"} & set(files)
    assert git(repo, "status", "--porcelain") == "?? notes.txt\n"
    assert record.dirty is False


def _modified_params(repo: Path) -> None:
    """A first version, then params.yaml with a staged change and an unstaged one on top."""
    commit_files(repo, {"params.yaml": "lr: 0.01\n"})
    write_checkpoint(repo, b"w0")
    ModelCheckpoints(repo).tag()
    (repo / "params.yaml").write_text("lr: 0.015\n")
    git(repo, "add", "params.yaml")
    (repo / "params.yaml").write_text("lr: 0.02\n")


@pytest.mark.parametrize("point", ["after_add", "after_commit", "after_first_tag"])
def test_failed_tag_leaves_params_file_and_index_as_before(
    repo: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    _modified_params(repo)
    write_checkpoint(repo, b"w1")
    (repo / "data/train/a.txt").write_text("one\n")
    before = repo_snapshot(repo)

    monkeypatch.setenv("CPV_FAULT", point)
    with pytest.raises(InjectedFault):
        CombinedCheckpoints(repo).tag(message="boom")
    assert repo_snapshot(repo) == before
    assert status_of(repo, "params.yaml") == "MM params.yaml\n"

    monkeypatch.delenv("CPV_FAULT")
    res = CombinedCheckpoints(repo).tag()  # `tag all`: one commit for both, params included
    assert [r.tag for r in res.records] == ["model/v0.2", "data/v0.2"]
    for tag in ("model/v0.2", "data/v0.2"):
        assert git(repo, "show", f"{tag}:params.yaml") == "lr: 0.02\n"
    assert status_of(repo, "params.yaml") == ""


def test_sigkill_mid_tag_puts_the_params_index_entry_back(repo: Path) -> None:
    _modified_params(repo)
    write_checkpoint(repo, b"w1")
    before = repo_snapshot(repo)

    proc = run_cpv(
        "tag", "--kind", "model", cwd=repo, env={"CPV_FAULT": "kill:after_commit"}, check=False
    )
    assert proc.returncode == -9
    assert git(repo, "show", "HEAD:params.yaml") == "lr: 0.02\n"  # committed, then killed

    assert "repaired" in run_cpv("tag", "--kind", "model", "--dry-run", cwd=repo).stderr
    assert repo_snapshot(repo) == before


def test_nothing_to_tag_leaves_params_file_as_before(repo: Path) -> None:
    _modified_params(repo)
    before = repo_snapshot(repo)
    assert not ModelCheckpoints(repo).tag().created  # same weights: no version, no commit
    assert repo_snapshot(repo) == before

    (repo / "checkpoints/model.bin").unlink()
    before = repo_snapshot(repo)
    with pytest.raises(NothingToTagError):
        ModelCheckpoints(repo).tag()
    assert repo_snapshot(repo) == before


def test_modified_tracked_files_are_recorded_dirty_not_committed(repo: Path) -> None:
    commit_files(repo, {"train.py": "print('v1')\n", "params.yaml": "lr: 0.01\n"})
    write_checkpoint(repo, b"w1")
    (repo / "scratch.txt").write_text("untracked: not dirty\n")
    assert ModelCheckpoints(repo).tag().record.dirty is False

    (repo / "train.py").write_text("print('v2')\n")
    (repo / "params.yaml").write_text("lr: 0.02\n")  # committed, so not dirty
    write_checkpoint(repo, b"w2")
    run_cpv("tag", "--kind", "model", cwd=repo)

    shown = json.loads(run_cpv("show", "model/v0.2", "--json", cwd=repo).stdout)
    assert shown["dirty"] is True and shown["dirty_paths"] == ["train.py"]
    assert shown["dirty_count"] == 1
    assert json.loads(run_cpv("show", "model/v0.1", "--json", cwd=repo).stdout)["dirty"] is False
    assert git(repo, "show", "model/v0.2:train.py") == "print('v1')\n"
    assert git(repo, "status", "--porcelain") == " M train.py\n?? scratch.txt\n"


def test_dirty_paths_are_sorted_and_capped(repo: Path) -> None:
    names = {f"src/m{i:02d}.py": "x = 1\n" for i in range(60)}
    commit_files(repo, names)
    for name in names:
        (repo / name).write_text("x = 2\n")
    git(repo, "add", "src/m00.py")  # staged counts too
    write_checkpoint(repo, b"w1")

    record = ModelCheckpoints(repo).tag().record

    assert record.dirty and record.dirty_count == 60
    assert record.dirty_paths == sorted(names)[:50]


def test_old_tags_without_the_fields_still_decode() -> None:
    body = {"kind": "model", "version": "v0.1", "tag": "model/v0.1"}
    # (real values: a time and an object id of the right form; hostile ones are refused)
    body["created_at"] = "2024-05-01T10:00:00+00:00"
    body["content_hash"] = "0123456789abcdef0123456789abcdef.dir"
    record = decode_tag_message(f"model v0.1\n\ncpv-metadata: {json.dumps(body)}\n")
    assert record is not None and record.dirty is False and record.dirty_paths == []


def test_params_file_outside_the_repository_is_refused(repo: Path) -> None:
    cfg = yaml.safe_load((repo / "cpv.yaml").read_text())
    (repo / "cpv.yaml").write_text(yaml.safe_dump({**cfg, "params_files": ["../x.yaml"]}))
    write_checkpoint(repo, b"w1")

    with pytest.raises(ConfigError, match=r"params file '\.\./x\.yaml' must name a file inside"):
        load_repo_config(repo)
    proc = run_cpv("tag", "--kind", "model", cwd=repo, check=False)
    assert proc.returncode == 1 and "cpv.yaml" in proc.stderr and "../x.yaml" in proc.stderr
    assert git(repo, "tag") == ""


def test_training_integration_commits_params_and_records_dirty(repo: Path, tmp_path: Path) -> None:
    from cpv.integrations import versioning

    commit_files(repo, {"train.py": "v1\n", "params.yaml": "lr: 0.01\n"})
    (repo / "train.py").write_text("v2\n")
    (repo / "params.yaml").write_text("lr: 0.02\n")
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"weights")
    with versioning(repo=repo, params={"lr": 0.02}) as v:
        v.log_checkpoint(ckpt, metrics={"loss": 0.5})

    (record,) = ModelCheckpoints(repo).list()
    assert record.params == {"lr": 0.02}
    assert git(repo, "show", f"{record.tag}:params.yaml") == "lr: 0.02\n"
    assert record.dirty and record.dirty_paths == ["train.py"]
    assert git(repo, "status", "--porcelain") == " M train.py\n"
