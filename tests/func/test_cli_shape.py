"""One CLI shape (docs/cli.md, "One shape for every command"): the new spellings, the old
ones still working for a release with one notice naming the new spelling, every command
registered in one list with a full one-line description, and -q / -v."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import cpv.cli
from cpv import ModelCheckpoints
from cpv.cli.main import COMMANDS, cli
from cpv.ops.init import init_repository
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint

NOTICE = re.compile(r"^warning: `(?P<old>[^`]+)` is deprecated and goes in the next release: use `(?P<new>[^`]+)`\.$", re.M)  # fmt: skip


def _notices(stderr: str) -> list[tuple[str, str]]:
    return [(m["old"], m["new"]) for m in NOTICE.finditer(stderr)]


def _tagged(repo: Path, *contents: bytes) -> Path:
    for content in contents:
        write_checkpoint(repo, content)
        ModelCheckpoints(repo).tag(message=content.decode()[:10])
    return repo


@pytest.mark.parametrize(
    ("old", "new", "notice"),
    [
        (["list", "model"], ["list", "--kind", "model"], ("cpv list model", "cpv list --kind model")),
        (["list", "--all"], ["list", "--deleted"], ("cpv list --all", "cpv list --deleted")),
        (["verify", "--all"], ["verify", "--all-versions"], ("cpv verify --all", "cpv verify --all-versions")),
        (["show", "v0.1"], ["show", "v0.1", "-k", "model"], None),
    ],
)  # fmt: skip
def test_old_and_new_spellings_read_the_same(
    repo: Path, old: list[str], new: list[str], notice: tuple[str, str] | None
) -> None:
    _tagged(repo, b"one", b"two")
    ModelCheckpoints(repo).push()  # only a published version may be deleted without --force
    ModelCheckpoints(repo).delete("v0.1")
    before = run_cpv(*old, "--json", cwd=repo, check=False)
    after = run_cpv(*new, "--json", cwd=repo, check=False)
    assert before.returncode == after.returncode
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert _notices(before.stderr) == ([notice] if notice else [])
    assert _notices(after.stderr) == []


def test_tag_with_the_old_kind_argument_and_version_option(repo: Path) -> None:
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n")
    write_checkpoint(repo, b"weights")
    old = run_cpv("tag", "all", "--version", "v1.0", "--json", cwd=repo)
    made = json.loads(old.stdout)["versions"]
    assert [v["tag"] for v in made] == ["model/v1.0", "data/v1.0"]
    assert sorted(_notices(old.stderr)) == [
        ("cpv tag --version v1.0", "cpv tag --as v1.0"),
        ("cpv tag all", "cpv tag --kind all"),
    ]
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n{}\n")
    write_checkpoint(repo, b"weights 2")
    new = run_cpv("tag", "--kind", "all", "--as", "v2.0", "--json", cwd=repo)
    assert [v["tag"] for v in json.loads(new.stdout)["versions"]] == ["model/v2.0", "data/v2.0"]
    assert new.stderr == ""


def test_delete_reason_in_both_spellings_reaches_the_marker(repo: Path) -> None:
    _tagged(repo, b"one", b"two", b"three")
    ModelCheckpoints(repo).push()
    old = run_cpv("delete", "v0.1", "--why", "too big", cwd=repo)
    assert _notices(old.stderr) == [("cpv delete --why", "cpv delete -m TEXT")]
    new = run_cpv("delete", "v0.2", "-m", "a bad run", cwd=repo)
    assert _notices(new.stderr) == []
    removed = {
        r["tag"]: r["removed"]
        for r in json.loads(run_cpv("list", "--deleted", "--json", cwd=repo).stdout)
    }
    assert removed["model/v0.1"]["why"] == "too big"
    assert removed["model/v0.2"]["why"] == "a bad run"


def test_status_all_in_a_folder_is_recursive(tmp_path: Path) -> None:
    for name in ("a", "b"):
        init_repository(team="acme", model=name, path=tmp_path / name)
    old = run_cpv("status", "--all", "--no-remote", "--json", cwd=tmp_path)
    new = run_cpv("status", "--recursive", "--no-remote", "--json", cwd=tmp_path)
    assert json.loads(old.stdout) == json.loads(new.stdout)
    assert len(json.loads(new.stdout)["models"]) == 2
    assert _notices(old.stderr) == [("cpv status --all", "cpv status --recursive")]
    listed = run_cpv("list", "--all", "--json", cwd=tmp_path)  # in a folder: --recursive
    assert _notices(listed.stderr) == [("cpv list --all", "cpv list --recursive")]
    assert len(json.loads(listed.stdout)["models"]) == 2


@pytest.mark.parametrize(
    "args",
    [
        ["tag", "data", "--kind", "model"],
        ["revert", "v0.1", "model", "--kind", "data"],
        ["tag", "--as", "v1.0", "--version", "v2.0"],
        ["clone", "acme/x", "--ref", "v0.1", "--version", "v0.2"],
    ],
)
def test_an_old_and_a_new_spelling_that_disagree_are_a_usage_error(
    repo: Path, args: list[str]
) -> None:
    _tagged(repo, b"one")
    before = repo_snapshot(repo)
    proc = run_cpv(*args, cwd=repo, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Error: " in proc.stderr and "Traceback" not in proc.stderr
    assert repo_snapshot(repo) == before


def test_no_command_has_a_bare_all_or_a_version_option() -> None:
    def walk(command: click.Command, path: str) -> list[str]:
        found = []
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and path != "cpv":
                if {"--all", "--version", "--why"} & set(param.opts):
                    found.append(f"{path} {param.opts}")
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += walk(sub, f"{path} {name}")
        return found

    assert walk(cli, "cpv") == []


def test_every_command_defined_is_registered_in_the_one_list() -> None:
    defined = set()
    for info in pkgutil.iter_modules(cpv.cli.__path__):
        module = importlib.import_module(f"cpv.cli.{info.name}")
        for value in vars(module).values():
            if isinstance(value, click.Command) and value is not cli:
                defined.add(value)
    subcommands = {
        sub for c in COMMANDS if isinstance(c, click.Group) for sub in c.commands.values()
    }
    missing = sorted(c.name or "?" for c in defined - set(COMMANDS) - subcommands)
    assert not missing, f"commands defined but not in cpv.cli.main.COMMANDS: {missing}"
    assert list(cli.commands.values()) == COMMANDS


def _all_commands(command: click.Command, path: str = "cpv") -> list[tuple[str, click.Command]]:
    out = []
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            out.append((f"{path} {name}", sub))
            out.extend(_all_commands(sub, f"{path} {name}"))
    return out


@pytest.mark.parametrize(("path", "command"), _all_commands(cli), ids=lambda v: str(v))
def test_every_command_has_a_full_one_line_description(path: str, command: click.Command) -> None:
    short = command.get_short_help_str(limit=45)
    assert short, f"{path} has no short help"
    assert not short.endswith(("...", "…")), f"{path}: short help cut to {short!r}"
    assert short == command.get_short_help_str(limit=10_000), f"{path}: cut at 45 chars"
    assert "\n" not in short


@pytest.mark.parametrize("group", [cli, cli.commands["remote"]], ids=["cpv", "cpv remote"])
def test_help_lists_no_truncated_description(group: click.Command) -> None:
    args = ["remote", "--help"] if group is not cli else ["--help"]
    out = CliRunner().invoke(cli, args, terminal_width=80).output
    commands = out.split("Commands:")[1]
    assert "..." not in commands and "…\n" not in commands
    for name in group.commands:  # type: ignore[attr-defined]
        assert re.search(rf"^  {name}\s+\S", commands, re.M), f"{name} has no description"


def test_quiet_drops_the_notes_and_keeps_the_result(repo: Path) -> None:
    _tagged(repo, b"one")
    (repo / "data" / "train" / "rows.jsonl").write_text("{}\n")
    ModelCheckpoints(repo).tag(message="x")  # model unchanged; then data
    from cpv import DataCheckpoints

    DataCheckpoints(repo).tag(message="d")
    normal = run_cpv("show", "v0.1", cwd=repo)
    assert "data/v0.1 also exists" in normal.stderr
    quiet = run_cpv("-q", "show", "v0.1", cwd=repo)
    assert quiet.stderr == "" and quiet.stdout == normal.stdout
    failed = run_cpv("-q", "show", "v0.9", cwd=repo, check=False)
    assert failed.returncode == 1 and failed.stderr.startswith("Error: ")
    both = run_cpv("-q", "-v", "list", cwd=repo, check=False)
    assert both.returncode == 2 and "Error: -q and -v" in both.stderr


def test_verbose_names_each_stage_of_a_push_and_the_time(repo: Path) -> None:
    _tagged(repo, b"one")
    proc = run_cpv("-v", "push", cwd=repo)
    stages = re.findall(r"^\[\s*[\d.]+s\] (.+)$", proc.stderr, re.M)
    assert stages == [
        "checking the remote for new work",
        "publishing to git",
        "updating the model index in the storage",
    ]
    assert re.search(r"^done in [\d.]+s$", proc.stderr, re.M)
    assert "pushed" in proc.stdout
    plain = run_cpv("push", cwd=repo)  # off a terminal and without -v: no stages
    assert "publishing" not in plain.stderr


def test_the_library_tells_a_progress_with_stages(repo: Path) -> None:
    _tagged(repo, b"one")
    heard: list[str] = []

    class Stages:
        def transfer(self, *args: object) -> None:
            pass

        def step(self, done: int, total: int, label: str) -> None:
            pass

        def waiting(self, message: str) -> None:
            pass

        def stage(self, label: str) -> None:
            heard.append(label)

    ModelCheckpoints(repo, progress=Stages()).push()
    assert heard[-2:] == ["publishing to git", "updating the model index in the storage"]
