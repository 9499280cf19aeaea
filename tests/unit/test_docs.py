"""Docs that cannot drift: every command, option, argument and public manager member is
documented, in its own place, and nothing documented there is gone from the code.

``docs/cli.md``
    One ``## cpv <command path>`` heading per command and group (``## cpv`` for the global
    options, ``## cpv remote set`` for a subcommand). The section runs to the next heading of
    level 1 or 2. In it every argument and option has a bullet whose first code span starts
    with its name: ``- `KIND`: ...``, ``- `--bump minor|major`: ...``,
    ``- `-j N`, `--jobs N`: ...``. An option is named by its long form (``--dry-run``), or
    its short form when it has none (``-C``); an argument by its metavar, else its name in
    capitals (``VERSION_A``). A bullet naming an option the command does not have fails.

``docs/python-api.md``
    One ``###`` heading per public method or property of ``ModelCheckpoints``,
    ``DataCheckpoints`` and ``CombinedCheckpoints`` (public: no leading underscore; found
    with :mod:`inspect`, so new members are picked up). The heading is ```Class.member``` or,
    for members shared by several managers, ```member``` under a ``##`` heading that names
    those classes in code spans. Module functions exported by ``cpv`` (``cpv.push``) get a
    ```cpv.name``` heading. The section, up to the next heading of level 1 to 3, has a line
    ``Returns: `<the return annotation, verbatim>` ...`` and a line ``Raises: ...``; exception
    names in code spans on the Raises line must exist; every parameter is named in a code
    span (the signature line counts).
"""

from __future__ import annotations

import builtins
import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest

import cpv
import cpv.domain.errors
from cpv.api.managers import CombinedCheckpoints, DataCheckpoints, ModelCheckpoints
from cpv.cli.main import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"
CLI_DOC = DOCS / "cli.md"
API_DOC = DOCS / "python-api.md"
MANAGERS = (ModelCheckpoints, DataCheckpoints, CombinedCheckpoints)
MANAGER_NAMES = {cls.__name__ for cls in MANAGERS}
HELP_FLAGS = {"-h", "--help"}  # implicit on every command

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`([^`]+)`")
_BULLET = re.compile(r"^\s*[-*]\s+((?:`[^`]+`\s*(?:,|/|or)?\s*)+)")
_EXCEPTION_NAME = re.compile(r"^[A-Z]\w*(Error|Exception|Interrupt|Exit|Failed|Fault)$")


@dataclass
class Section:
    level: int
    title: str
    line: int
    lines: list[str] = field(default_factory=list)
    parent: Section | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def sections(path: Path) -> list[Section]:
    """Every heading of a markdown file with the lines up to the next heading of the same
    or a higher level (subsections included). Headings inside code fences do not count."""
    out: list[Section] = []
    open_: list[Section] = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            level = len(match.group(1))
            while open_ and open_[-1].level >= level:
                open_.pop()
            section = Section(level, match.group(2), number, parent=open_[-1] if open_ else None)
            out.append(section)
            open_.append(section)
            continue
        for section in open_:
            section.lines.append(line)
    return out


def bullet_terms(text: str) -> list[str]:
    """The names a section's bullets define: the first word of each leading code span."""
    terms = []
    for line in text.splitlines():
        match = _BULLET.match(line)
        if match:
            terms.extend(span.split()[0] for span in _CODE_SPAN.findall(match.group(1)))
    return terms


# --- the CLI ------------------------------------------------------------------------------


def walk_commands(command: click.Command, path: str = "cpv") -> Iterator[tuple[str, click.Command]]:
    if command.hidden:
        return
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from walk_commands(command.commands[name], f"{path} {name}")


COMMANDS = dict(walk_commands(cli))


def option_name(option: click.Option) -> str:
    longs = [o for o in option.opts if o.startswith("--")]
    return longs[0] if longs else option.opts[0]


def argument_name(argument: click.Argument) -> str:
    return argument.metavar or (argument.name or "").upper()


def cli_sections() -> dict[str, Section]:
    found: dict[str, Section] = {}
    for section in sections(CLI_DOC):
        title = section.title.strip("` ")
        if section.level == 2 and (title == "cpv" or title.startswith("cpv ")):
            assert title not in found, (
                f"docs/cli.md: two '## {title}' sections (lines {found[title].line} and "
                f"{section.line})"
            )
            found[title] = section
    return found


def test_the_command_tree_includes_the_registered_groups() -> None:
    """The walk itself must see commands added from setup_cmds.py and template_cmds.py."""
    for path in ("cpv tag", "cpv configure", "cpv doctor", "cpv remote set", "cpv templates"):
        assert path in COMMANDS, f"{path} is not in the command tree the docs test walks"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_its_own_section(path: str) -> None:
    assert path in cli_sections(), (
        f"docs/cli.md has no '## {path}' section; add one documenting "
        f"`{path}`: what it does, its arguments and options as bullets"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_argument_and_option_is_documented_in_its_commands_section(path: str) -> None:
    section = cli_sections().get(path)
    if section is None:
        pytest.skip(f"no '## {path}' section (reported by test_every_command_has_its_own_section)")
    documented = set(bullet_terms(section.text))
    missing = []
    for param in COMMANDS[path].params:
        if isinstance(param, click.Option) and not param.hidden:
            name = option_name(param)
            if name not in documented:
                missing.append(f"option {name}")
        elif isinstance(param, click.Argument):
            name = argument_name(param)
            if name not in documented:
                missing.append(f"argument {name}")
    assert not missing, (
        f"docs/cli.md, section '## {path}' (line {section.line}) has no bullet for: "
        + ", ".join(missing)
        + " (write e.g. '- `--dry-run`: what it does' or '- `KIND`: ...')"
    )


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_no_section_documents_an_option_its_command_lacks(path: str) -> None:
    section = cli_sections().get(path)
    if section is None:
        pytest.skip(f"no '## {path}' section")
    known = set(HELP_FLAGS)
    for param in COMMANDS[path].params:
        if isinstance(param, click.Option):
            known.update(param.opts, param.secondary_opts)
    stale = [t for t in bullet_terms(section.text) if t.startswith("-") and t not in known]
    assert not stale, (
        f"docs/cli.md, section '## {path}' (line {section.line}) documents options that "
        f"`{path}` does not have: {', '.join(stale)}"
    )


def test_no_section_documents_a_command_that_is_gone() -> None:
    stale = sorted(set(cli_sections()) - set(COMMANDS))
    assert not stale, f"docs/cli.md has sections for commands that do not exist: {stale}"


# --- the Python API -----------------------------------------------------------------------


def public_members(cls: type) -> dict[str, Callable[..., Any]]:
    """Public methods and properties (a property maps to its getter)."""
    members: dict[str, Callable[..., Any]] = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(value, property) and value.fget is not None:
            members[name] = value.fget
        elif inspect.isfunction(value) or inspect.ismethod(value):
            members[name] = value
    return members


def module_functions() -> dict[str, Callable[..., Any]]:
    """Functions ``cpv`` exports (``cpv.push``, ``cpv.clone``, ``cpv.init_repository``)."""
    out = {}
    for name in cpv.__all__:
        value = getattr(cpv, name)
        if inspect.isfunction(value):
            out[name] = value
    return out


def api_targets() -> list[tuple[str, str, Callable[..., Any]]]:
    """(owner, member, function) for every manager member and exported function."""
    targets = [
        (cls.__name__, name, fn) for cls in MANAGERS for name, fn in public_members(cls).items()
    ]
    targets += [("cpv", name, fn) for name, fn in module_functions().items()]
    return targets


API_TARGETS = {f"{owner}.{name}": fn for owner, name, fn in api_targets()}


def api_sections() -> dict[str, Section]:
    """``Owner.member`` -> the ``###`` section that documents it."""
    found: dict[str, Section] = {}
    for section in sections(API_DOC):
        if section.level != 3:
            continue
        head = section.title.strip().strip("`").split("(")[0].strip()
        if "." in head:
            found.setdefault(head, section)
            continue
        parent = section.parent
        owners = [] if parent is None else _CODE_SPAN.findall(parent.title)
        for owner in owners:
            if owner.strip() in MANAGER_NAMES:
                found.setdefault(f"{owner.strip()}.{head}", section)
    return found


def return_annotation(fn: Callable[..., Any]) -> str | None:
    annotation = inspect.signature(fn).return_annotation
    if annotation is inspect.Signature.empty:
        return None
    if not isinstance(annotation, str):
        annotation = inspect.formatannotation(annotation)
    return re.sub(r"\b(?:[a-z_]\w*\.)+(?=[A-Za-z_])", "", annotation)  # cpv.domain.results.X -> X


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_managers_have_public_members() -> None:
    """The walk must find the manager API at all (a guard against inspecting the wrong thing)."""
    for name in ("tag", "list", "latest", "show", "diff", "revert", "root"):
        assert f"ModelCheckpoints.{name}" in API_TARGETS, name


@pytest.mark.parametrize("target", sorted(API_TARGETS))
def test_every_public_member_is_documented(target: str) -> None:
    section = api_sections().get(target)
    owner, _, member = target.rpartition(".")
    assert section is not None, f"docs/python-api.md documents no `{target}`: add a " + (
        f"'### `{target}`' section"
        if owner == "cpv"
        else f"'### `{member}`' section under a '##' heading naming `{owner}`, or '### `{target}`'"
    )
    fn = API_TARGETS[target]
    where = f"docs/python-api.md, '### {section.title}' (line {section.line}), for `{target}`"
    lines = [line.strip() for line in section.lines]

    returns = [line for line in lines if line.startswith("Returns:")]
    assert returns, f"{where}: no 'Returns:' line"
    expected = return_annotation(fn)
    if expected is not None:
        spans = [_norm(s) for s in _CODE_SPAN.findall(returns[0])]
        assert _norm(expected) in spans, (
            f"{where}: the 'Returns:' line must name the return type `{expected}` in a code "
            f"span; it reads: {returns[0]!r}"
        )

    raises = [line for line in lines if line.startswith("Raises:")]
    assert raises, f"{where}: no 'Raises:' line (say what it raises, or 'Raises: nothing')"
    assert raises[0].removeprefix("Raises:").strip(), f"{where}: the 'Raises:' line is empty"
    unknown = [
        name
        for name in _CODE_SPAN.findall(raises[0])
        if _EXCEPTION_NAME.match(name)
        and not hasattr(cpv.domain.errors, name)
        and not hasattr(builtins, name)
    ]
    assert not unknown, f"{where}: the 'Raises:' line names exceptions that do not exist: {unknown}"

    if isinstance(inspect.getattr_static(_owner(owner), member, None), property):
        return  # a property has no parameters to list
    signatures = [
        span for span in _CODE_SPAN.findall(section.text) if re.match(rf"{member}\(.*\)$", span)
    ]
    assert signatures, f"{where}: no signature line, e.g. `{member}(...)` in a code span"
    params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
    documented = signature_params(signatures[0])
    missing = [p for p in params if p not in documented]
    extra = [p for p in documented if p not in params]
    assert not missing and not extra, (
        f"{where}: the signature `{signatures[0]}` does not match the code: "
        + "; ".join(
            part
            for part in (
                f"missing {missing}" if missing else "",
                f"no such parameter {extra}" if extra else "",
            )
            if part
        )
    )


def _owner(name: str) -> Any:
    return cpv if name == "cpv" else next(c for c in MANAGERS if c.__name__ == name)


def signature_params(signature: str) -> list[str]:
    """``tag(*, message="", kinds=(A, B))`` -> ``["message", "kinds"]``."""
    inner = signature[signature.index("(") + 1 : signature.rindex(")")]
    parts, depth, quote, current = [], 0, "", ""
    for char in inner:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    parts.append(current)
    names = [re.split(r"[=:]", part)[0].strip().lstrip("*") for part in parts]
    return [name for name in names if name and name != "/"]


def test_no_section_documents_a_member_that_is_gone() -> None:
    owners = MANAGER_NAMES | {"cpv"}
    stale = sorted(
        key for key in api_sections() if key.rpartition(".")[0] in owners and key not in API_TARGETS
    )
    assert not stale, f"docs/python-api.md documents members that do not exist: {stale}"


TEST_ONLY_ERRORS = {"InjectedFault"}  # raised by fault injection in tests, never for users


def test_every_error_class_is_in_the_errors_table() -> None:
    section = next((s for s in sections(API_DOC) if s.level == 2 and s.title == "Errors"), None)
    assert section is not None, "docs/python-api.md has no '## Errors' section"
    named = set(_CODE_SPAN.findall(section.text))
    classes = {
        name
        for name, value in vars(cpv.domain.errors).items()
        if inspect.isclass(value) and issubclass(value, cpv.domain.errors.CpvError)
    }
    missing = sorted(classes - named - TEST_ONLY_ERRORS - {"CpvError"})
    assert not missing, f"docs/python-api.md, '## Errors' does not list: {missing}"
    unknown = sorted(
        n
        for n in named
        if _EXCEPTION_NAME.match(n) and n not in classes and not hasattr(builtins, n)
    )
    assert not unknown, f"docs/python-api.md, '## Errors' lists errors that do not exist: {unknown}"
