"""The layers of ``cpv/`` hold, checked from the source (every import, those inside
functions included), not by review. ``docs/architecture.md`` states the rules; this test is
their enforcement:

* no import cycle between modules (imports under ``if TYPE_CHECKING:`` are annotations, not
  imports, and are not counted anywhere);
* each module imports only modules of its own layer or the layers below it;
* a command (``cpv/ops/<command>.py``) never imports another command, and only the door
  (``cpv/api/``, ``cpv/__init__.py``) and the command line import commands;
* the training integrations import only the public API (``cpv``, ``cpv.api``, the result and
  error types of ``cpv.domain``) and their own package;
* no private name (``_name``) is imported from another module;
* third-party libraries with an adapter are imported only by that adapter.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "cpv"

# Lowest first. A module belongs to the longest prefix listed.
LAYERS: list[tuple[str, ...]] = [
    ("cpv.domain", "cpv._faults", "cpv._version"),
    ("cpv._s3",),  # needs only the domain; settings ask it for the AWS profiles
    ("cpv.settings",),
    ("cpv.objects.layout", "cpv.tensors"),  # the formats themselves (DVC's layout, tensors)
    ("cpv._git", "cpv._dvc"),  # git needs the user's SSH key (settings)
    ("cpv.objects",),
    ("cpv.core",),
    ("cpv.catalog", "cpv.notify", "cpv.report"),
    ("cpv.ops",),
    ("cpv.api", "cpv"),
    ("cpv.integrations",),
    ("cpv.cli", "cpv.__main__"),
]
ADAPTED = {
    "dvc": "cpv._dvc",
    "dvc_data": "cpv._dvc",
    "boto3": "cpv._s3",
    "botocore": "cpv._s3",
    "s3transfer": "cpv._s3",
    "matplotlib": "cpv.report.charts",
    "git": "(nowhere: cpv runs git's CLI through cpv._git)",
}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {
    _name(p): p
    for p in PACKAGE.rglob("*.py")
    if "templates" not in p.parts and "__pycache__" not in p.parts
}


def layer_of(module: str) -> int:
    best, rank = "", -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, rank = prefix, i
    assert rank >= 0, (
        f"{module} is in no layer: add its package to LAYERS and to docs/architecture.md"
    )
    return rank


@functools.cache
def imports_of(module: str) -> tuple[tuple[str, str | None, int], ...]:
    return tuple(_imports_of(module))


def _imports_of(module: str) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for stmt in node.body
        for child in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue  # annotations only: not an import when the code runs
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno
                else:
                    yield base, alias.name, node.lineno


def internal_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module in MODULES:
        for target, _, _ in imports_of(module):
            if target in MODULES and target != module:
                edges[module].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def _is_op(module: str) -> bool:
    return module.startswith("cpv.ops.")


def test_there_is_no_import_cycle() -> None:
    assert cycles(internal_edges()) == []


def test_imports_run_down_the_layers() -> None:
    upward = [
        f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
        for m, targets in internal_edges().items()
        for t in sorted(targets)
        if layer_of(t) > layer_of(m)
    ]
    assert upward == []


def test_commands_are_leaves() -> None:
    bad = [
        f"{m} imports {t}"
        for m, targets in internal_edges().items()
        for t in sorted(targets)
        if _is_op(t) and (_is_op(m) or not (m == "cpv" or m.startswith(("cpv.api.", "cpv.cli."))))
    ]
    assert bad == []


PUBLIC_FOR_INTEGRATIONS = ("cpv", "cpv.api", "cpv.domain")


def test_integrations_use_only_the_public_api() -> None:
    bad = [
        f"{m} imports {t}"
        for m, targets in internal_edges().items()
        if m.startswith("cpv.integrations")
        for t in sorted(targets)
        if not t.startswith("cpv.integrations")
        and not any(
            t == p or (p != "cpv" and t.startswith(p + ".")) for p in PUBLIC_FOR_INTEGRATIONS
        )
    ]
    assert bad == []


def test_no_private_name_crosses_modules() -> None:
    bad = [
        f"{m}:{line} imports {name} from {target}"
        for m in MODULES
        for target, name, line in imports_of(m)
        if name and name.startswith("_") and not name.startswith("__") and target.startswith("cpv")
    ]
    assert bad == []


def test_adapted_libraries_are_imported_only_by_their_adapter() -> None:
    bad = []
    for m in MODULES:
        for target, _, line in imports_of(m):
            top = target.split(".")[0]
            owner = ADAPTED.get(top)
            if owner and not (m == owner or m.startswith(owner + ".")):
                bad.append(f"{m}:{line} imports {target} (only {owner} may)")
    assert bad == []


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, set[str]], expected: list) -> None:
    assert cycles(edges) == expected


def test_the_version_is_stated_once_more_in_pyproject_only() -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from cpv._version import __version__

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == __version__


def longest_chain(edges: dict[str, set[str]], start: str) -> list[str]:
    """The longest import chain from ``start`` (the graph has no cycle: the test above)."""
    memo: dict[str, list[str]] = {}

    def walk(m: str) -> list[str]:
        if m not in memo:
            memo[m] = [m] + max((walk(t) for t in edges[m]), key=len, default=[])
        return memo[m]

    return walk(start)


if __name__ == "__main__":  # python tests/unit/test_layers.py: the figures of the layout
    from collections import Counter

    graph = internal_edges()
    per_folder = Counter(str(p.parent.relative_to(ROOT)) for p in MODULES.values())
    print("modules per folder:", dict(sorted(per_folder.items())))
    print("import cycles:", len(cycles(graph)))
    print("imports up the layers:", sum(layer_of(t) > layer_of(m) for m in graph for t in graph[m]))
    print("op -> op imports:", sum(_is_op(m) and _is_op(t) for m in graph for t in graph[m]))
    for start in ("cpv.cli.commands.sync", "cpv.ops.push"):
        chain = longest_chain(graph, start)
        folders = [str(MODULES[m].parent.relative_to(ROOT)) for m in chain]
        hops = [f for i, f in enumerate(folders) if i == 0 or folders[i - 1] != f]
        print(f"longest import chain from {start}: {len(chain)} modules; {' -> '.join(hops)}")
