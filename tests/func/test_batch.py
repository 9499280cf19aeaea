"""`cpv status|push|pull|list --recursive` in a folder of model repositories (real git, the local
default storage): each model acted on and reported, a broken one never stops the others."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.core.batch import find_model_repos, run_each
from cpv.domain.errors import NotARepositoryError
from cpv.ops.init import init_repository
from cpv.ops.push import push
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint


def _remote_tags(repo: Path) -> str:
    url = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    return subprocess.run(
        ["git", "ls-remote", "--tags", url], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """models/a and models/b (one version each), models/team/c (none); b has no remote."""
    root = tmp_path / "models"
    for team, model, where in (("acme", "a", "a"), ("acme", "b", "b"), ("ml", "c", "team/c")):
        init_repository(team=team, model=model, path=root / where)
    for name in ("a", "b"):
        write_checkpoint(root / name, f"weights of {name}".encode())
        ModelCheckpoints(root / name).tag(message=f"{name} first")
    subprocess.run(["git", "remote", "remove", "origin"], cwd=root / "b", check=True)
    return root


def test_push_all_carries_on_past_a_broken_model_and_fails_at_the_end(folder: Path) -> None:
    proc = run_cpv("push", "--recursive", cwd=folder, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [
        ["a", "ok"],
        ["b", "FAILED"],
        ["team/c", "ok"],
    ]
    assert "no git remote 'origin'" in proc.stdout
    assert proc.stderr.startswith("Error: 1 of 3 models failed: b\nHint: ")
    assert "Traceback" not in proc.stderr
    # the good ones really were published; the broken one is untouched
    assert "refs/tags/model/v0.1" in _remote_tags(folder / "a")
    assert "refs/tags/model/v0.1" not in _remote_tags(folder / "team" / "c")  # no version


def test_status_and_push_all_as_json(folder: Path) -> None:
    status = json.loads(run_cpv("status", "--recursive", "--json", cwd=folder).stdout)
    assert status["ok"] is True
    by_path = {Path(m["path"]).relative_to(folder).as_posix(): m for m in status["models"]}
    assert list(by_path) == ["a", "b", "team/c"]
    assert by_path["a"]["result"]["unpushed_tags"] == ["model/v0.1"]
    assert by_path["b"]["result"]["unpushed_tags"] is None  # no remote: unknown
    assert by_path["team/c"]["result"]["model"] == "c"

    proc = run_cpv("push", "--recursive", "--json", cwd=folder, check=False)
    assert proc.returncode == 1
    pushed = json.loads(proc.stdout)
    assert pushed["ok"] is False
    assert [(m["ok"], m["error"] is None) for m in pushed["models"]] == [
        (True, True),
        (False, False),
        (True, True),
    ]
    assert pushed["models"][0]["result"]["pushed_tags"] == ["model/v0.1"]
    assert pushed["models"][1]["hint"] == "Add one: git remote add origin URL."


def test_pull_all_brings_each_clone_up_to_date(folder: Path, tmp_path: Path) -> None:
    push(folder / "a")
    push(folder / "team" / "c")
    clones = tmp_path / "clones"
    run_cpv("clone", "acme/a", str(clones / "a"))
    run_cpv("clone", "ml/c", str(clones / "c"))
    # new versions published from the originals
    write_checkpoint(folder / "a", b"a, second")
    ModelCheckpoints(folder / "a").tag()
    push(folder / "a")
    write_checkpoint(folder / "team" / "c", b"c, first")
    ModelCheckpoints(folder / "team" / "c").tag()
    push(folder / "team" / "c")

    out = json.loads(run_cpv("pull", "--recursive", "--json", cwd=clones).stdout)
    assert out["ok"] is True and len(out["models"]) == 2
    assert (clones / "a" / "checkpoints" / "model.bin").read_bytes() == b"a, second"
    assert (clones / "c" / "checkpoints" / "model.bin").read_bytes() == b"c, first"


def test_list_recursive_from_the_folder_and_inside_a_repository(folder: Path) -> None:
    proc = run_cpv("list", "--recursive", cwd=folder)
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert rows[0][:2] == ["a", "ok"] and "latest model/v0.1" in proc.stdout
    assert rows[2][:2] == ["team/c", "ok"] and "no versions yet" in proc.stdout
    as_json = json.loads(run_cpv("list", "--recursive", "--json", cwd=folder).stdout)
    assert [len(m["result"]) for m in as_json["models"]] == [1, 1, 0]
    # inside a repository, --deleted: every version, deleted ones too
    inside = json.loads(run_cpv("list", "--deleted", "--json", cwd=folder / "a").stdout)
    assert [v["tag"] for v in inside] == ["model/v0.1"]


@pytest.mark.parametrize("command", ["status", "push", "pull"])
def test_recursive_is_refused_inside_a_repository(folder: Path, command: str) -> None:
    repo = folder / "a"
    before = repo_snapshot(repo)
    proc = run_cpv(command, "--recursive", cwd=repo / "checkpoints", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"Error: `cpv {command} --recursive` acts on a folder")
    assert len(proc.stderr.splitlines()) == 2 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert repo_snapshot(repo) == before


def test_a_folder_without_models_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    proc = run_cpv("status", "--recursive", cwd=tmp_path / "empty", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: no model repository in ")
    assert "Hint: " in proc.stderr


def test_discovery_skips_hidden_folders_venvs_and_never_descends_into_a_repo(
    tmp_path: Path,
) -> None:
    root = tmp_path / "work"
    init_repository(team="acme", model="top", path=root / "top")
    init_repository(team="acme", model="nested", path=tmp_path / "nested")
    (tmp_path / "nested").rename(root / "top" / "nested")  # a repo in a repo's folder
    init_repository(team="acme", model="hidden", path=root / ".cache" / "hidden")
    init_repository(team="acme", model="venvd", path=root / "env" / "venvd")
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    init_repository(team="acme", model="deep", path=root / "a" / "b" / "deep")  # three levels down
    init_repository(team="acme", model="m", path=root / "team" / "m")
    assert find_model_repos(root) == [root / "team" / "m", root / "top"]
    assert find_model_repos(root, depth=3)[0] == root / "a" / "b" / "deep"
    (root / "empty").mkdir()
    with pytest.raises(NotARepositoryError, match="no model repository in"):
        find_model_repos(root / "empty")


def test_run_each_records_errors_and_goes_on(tmp_path: Path) -> None:
    seen: list[str] = []

    def action(path: Path) -> int:
        seen.append(path.name)
        if path.name == "b":
            raise NotARepositoryError("broken", hint="fix it")
        if path.name == "c":
            raise RuntimeError("boom")
        return len(path.name)

    result = run_each([tmp_path / n for n in ("a", "b", "c", "d")], action)
    assert seen == ["a", "b", "c", "d"]
    assert [m.ok for m in result.models] == [True, False, False, True]
    assert result.models[0].result == 1
    assert (result.models[1].error, result.models[1].hint) == ("broken", "fix it")
    assert result.models[2].error == "unexpected RuntimeError: boom"
    assert not result.ok and [m.path.name for m in result.failed] == ["b", "c"]
