"""What ``cpv status`` and ``cpv push --dry-run`` say is not published yet: one line per
kind of ref (versions, alias moves, demotes, removals), only the kinds there are."""

from __future__ import annotations

from cpv.cli.render.console import say
from cpv.domain.results import PendingMove, Unpublished


def _clean(text: str) -> str:
    """A name read from git (an alias move's message): no control character reaches the
    terminal."""
    return "".join(c for c in text if c.isprintable())


def _move(m: PendingMove) -> str:
    if m.action == "demote":
        return f"{m.ref} ({_clean(m.alias)} demoted)"
    if m.tag:
        return f"{m.ref} ({_clean(m.alias)} -> {_clean(m.tag)})"
    return m.ref


def kind_lines(u: Unpublished, *, indent: str = "    ") -> None:
    """Each kind of unpublished ref on its own line, under the summary line."""
    rows = [
        ("version(s)", u.versions),
        ("alias move(s)", [_move(m) for m in u.alias_moves]),
        ("demote(s)", [_move(m) for m in u.demotes]),
        ("removal(s)", u.removals),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, names in rows:
        if names:
            say(f"{indent}{len(names)} {(label + ':').ljust(width)} {' '.join(names)}")


def status_remote(u: Unpublished, *, behind: int | None) -> None:
    """``cpv status``: the tags and commits the remote lacks, then each kind."""
    ahead = "?" if u.branch_commits is None else u.branch_commits
    later = "?" if behind is None else behind
    say(
        f"  unpushed: {u.tag_count} tag(s); "
        f"branch {ahead} commit(s) ahead, {later} behind the remote"
    )
    kind_lines(u)


def push_dry_run(u: Unpublished, *, branch: str, objects: int) -> None:
    """``cpv push --dry-run``: what the push would send, each kind of ref listed."""
    commits = "" if u.branch_commits is None else f" ({u.branch_commits} commit(s))"
    say(
        f"would push {u.tag_count} tag(s) and branch {branch}{commits}; "
        f"would upload {objects} object(s)"
    )
    kind_lines(u, indent="  ")
