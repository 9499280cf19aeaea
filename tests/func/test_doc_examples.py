"""Every fenced example in README.md and docs/ runs as written, on the embedded local default
(``CPV_HOME`` in a temp folder), and prints what the page shows where it shows output.
How blocks are read, and the markers a page may use: tests/func/doc_examples.py."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cpv.domain.errors import CpvError
from tests.func.doc_examples import Block, blocks, console_commands, matches

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

#: Shell functions an ``example-setup`` may call.
PRELUDE = r"""
scratch_model() {  # scratch_model [N [TEAM/MODEL]]: N model versions (wer falling), entered
  local id="${2:-acme/whisper-small}" i
  cpv init "$id" >/dev/null && cd "${id#*/}" || return 1
  for i in $(seq 1 "${1:-3}"); do
    python -c "import sys; open('checkpoints/model.bin', 'w').write('weights %s' % sys.argv[1])" "$i"
    cpv tag -m "run $i" --metric "wer=0.$((40 - i))" --metric accuracy=0.$((80 + i)) \
      >/dev/null || return 1
  done
}
"""


def _runnable(page: Path) -> list[Block]:
    return [b for b in blocks(page, ROOT) if b.kind != "illustration"]


class Page:
    """One page's examples: a bash whose folder and exports carry over, a Python namespace."""

    def __init__(self, work: Path, home: Path) -> None:
        self.cwd = work
        self.home = home
        self.state = work.parent / "shell-state"
        self.state.mkdir()
        self.namespace: dict[str, Any] = {"__name__": "__doc_example__"}

    def sh(self, script: str, *, strict: bool) -> subprocess.CompletedProcess[str]:
        env_file, cwd_file, rc_file = (self.state / n for n in ("env", "cwd", "rc"))
        last = rc_file.read_text().strip() if rc_file.exists() else "0"
        body = "\n".join(
            [
                PRELUDE,
                f'[ -f "{env_file}" ] && source "{env_file}"',
                f'cd "{self.cwd}"',
                "trap 'echo \"example failed at: $BASH_COMMAND\" >&2' ERR",
                "set -eo pipefail" if strict else f"(exit {last})  # $? of the previous command",
                script,
                "__rc=$?",
                "set +e",
                f'export -p > "{env_file}"; pwd > "{cwd_file}"; echo $__rc > "{rc_file}"',
                "exit $__rc",
            ]
        )
        proc = subprocess.run(
            ["bash", "-c", body],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if cwd_file.exists():
            self.cwd = Path(cwd_file.read_text().strip())
        return proc

    def python(self, code: str, where: str) -> None:
        """Run ``code``; a top-level ``print(...)  # shown`` line must print what it shows."""
        here, out = Path.cwd(), io.StringIO()
        os.chdir(self.cwd)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, where, "exec"), self.namespace)  # noqa: S102 - the docs' own
        finally:
            os.chdir(here)
        printed = out.getvalue().splitlines()
        for shown in re.findall(r"^print\(.*\)\s+#\s*(.+)$", code, re.M):
            assert any(matches([shown], [line]) for line in printed), (
                f"{where}: no line printed shows {shown!r}; printed:\n" + "\n".join(printed)
            )

    def run(self, block: Block) -> None:
        if block.setup:
            self._check(block, self.sh(block.setup, strict=True), "its setup")
        if block.setup_python:
            self.python(block.setup_python, f"{block.where} (setup)")
        if block.kind == "python":
            self.python(block.text, block.where)
            return
        if block.kind == "script":
            self._check(block, self.sh(block.text, strict=True), "the block")
            return
        for command in console_commands(block.text):
            proc = self.sh(command.line + " 2>&1", strict=False)
            printed = proc.stdout.replace(str(self.home), "/home/me").splitlines()
            failing = any(s.startswith("Error:") for s in command.shown)
            assert failing or proc.returncode == 0, (
                f"{block.where}: `{command.line}` exited {proc.returncode}:\n{proc.stdout}"
            )
            if command.shown:
                assert matches(command.shown, printed), (
                    f"{block.where}: `{command.line}` printed\n"
                    + "\n".join(printed)
                    + "\nbut the page shows\n"
                    + "\n".join(command.shown)
                )

    @staticmethod
    def _check(block: Block, proc: subprocess.CompletedProcess[str], what: str) -> None:
        assert proc.returncode == 0, (
            f"{block.where}: {what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )


def run_page(page: Path, tmp_path: Path, home: Path) -> list[Block]:
    """Run every example of ``page``; the skipped ones are returned."""
    work = tmp_path / "work"
    work.mkdir(parents=True)
    runner = Page(work, home)
    skipped = []
    for block in _runnable(page):
        if block.skip:
            skipped.append(block)
            continue
        runner.run(block)
    return skipped


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if _runnable(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_example_of_the_page_runs(page: Path, tmp_path: Path, isolated_env: Path) -> None:
    run_page(page, tmp_path, isolated_env)


def test_a_broken_example_or_wrong_output_fails(tmp_path: Path, isolated_env: Path) -> None:
    """The runner itself: a failing command, and output other than the page shows, fail."""
    page = tmp_path / "page.md"
    ok = "<!-- example-setup: scratch_model 2 -->\n```console\n$ cpv list --json | head -c 1\n[\n```\n"
    page.write_text(ok, encoding="utf-8")
    run_page(page, tmp_path / "a", isolated_env)
    for n, (broken, error) in enumerate(
        [
            ("```\ncpv init acme/x\ncpv show v0.9\n```\n", AssertionError),
            (
                "<!-- example-setup: scratch_model 1 -->\n"
                "```console\n$ cpv list --json | head -c 1\n{\n```\n",
                AssertionError,
            ),
            ("```python\nimport cpv\ncpv.ModelCheckpoints('nowhere')\n```\n", CpvError),
        ]
    ):
        page.write_text(broken, encoding="utf-8")
        with pytest.raises(error):
            run_page(page, tmp_path / str(n), isolated_env)


def test_every_cpv_yaml_example_is_a_valid_cpv_yaml() -> None:
    """``yaml`` blocks whose keys are ``cpv.yaml``'s (best:, retention:, promotion:, …) load
    as a model's ``cpv.yaml`` would: an example with a misspelt key or a bad value fails."""
    import yaml

    from cpv.settings.config import RepoConfig

    checked = []
    for page in PAGES:
        for block in blocks(page, ROOT):
            if block.lang != "yaml":
                continue
            fragment = yaml.safe_load(block.text)
            if not isinstance(fragment, dict) or not set(fragment) <= set(RepoConfig.model_fields):
                continue
            RepoConfig.model_validate({"team": "acme", "model": "m", **fragment})
            checked.append(block.where)
    assert len(checked) >= 4, checked  # configuration.md, lifecycle.md (2), retention.md
