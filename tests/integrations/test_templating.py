"""Template discovery and rendering (no torch needed)."""

from __future__ import annotations

import json
import py_compile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cpv.core.templating import list_templates, render_template, templates_root
from cpv.domain.errors import UsageError


def test_lists_each_template_with_a_one_line_description() -> None:
    infos = {t.name: t.description for t in list_templates()}
    assert {"pytorch", "transformers", "none"} <= set(infos)
    for name, description in infos.items():
        assert description and "\n" not in description, name


@pytest.mark.parametrize("name", ["pytorch", "transformers"])
def test_renders_files_with_names_filled_in(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "proj"
    written = render_template(name, dest, team="acme", model="sentiment-bert")

    names = {p.relative_to(dest).as_posix() for p in written}
    assert {"train.py", "params.yaml", "README.md", ".gitignore"} <= names
    assert not any(n.endswith(".j2") or n == "template.yaml" for n in names)
    readme = (dest / "README.md").read_text()
    assert "# acme/sentiment-bert" in readme and "{{" not in readme
    assert "acme/sentiment-bert" in (dest / "params.yaml").read_text()
    assert "acme/sentiment-bert" in (dest / "train.py").read_text()
    py_compile.compile(str(dest / "train.py"), doraise=True)
    assert (dest / "train.py").stat().st_mode & 0o100


def test_gitignore_is_merged_and_readme_replaced(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("/checkpoints\n/data\n/outputs/\n")
    (tmp_path / "README.md").write_text("# placeholder\n")

    render_template("pytorch", tmp_path, team="acme", model="m")

    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:3] == ["/checkpoints", "/data", "/outputs/"]
    assert lines.count("/outputs/") == 1
    assert "placeholder" not in (tmp_path / "README.md").read_text()


def test_refuses_to_overwrite_other_files_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('mine')\n")

    with pytest.raises(UsageError, match="would overwrite: train.py"):
        render_template("pytorch", tmp_path, team="acme", model="m")

    assert (tmp_path / "train.py").read_text() == "print('mine')\n"
    assert not (tmp_path / "params.yaml").exists()
    render_template("pytorch", tmp_path, team="acme", model="m", overwrite=True)
    assert "cpv" in (tmp_path / "train.py").read_text()


def test_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown template 'keras'") as info:
        render_template("keras", tmp_path, team="acme", model="m")
    assert "cpv templates" in info.value.hint


def test_none_renders_nothing(tmp_path: Path) -> None:
    assert render_template("none", tmp_path / "x", team="acme", model="m") == []
    assert not (tmp_path / "x").exists()


def test_templates_dir_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "own" / "sklearn"
    own.mkdir(parents=True)
    (own / "template.yaml").write_text("description: Our scikit-learn scaffold.\n")
    (own / "train.py.j2").write_text("MODEL = '{{ model_id }}'\n")
    monkeypatch.setenv("CPV_TEMPLATES_DIR", str(tmp_path / "own"))

    assert templates_root() == tmp_path / "own"
    render_template("sklearn", tmp_path / "p", team="acme", model="m")
    assert (tmp_path / "p" / "train.py").read_text() == "MODEL = 'acme/m'\n"


def test_strict_rendering_rejects_unknown_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "own" / "broken"
    own.mkdir(parents=True)
    (own / "template.yaml").write_text("description: Broken.\n")
    (own / "train.py.j2").write_text("{{ no_such_variable }}\n")
    monkeypatch.setenv("CPV_TEMPLATES_DIR", str(tmp_path / "own"))

    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render_template("broken", tmp_path / "p", team="acme", model="m")


def test_cli_templates_json_and_table() -> None:
    from cpv.cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["templates", "--json"])
    assert result.exit_code == 0, result.output
    names = [t["name"] for t in json.loads(result.output)]
    assert names == sorted(set(names) - {"none"}) + ["none"]
    assert "pytorch" in names

    table = runner.invoke(cli, ["templates"])
    assert table.exit_code == 0 and "transformers" in table.output


def test_cli_init_with_template_renders_and_commits(tmp_path: Path) -> None:
    import subprocess

    from cpv.cli.main import cli

    result = CliRunner().invoke(
        cli, ["init", "acme/m", str(tmp_path / "m"), "--template", "pytorch"]
    )
    assert result.exit_code == 0, result.output
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=tmp_path / "m", capture_output=True, text=True
    ).stdout
    assert status == ""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=tmp_path / "m", capture_output=True, text=True
    ).stdout.split()
    assert {"train.py", "params.yaml", "README.md", ".gitignore"} <= set(tracked)


@pytest.mark.parametrize(
    ("name", "metric"), [("pytorch", "val_loss"), ("transformers", "eval_loss")]
)
def test_init_with_a_template_declares_the_metric_best_ranks_by(
    tmp_path: Path, name: str, metric: str
) -> None:
    from cpv.ops.init import init_repository
    from cpv.settings.config import load_repo_config

    root = init_repository(team="acme", model=f"m-{name}", path=tmp_path / name, template=name)
    best = load_repo_config(root).best
    assert best is not None and (best.metric, best.mode) == (metric, "min")
    # ...and the scaffold's own evaluation reports that metric (it is not a made-up name).
    scaffold = (root / "train.py").read_text() + (root / "params.yaml").read_text()
    assert metric in scaffold
