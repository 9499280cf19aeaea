"""The fenced examples of README.md and docs/, read as tests/func/test_doc_examples.py runs them.

A page's blocks, in order:

* ``python`` blocks run in this process, one namespace per page; a top-level
  ``print(...)  # text`` line must print that text;
* shell blocks (``console`` with ``$ `` prompts, or ``bash``/``sh``/unlabelled ones whose
  lines are commands) run in bash, one command at a time for ``console`` blocks (the lines
  after a command up to the next prompt are its shown output, compared), the whole block
  under ``set -e`` otherwise; the folder and exported variables carry over between blocks;
* anything else (``json``, ``yaml``, a file tree, a table of output with no command) is an
  illustration, not run.

Markers, HTML comments right before a block (invisible on the rendered page):

* ``<!-- skip-example: why -->``: not run (it needs a cloud account, an interactive wizard…);
* ``<!-- example-setup: … -->``: shell commands run first: what the page assumes exists
  (``scratch_model N`` makes ``acme/whisper-small`` with N versions and enters it);
* ``<!-- example-setup-python: … -->``: Python run first in the page's namespace (the names a
  fragment of your training script assumes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SHELL_LANGS = {"", "console", "bash", "sh", "shell"}
#: What a line of an unlabelled block starts with when the block is commands, not a picture.
COMMANDS = ("cpv ", "cd ", "python ", "git ", "dvc ", "export ", "pip ", "make ", "echo ")

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(
    r"<!--\s*(skip-example|example-setup-python|example-setup)\s*:?((?:(?!-->).)*)-->\s*$", re.S
)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    text: str
    skip: str | None = None
    setup: str = ""
    setup_python: str = ""

    @property
    def kind(self) -> str:
        """python, console, script or illustration."""
        if self.lang == "python":
            return "python"
        if self.lang not in SHELL_LANGS:
            return "illustration"
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        if any(ln.startswith("$ ") for ln in lines):
            return "console"
        if lines and all(ln.startswith(COMMANDS) or ln.startswith("#") for ln in lines):
            return "script"
        if self.lang in ("bash", "sh", "shell"):
            return "script"
        return "illustration"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


@dataclass
class Command:
    """One ``$ `` command of a console block and the output shown under it."""

    line: str
    shown: list[str] = field(default_factory=list)


def blocks(path: Path, root: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip()
        block = Block(
            page=str(path.relative_to(root)) if path.is_relative_to(root) else path.name,
            line=text[: m.start()].count("\n") + 1,
            lang=m.group(1).lower(),
            text=m.group(2),
        )
        # Every marker comment directly above the fence (only blank lines between).
        while (marker := _MARKER.search(before)) is not None:
            name, body = marker.group(1), marker.group(2).strip()
            if name == "skip-example":
                block.skip = body or "no reason given"
            elif name == "example-setup":
                block.setup = body + "\n" + block.setup
            else:
                block.setup_python = body + "\n" + block.setup_python
            before = before[: marker.start()].rstrip()
        found.append(block)
    return found


def console_commands(text: str) -> list[Command]:
    """The commands of a console block (continuation lines joined), each with its output."""
    commands: list[Command] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("$ "):
            cmd = line[2:]
            while cmd.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd.rstrip()[:-1] + " " + lines[i].strip()
            commands.append(Command(cmd))
        elif commands and line.strip():
            commands[-1].shown.append(line)
        i += 1
    return commands


_TIME = re.compile(r"\d{4}-\d\d-\d\d([ T]\d\d:\d\d(:\d\d(\.\d+)?)?(\+00:00|Z)?)?")
_HEX = re.compile(r"\b[0-9a-f]{7,40}\b")


def normalize(line: str) -> str:
    """A shown or printed line with what differs run to run (times, hashes, spacing) masked."""
    line = _HEX.sub("<hex>", _TIME.sub("<time>", line))
    return " ".join(line.split())


def matches(shown: list[str], printed: list[str]) -> bool:
    """``printed`` is what ``shown`` shows: line by line, ``…`` in a shown line standing for
    any text."""
    if len(shown) != len(printed):
        return False
    for want, got in zip(shown, printed, strict=True):
        parts = [re.escape(p) for p in re.split(r"…|\.\.\.", normalize(want))]
        if not re.fullmatch(".*".join(parts), normalize(got)):
            return False
    return True
