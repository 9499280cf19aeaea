"""One door: the `cpv` commands and the Python managers are the same library.

Each scenario runs twice on two fresh repositories, one through the `cpv` entry point
(``main(argv)``, in this process; one test runs the real console script in a child) and one
through the Python API, each with its own ``$CPV_HOME`` (so each has its own local default
git remote and storage). The outcomes are compared: tags, records,
results, workspace bytes, exit codes against raised errors. Then one test per drift the two
routes used to have, and one for progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cpv import CombinedCheckpoints, DataCheckpoints, ModelCheckpoints, manager_for
from cpv.cli.main import main
from cpv.core.transaction import repo_lock
from cpv.domain.errors import CpvError, LockTimeoutError, RemoteError, UsageError
from cpv.domain.results import PushResult
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint

VOLATILE = {"created_at"}  # differs between any two runs; everything else must match
HISTORY = ["data/v0.2", "model/v0.1", "model/v0.2", "model/v0.3"]  # what _history() makes


def dump(result: BaseModel) -> Any:
    """A result as the CLI prints it with --json."""
    return result.model_dump(mode="json", by_alias=True)


class Side:
    """One door's world: its base directory, its ``$CPV_HOME`` and its repository."""

    def __init__(self, base: Path) -> None:
        self.base, self.home, self.repo = base, base / "cpv-home", base / "door"
        base.mkdir()


@dataclass
class Doors:
    cli: Side
    api: Side
    monkeypatch: pytest.MonkeyPatch

    def run(
        self, *args: str, check: bool = True, at: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``cpv -C <cli repo> ARGS`` through the console entry point (``cpv.cli.main.main``),
        in this process for speed, under the CLI side's ``$CPV_HOME``."""
        where = at or (self.cli.repo if self.cli.repo.exists() else self.cli.base)
        argv = ["-C", str(where), *args]
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with self.monkeypatch.context() as env:
            env.setenv("CPV_HOME", str(self.cli.home))
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    main(argv)
            except SystemExit as exc:
                code = int(exc.code or 0)
        proc = subprocess.CompletedProcess(["cpv", *argv], code, out.getvalue(), err.getvalue())
        if check and code != 0:
            raise AssertionError(
                f"cpv {' '.join(argv)} failed ({code}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, at: Path | None = None) -> Any:
        return json.loads(self.run(*args, "--json", at=at).stdout)

    def write(self, weights: str | None = None, rows: str | None = None) -> None:
        """The same workspace change on both sides: new weights, new training rows."""
        for repo in (self.cli.repo, self.api.repo):
            if weights is not None:
                write_checkpoint(repo, weights.encode() * 500)
            if rows is not None:
                (repo / "data/train/rows.jsonl").write_text(rows)


def normalized(value: Any, side: Side) -> Any:
    """``value`` with this side's paths replaced and run-specific fields dropped; a commit
    sha becomes whether there is one."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE:
                continue
            out[key] = bool(item) if key == "commit" else normalized(item, side)
        if out.get("key") in VOLATILE:  # a diff entry comparing timestamps
            out = {"key": out["key"]}
        return out
    if isinstance(value, list):
        return [normalized(item, side) for item in value]
    if isinstance(value, str):
        return value.replace(str(side.base), "<BASE>")
    return value


def state(side: Side) -> dict[str, Any]:
    """What a command leaves behind: tags, records, workspace bytes, git state."""
    repo = side.repo
    files = {
        str(p.relative_to(repo)): hashlib.md5(p.read_bytes()).hexdigest()
        for top in ("checkpoints", "data")
        for p in sorted((repo / top).rglob("*"))
        if p.is_file()
    }
    records = [r.to_json_dict() for r in CombinedCheckpoints(repo).list()]
    return normalized(
        {"tags": git(repo, "tag", "-l").split(), "records": records, "files": files,
         "status": git(repo, "status", "--porcelain"), "subject": git(repo, "log", "-1", "--format=%s"),
         "commits": git(repo, "rev-list", "--count", "HEAD")},
        side,
    )  # fmt: skip


def same_state(doors: Doors) -> None:
    assert state(doors.cli) == state(doors.api)


def same(cli_out: Any, api_out: Any, doors: Doors) -> None:
    assert normalized(cli_out, doors.cli) == normalized(api_out, doors.api)


def same_error(proc: subprocess.CompletedProcess[str], exc: CpvError, doors: Doors) -> None:
    """The CLI's exit code and one-line error are the raised error's."""
    assert proc.returncode == exc.exit_code
    lines = proc.stderr.splitlines()
    assert normalized(lines[0], doors.cli) == normalized(f"Error: {exc.message}", doors.api)
    assert lines[1] == f"Hint: {exc.hint}"


@pytest.fixture
def doors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Doors:
    """Two repositories acme/door made by `cpv init` and by ``CombinedCheckpoints.init``."""
    cli, api = Side(tmp_path / "cli"), Side(tmp_path / "api")
    monkeypatch.setenv("CPV_HOME", str(api.home))  # the API side runs in this process
    result = Doors(cli, api, monkeypatch)
    cli_out = result.json("init", "acme/door")
    manager, api_out = CombinedCheckpoints.init(team="acme", model="door", path=api.repo)
    assert manager.root == api.repo
    same(cli_out, dump(api_out), result)
    same_state(result)
    return result


def _tag_model_both(doors: Doors, weights: str, message: str, wer: float) -> None:
    doors.write(weights)
    cli_out = doors.json("tag", "--kind", "model", "-m", message, "--metric", f"wer={wer}")
    res = ModelCheckpoints(doors.api.repo).tag(message=message, metrics={"wer": wer})
    api_out = {"created": res.created, "dry_run": res.dry_run, "versions": [r.to_json_dict() for r in res.records]}  # fmt: skip
    same(cli_out, api_out, doors)


def _history(doors: Doors) -> None:
    """model/v0.1; model/v0.2 + data/v0.2 (tag all); model/v0.3 — on both sides."""
    _tag_model_both(doors, "one ", "first", 0.3)
    doors.write("two ", '{"x": 1}\n')
    cli_out = doors.json("tag", "--kind", "all", "-m", "new data")
    res = CombinedCheckpoints(doors.api.repo).tag(message="new data")
    same(cli_out["versions"], [r.to_json_dict() for r in res.records], doors)
    _tag_model_both(doors, "three ", "third", 0.2)


def test_tag_model(doors: Doors) -> None:
    _tag_model_both(doors, "weights ", "lr 3e-4", 0.21)
    same_state(doors)
    # unchanged content: no new version through either door
    assert "unchanged, still v0.1" in doors.run("tag", "--kind", "model").stdout
    assert ModelCheckpoints(doors.api.repo).tag().created is False
    same_state(doors)
    # the console script in a child process prints what main() printed here
    child = run_cpv(
        "-C", str(doors.cli.repo), "list", "--json", env={"CPV_HOME": str(doors.cli.home)}
    )
    assert json.loads(child.stdout) == doors.json("list")


def test_tag_all(doors: Doors) -> None:
    _history(doors)
    same_state(doors)
    assert state(doors.api)["tags"] == HISTORY


def test_list_show_and_diff(doors: Doors) -> None:
    _history(doors)
    for kind, manager in (("all", CombinedCheckpoints), ("model", ModelCheckpoints), ("data", DataCheckpoints)):  # fmt: skip
        api_list = [r.to_json_dict() for r in manager(doors.api.repo).list()]
        same(doors.json("list", "--kind", kind), api_list, doors)
    for version, manager in (("v0.2", ModelCheckpoints), ("data/v0.2", DataCheckpoints)):
        api_record = manager(doors.api.repo).show(version).to_json_dict()
        same(doors.json("show", version), api_record, doors)
    diff = ModelCheckpoints(doors.api.repo).diff("v0.1", "v0.3")
    same(doors.json("diff", "v0.1", "v0.3"), dump(diff), doors)


def test_revert_model(doors: Doors) -> None:
    _history(doors)
    cli_out = doors.json("revert", "v0.1", "--kind", "model")
    api_out = dump(ModelCheckpoints(doors.api.repo).revert("v0.1"))
    same(cli_out, api_out, doors)
    assert api_out["commit"]
    assert (doors.api.repo / "checkpoints/model.bin").read_bytes() == b"one " * 500
    same_state(doors)


def test_revert_a_data_version_with_the_model_manager_is_refused(doors: Doors) -> None:
    _history(doors)
    before = {side.base: repo_snapshot(side.repo) for side in (doors.cli, doors.api)}
    proc = doors.run("revert", "data/v0.2", "--kind", "model", check=False)
    with pytest.raises(UsageError) as info:
        ModelCheckpoints(doors.api.repo).revert("data/v0.2")
    same_error(proc, info.value, doors)
    assert "DataCheckpoints" in info.value.hint and "`cpv revert data/v0.2`" in info.value.hint
    assert {side.base: repo_snapshot(side.repo) for side in (doors.cli, doors.api)} == before


def test_push_to_the_local_default_remote(doors: Doors) -> None:
    _history(doors)
    cli_out = doors.json("push")
    api_res = ModelCheckpoints(doors.api.repo).push()
    assert isinstance(api_res, PushResult)
    assert api_res.pushed_tags == HISTORY
    same(cli_out, dump(api_res), doors)
    same(doors.json("push"), dump(ModelCheckpoints(doors.api.repo).push()), doors)
    same_state(doors)


def test_status(doors: Doors) -> None:
    _history(doors)
    doors.write("unsaved ")
    for args, remote in ((["status"], True), (["status", "--no-remote"], False)):
        api_out = CombinedCheckpoints(doors.api.repo).status(remote=remote)
        same(doors.json(*args), dump(api_out), doors)
    doors.run("push")
    CombinedCheckpoints(doors.api.repo).push()
    api_out = CombinedCheckpoints(doors.api.repo).status()
    assert api_out.unpushed_tags == [] and api_out.kinds[0].changed
    same(doors.json("status"), dump(api_out), doors)


def test_pull_and_clone(doors: Doors) -> None:
    _history(doors)
    doors.run("push")
    CombinedCheckpoints(doors.api.repo).push()
    for version, kind, manager in (
        ("model/v0.1", "all", CombinedCheckpoints),
        ("v0.2", "data", DataCheckpoints),
        (None, "all", CombinedCheckpoints),
    ):
        cli_out = doors.json("pull", *([version, "--kind", kind] if version else []))
        api_out = dump(manager(doors.api.repo).pull(version))
        same(cli_out, api_out, doors)
        same_state(doors)
    cli_clone = doors.json("clone", "acme/door", "copy", "--ref", "model/v0.1", at=doors.cli.base)
    copy, api_clone = CombinedCheckpoints.clone(
        "acme/door", doors.api.base / "copy", version="model/v0.1"
    )
    same(cli_clone, {"path": str(copy.root), **dump(api_clone)}, doors)
    assert (copy.root / "checkpoints/model.bin").read_bytes() == b"one " * 500


def test_errors_are_the_same_through_both_doors(doors: Doors) -> None:
    _history(doors)
    cases: list[tuple[list[str], Callable[[], object]]] = [
        (["show", "v0.9"], lambda: ModelCheckpoints(doors.api.repo).show("v0.9")),
        (["revert", "v1..2"], lambda: ModelCheckpoints(doors.api.repo).revert("v1..2")),
        (["diff", "v0.1", "data/v0.2"], lambda: DataCheckpoints(doors.api.repo).diff("v0.1", "data/v0.2")),
        (["diff", "model/v0.1", "data/v0.2"], lambda: ModelCheckpoints(doors.api.repo).diff("model/v0.1", "data/v0.2")),
        (["pull", "model/v0.1", "--kind", "data"], lambda: DataCheckpoints(doors.api.repo).pull("model/v0.1")),
        (["show", "data/v0.2", "--kind", "model"], lambda: ModelCheckpoints(doors.api.repo).show("data/v0.2")),
    ]  # fmt: skip
    for args, call in cases:
        proc = doors.run(*args, check=False)
        with pytest.raises(CpvError) as info:
            call()
        same_error(proc, info.value, doors)
    same_state(doors)


def test_model_manager_refuses_data_versions_everywhere(doors: Doors) -> None:
    _history(doors)
    repo = doors.api.repo
    before = repo_snapshot(repo)
    for call in (
        lambda: ModelCheckpoints(repo).revert("data/v0.2"),
        lambda: ModelCheckpoints(repo).pull("data/v0.2"),
        lambda: ModelCheckpoints(repo).show("data/v0.2"),
        lambda: DataCheckpoints(repo).revert("model/v0.1"),
    ):
        with pytest.raises(UsageError, match="version; this acts on"):
            call()
    assert repo_snapshot(repo) == before


def test_combined_revert_of_a_model_version_reverts_the_model_only(doors: Doors) -> None:
    _history(doors)
    doors.write(rows='{"x": 2}\n')
    doors.run("tag", "--kind", "data", "-m", "data v4")
    manager_for("data", doors.api.repo).tag(message="data v4")
    cli_out = doors.json("revert", "model/v0.1", "--kind", "all")
    res = CombinedCheckpoints(doors.api.repo).revert("model/v0.1")
    same(cli_out, dump(res), doors)
    assert [r.tag for r in res.records] == ["model/v0.1"]
    assert (doors.api.repo / "checkpoints/model.bin").read_bytes() == b"one " * 500
    assert (doors.api.repo / "data/train/rows.jsonl").read_text() == '{"x": 2}\n'  # untouched
    same_state(doors)
    both = CombinedCheckpoints(doors.api.repo).revert("v0.2")  # a bare version: both kinds
    assert [r.tag for r in both.records] == ["model/v0.2", "data/v0.2"]


def test_move_storage_and_remote_set_move_the_same_versions_by_default(doors: Doors) -> None:
    _history(doors)
    cli_out = doors.json("remote", "set", str(doors.cli.base / "moved"))
    api_res = CombinedCheckpoints(doors.api.repo).move_storage(str(doors.api.base / "moved"))
    same(cli_out, dump(api_res), doors)
    assert [v.tag for v in api_res.versions] == HISTORY
    assert api_res.verified and api_res.commit
    same_state(doors)
    # the opt-out is the same on both sides as well
    cli_only = doors.json(
        "remote", "set", str(doors.cli.base / "again"), "--current-only", "--dry-run"
    )
    api_only = CombinedCheckpoints(doors.api.repo).move_storage(
        str(doors.api.base / "again"), all_versions=False, dry_run=True
    )
    same(cli_only, dump(api_only), doors)
    assert [v.tag for v in api_only.versions] == ["HEAD"]


def test_model_manager_pushes_with_a_typed_result_and_typed_errors(doors: Doors) -> None:
    _tag_model_both(doors, "weights ", "first", 0.5)
    res = ModelCheckpoints(doors.api.repo).push(dry_run=True)
    assert isinstance(res, PushResult) and res.dry_run and res.pushed_tags == ["model/v0.1"]
    for side in (doors.cli, doors.api):
        git(side.repo, "remote", "remove", "origin")
    proc = doors.run("push", check=False)
    with pytest.raises(RemoteError) as info:
        ModelCheckpoints(doors.api.repo).push()
    same_error(proc, info.value, doors)


@dataclass
class Recorder:
    """A :class:`cpv.domain.progress.Progress` that keeps what it is told."""

    transfers: list[tuple[str, bool]] = field(default_factory=list)
    steps: list[tuple[int, int, str]] = field(default_factory=list)
    waits: list[str] = field(default_factory=list)

    def transfer(self, key: int, description: str, done: int, total: int | None, is_bytes: bool, finished: bool) -> None:  # fmt: skip
        self.transfers.append((description, finished))

    def step(self, done: int, total: int, label: str) -> None:
        self.steps.append((done, total, label))

    def waiting(self, message: str) -> None:
        self.waits.append(message)


def test_progress_goes_to_the_receiver_given_to_the_manager(
    doors: Doors, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(doors)
    seen = Recorder()
    manager = CombinedCheckpoints(doors.api.repo, progress=seen)
    manager.push()
    assert any(finished for _, finished in seen.transfers)
    manager.move_storage(str(doors.api.base / "moved"))
    assert seen.steps[-1] == (4, 4, "") and [s[2] for s in seen.steps[:-1]] == HISTORY
    monkeypatch.setenv("CPV_LOCK_TIMEOUT", "0.2")
    with repo_lock(doors.api.repo / ".git"), pytest.raises(LockTimeoutError):
        manager.revert("v0.1")
    assert len(seen.waits) == 1 and "waiting up to 0.2s" in seen.waits[0]
    # nothing reaches it from a manager without a receiver
    before = len(seen.transfers)
    write_checkpoint(doors.api.repo, b"four " * 500)
    ModelCheckpoints(doors.api.repo).tag()
    ModelCheckpoints(doors.api.repo).push()
    assert len(seen.transfers) == before
