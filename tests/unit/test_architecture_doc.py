"""``docs/architecture.md`` cannot drift: its tree names every module of ``cpv/`` (one line
each, with what it holds) and nothing that is gone."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
_ENTRY = re.compile(r"^(\s*)(\S+?)(/?)(?:\s{2,}(.*))?$")


def _tree_block() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## The tree", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.strip()]


def _documented() -> dict[str, str]:
    """Path (relative to the repository) -> its description, from the indented tree."""
    out: dict[str, str] = {}
    parents: list[tuple[int, str]] = []
    for line in _tree_block():
        match = _ENTRY.match(line)
        assert match, f"unreadable tree line: {line!r}"
        indent, name, slash, description = len(match[1]), match[2], match[3], match[4] or ""
        parents = [(i, p) for i, p in parents if i < indent]
        path = "/".join([p for _, p in parents] + [name])
        if slash:
            parents.append((indent, name))
        else:
            out[path] = description.strip()
    return out


def test_every_module_is_in_the_tree_with_what_it_holds() -> None:
    modules = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "cpv").rglob("*.py")
        if "templates" not in p.parts and "__pycache__" not in p.parts
    }
    documented = _documented()
    listed = {path for path in documented if path.startswith("cpv/")}
    assert not modules - listed, f"missing from docs/architecture.md: {sorted(modules - listed)}"
    assert not listed - modules, f"gone, still in docs/architecture.md: {sorted(listed - modules)}"
    assert all(documented[m] for m in modules), "every module line says what it holds"


def test_every_file_a_command_passes_through_exists() -> None:
    text = DOC.read_text(encoding="utf-8").split("## What a command passes through", 1)[1]
    named = set(re.findall(r"`(cpv/[\w/]+\.py)`", text))
    assert named and all((ROOT / path).is_file() for path in named), sorted(
        p for p in named if not (ROOT / p).is_file()
    )
