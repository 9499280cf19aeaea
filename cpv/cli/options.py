"""The options several commands share, spelled once. The convention (docs/cli.md, "One
shape for every command"):

- which kind: ``-k/--kind model|data|all`` (an option on every command that takes it);
- why: ``-m/--message TEXT`` (stored with the version, the move or the removal marker);
- "all": ``--all-versions`` (every version), ``--deleted`` (include deleted versions),
  ``--recursive`` (every model repository below this folder) — never a bare ``--all``;
- versions to act on are arguments (``VERSION``); a version *number to create* is
  ``--as V``; a version to check out where the arguments are taken is ``--ref REF``.
  ``--version`` is only ``cpv --version``;
- ``--json``, ``--dry-run``, ``--force``, ``-j/--jobs N`` mean the same everywhere.

The spellings of the previous release (``cpv tag all``, ``delete --why``, ``verify --all``,
``push --all``, ``tag --version``, ``clone --version``) still work for one release: each
prints one deprecation notice on stderr naming the new spelling (:func:`deprecated`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

KINDS = ("model", "data", "all")
ONE_KIND = ("model", "data")
_told: set[str] = set()


def deprecated(old: str, new: str) -> None:
    """One notice on stderr (once per spelling per process) that ``old`` is now ``new``."""
    if old in _told:
        return
    _told.add(old)
    from cpv.cli.render import base as render

    render.warning(f"`{old}` is deprecated and goes in the next release: use `{new}`.")


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def kind_option(
    *, choices: tuple[str, ...] = KINDS, default: str | None = None, help: str
) -> Callable[[F], F]:
    """``-k/--kind``: which kind's versions the command acts on."""
    return click.option(
        "-k",
        "--kind",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help=help,
    )


class _DeprecatedArgument(click.Argument):
    """A positional argument kept for one release: accepted, left out of the usage line."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []


def old_kind_argument(command: str) -> Callable[[F], F]:
    """The positional ``KIND`` of the previous release (``cpv tag all``), kept for one release.
    The command resolves it with :func:`resolve_kind`."""

    def note(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            deprecated(f"cpv {command} {value}", f"cpv {command} --kind {value}")
        return value

    return click.argument(
        "old_kind",
        metavar="KIND",
        required=False,
        type=click.Choice(KINDS),
        callback=note,
        cls=_DeprecatedArgument,
    )


def resolve_kind(kind: str | None, old_kind: str | None) -> str | None:
    """``--kind``, else the deprecated positional KIND; both and different is a usage error."""
    if kind is not None and old_kind is not None and kind != old_kind:
        from cpv.domain.errors import UsageError

        raise UsageError(
            f"two kinds given: --kind {kind} and {old_kind}",
            hint=f"Give only --kind {kind}.",
        )
    return kind or old_kind


def message_option(*, help: str, command: str = "") -> Callable[[F], F]:
    """``-m/--message TEXT`` (the reason); with ``command``, also its old ``--why``."""
    main = click.option("-m", "--message", default="", help=help)
    if not command:
        return main

    def note(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            deprecated(f"cpv {command} --why", f"cpv {command} -m TEXT")
        return value

    old = click.option(
        "--why",
        "old_why",
        default=None,
        hidden=True,
        callback=note,
        help="Deprecated spelling of -m/--message.",
    )
    return _stack(main, old)


def pick_message(message: str, old: str | None) -> str:
    return message or (old or "")


def json_option(what: str = "the result") -> Callable[[F], F]:
    """``--json``: exactly one JSON document on stdout."""
    return click.option("--json", "as_json", is_flag=True, help=f"Print {what} as JSON.")


def dry_run_option(what: str) -> Callable[[F], F]:
    """``--dry-run``: say what would happen, change nothing."""
    return click.option("--dry-run", is_flag=True, help=f"Show what would {what}; change nothing.")


def jobs_option(what: str) -> Callable[[F], F]:
    """``-j/--jobs N``: parallel transfers."""
    return click.option(
        "-j", "--jobs", type=click.IntRange(1, 256), default=None, help=f"Parallel {what}."
    )


def _old_all(command: str, new: str) -> Callable[[F], F]:
    """``--all`` of the previous release, hidden, read as ``new`` with a notice."""

    def note(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value and command != "list":  # list's --all has two meanings: told where resolved
            deprecated(f"cpv {command} --all", f"cpv {command} {new}")
        return value

    return click.option(
        "--all",
        "old_all",
        is_flag=True,
        hidden=True,
        callback=note,
        help=f"Deprecated spelling of {new}.",
    )


def recursive_option(command: str) -> Callable[[F], F]:
    """``--recursive``: the command in every model repository below this folder (not inside
    one); ``--all`` of the previous release kept for one release (on ``list`` it was also
    ``--deleted`` inside a repository)."""
    main = click.option(
        "--recursive",
        is_flag=True,
        help="In every model repository below this folder (not inside one).",
    )
    new = "--deleted (in a repository) or --recursive" if command == "list" else "--recursive"
    return _stack(main, _old_all(command, new))


def all_versions_option(command: str, *, help: str) -> Callable[[F], F]:
    """``--all-versions``: every version; ``--all`` of the previous release kept."""
    main = click.option("--all-versions", is_flag=True, help=help)
    return _stack(main, _old_all(command, "--all-versions"))


def old_version_option(command: str, new: str) -> Callable[[F], F]:
    """``--version V`` of the previous release on ``command``, hidden; now ``new``."""

    def note(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            deprecated(f"cpv {command} --version {value}", f"cpv {command} {new} {value}")
        return value

    return click.option(
        "--version",
        "old_version",
        default=None,
        hidden=True,
        callback=note,
        help=f"Deprecated spelling of {new}.",
    )


def either(new: str | None, old: str | None, *, names: str) -> str | None:
    """The value of an option or of its deprecated spelling; both and different: usage error."""
    if new is not None and old is not None and new != old:
        from cpv.domain.errors import UsageError

        raise UsageError(f"{names}: give one of them", hint=f"Use {names.split(' and ')[0]}.")
    return new if new is not None else old
