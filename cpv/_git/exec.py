"""Running git: one ``git`` process per call, ``LC_ALL=C`` so that git's words are English
(:mod:`cpv._git.errors` reads them), and the calls that need no repository (find one, make
a bare one, list or clone a remote). :mod:`cpv._git.repo` builds a repository's operations on
:func:`git_exec`. A failure is a :class:`GitFailure` (``subprocess.CalledProcessError``)
that never leaves the git adapter: it becomes a :mod:`cpv.domain.errors` type first.

GitPython did this until its import (~40 ms) and a ``Repo`` opened per call were measured
as a tenth of a small ``cpv push``'s own time.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from cpv._git.errors import remote_error
from cpv.domain.errors import GitError, GitLockedError

GitFailure = subprocess.CalledProcessError


#: The storage credentials cpv reads from the environment (cpv/settings/config_env.py).
_CPV_SECRETS = ("CPV_ACCESS_KEY_ID", "CPV_SECRET_ACCESS_KEY", "CPV_SESSION_TOKEN")


def git_bytes(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> bytes:
    """``git ARGS``'s stdout, byte for byte (the one place cpv starts git).

    Raises:
        subprocess.CalledProcessError: git exited non-zero or could not be started (its
            ``returncode``, and ``stdout`` and ``stderr`` as text).
    """
    full_env = {**os.environ, **(env or {}), "LC_ALL": "C", "LANGUAGE": "C"}
    for name in _CPV_SECRETS:  # cpv's own storage keys: git, its hooks and ssh never need them
        full_env.pop(name, None)
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin if stdin is not None else b"",
            capture_output=True,
            env=full_env,
            check=False,
        )
    except OSError as exc:  # no git, or ``cwd`` is gone
        raise GitFailure(127, ["git", *args], "", str(exc)) from None
    if done.returncode:
        raise GitFailure(
            done.returncode,
            ["git", *args],
            done.stdout.decode("utf-8", "replace"),
            done.stderr.decode("utf-8", "replace"),
        )
    return done.stdout


def git_exec(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> str:
    """:func:`git_bytes` as text, one trailing newline dropped."""
    out = git_bytes(args, cwd=cwd, env=env, stdin=stdin).decode("utf-8", "replace")
    return out[:-1] if out.endswith("\n") else out


_LOCK_FILE = re.compile(r"Unable to create '([^']+\.lock)': File exists")


def git_error(exc: GitFailure, what: str) -> GitError:
    stderr = (exc.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    locked = _LOCK_FILE.search(stderr)
    if locked:  # git's closing line ("remove the file manually") does not say which file
        return GitLockedError(f"{what} failed: {locked.group(1)} exists", path=locked.group(1))
    last = stderr.splitlines()[-1] if stderr else str(exc.returncode)
    return GitError(f"{what} failed: {last}")


def network_env() -> dict[str, str]:
    """Environment for git commands that reach a remote (SSH key from the user config)."""
    from cpv.settings.config_env import load_user_config

    env: dict[str, str] = {"GIT_TERMINAL_PROMPT": "0"}
    key = load_user_config().git.ssh_key
    if key and "GIT_SSH_COMMAND" not in os.environ:
        # git runs GIT_SSH_COMMAND through a shell, so the key path never goes into it: it
        # travels as data in CPV_SSH_KEY, whose "$…" expansion the shell does not re-read
        # (a path like '$(touch pwned)' stays a file name). StrictHostKeyChecking=yes: an
        # unknown or changed host key is never accepted silently.
        env["CPV_SSH_KEY"] = str(Path(key).expanduser())
        env["GIT_SSH_COMMAND"] = (
            'ssh -i "$CPV_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes '
            "-o StrictHostKeyChecking=yes"
        )
    return env


def find_root(start: Path) -> Path | None:
    """The working tree ``start`` is in (None: in none, or in a bare repository)."""
    if not start.is_dir():
        return None
    try:
        top = git_exec(["rev-parse", "--show-toplevel"], cwd=start)
    except GitFailure as exc:
        if "dubious ownership" in exc.stderr:  # a repository git will not work in
            advice = [ln.strip() for ln in exc.stderr.splitlines() if "safe.directory" in ln]
            command = advice[-1] if advice else "git config --global --add safe.directory PATH"
            raise GitError(
                f"git refuses to work in {start}: it belongs to another user",
                hint=f"If you trust it: {command}; then run the command again.",
            ) from None
        return None
    return Path(top) if top else None


def init_bare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        git_exec(["init", "-q", "--bare", "--initial-branch=main", str(path)])
    except GitFailure as exc:
        raise git_error(exc, "git init") from exc


def refuse_option(url: str) -> None:
    """A remote URL is never read as an option (``--upload-pack=…`` runs a command)."""
    if url.startswith("-"):
        raise GitError(
            f"{url!r} is not a git remote URL", hint="Give a URL or a path to a git repository."
        )


def ls_remote(url: str, *patterns: str) -> dict[str, str]:
    """refname -> sha on a remote URL (peeled ``^{}`` entries included as such)."""
    refuse_option(url)
    try:
        out = git_exec(["ls-remote", url, *patterns], env=network_env())
    except GitFailure as exc:
        raise remote_error(exc, url) from exc
    refs: dict[str, str] = {}
    for line in str(out).splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            refs[ref] = sha
    return refs


def clone(url: str, dest: Path) -> None:
    refuse_option(url)
    try:
        git_exec(["clone", "-q", "--", url, str(dest)], env=network_env())
    except GitFailure as exc:
        raise remote_error(exc, url) from exc
