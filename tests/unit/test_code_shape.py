"""The shape the codebase promises (issue 7): small modules and functions, one door.

* no module over 400 lines; no function over 60 lines;
* no function with more than 7 parameters, except click command functions (their
  parameters are the command's options), the public managers' methods and the public
  training callbacks' constructors, whose keyword-only parameters are the documented API;
* no ``print(`` in the library outside ``cpv/cli/``; every exception class in
  ``cpv/domain/errors.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cpv"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "templates" not in p.parts)
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_PARAMETERS = 7
PUBLIC_CONSTRUCTORS = {
    "cpv/integrations/plain.py",  # versioning(...)
    "cpv/integrations/transformers.py",  # CpvCallback(...)
    "cpv/integrations/lightning.py",  # CpvLightningCallback(...)
}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def _is_click_command(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Decorated with click (``@cli.command``, ``@click.option``…)."""
    for deco in fn.decorator_list:
        text = ast.unparse(deco)
        if "click." in text or ".command" in text or ".group" in text:
            return True
    return False


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_module_is_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_rel(path)} has {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_functions_are_short_and_take_few_parameters(path: Path) -> None:
    problems = []
    for fn in _functions(_tree(path)):
        length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
        if length > MAX_FUNCTION_LINES:
            problems.append(f"{fn.name} (line {fn.lineno}) is {length} lines")
        args = fn.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        count = len([a for a in params if a.arg not in ("self", "cls")])
        exempt = (
            _is_click_command(fn)
            or _rel(path) == "cpv/api/managers.py"
            or (fn.name == "__init__" and _rel(path) in PUBLIC_CONSTRUCTORS)
        )
        if count > MAX_PARAMETERS and not exempt:
            problems.append(f"{fn.name} (line {fn.lineno}) takes {count} parameters")
    assert not problems, f"{_rel(path)}: " + "; ".join(problems)


@pytest.mark.parametrize("path", [p for p in MODULES if "cli" not in p.parts], ids=_rel)
def test_library_never_prints(path: Path) -> None:
    calls = [
        n.lineno
        for n in ast.walk(_tree(path))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
    ]
    assert not calls, f"{_rel(path)} calls print() on line(s) {calls}"


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "errors.py"], ids=_rel)
def test_exceptions_live_in_errors_module(path: Path) -> None:
    import cpv.domain.errors

    ours = {name for name, value in vars(cpv.domain.errors).items() if isinstance(value, type)}

    def is_exception(base: ast.expr) -> bool:
        name = ast.unparse(base).rsplit(".", 1)[-1]
        return name in ours or name.endswith(("Error", "Exception"))

    classes = [
        n.name
        for n in ast.walk(_tree(path))
        if isinstance(n, ast.ClassDef)
        and (n.name.endswith(("Error", "Exception")) or any(map(is_exception, n.bases)))
    ]
    assert not classes, f"{_rel(path)} defines {classes}: move them to cpv/domain/errors.py"
