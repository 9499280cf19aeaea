"""Every version of a moved model is read from where the model's bytes are now.

``cpv remote set`` commits the new storage URL in ``.dvc/config``; the commits of versions
made before it still name the old storage, and DVC reads the checked-out commit's file. So
once a model has moved, cpv writes the newest storage (its ``remote "storage"`` section) into
``.dvc/config.local``: untracked, kept across checkouts, and read by DVC over
``.dvc/config``. Then ``git checkout model/v0.1 && dvc pull`` (and cpv itself) fetch from the
new storage. "Newest" is the committed ``.dvc/config`` of the current branch, or of its
remote-tracking ref when that is ahead (a teammate moved the model and this clone fetched
it). A model that never moved gets no ``config.local`` entry; on a detached HEAD the entry
is left as it is.

A plain ``git clone`` has no ``config.local``; its user runs once
``git show origin/HEAD:.dvc/config > .dvc/config.local`` (docs/lifecycle.md).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import TYPE_CHECKING

from cpv._dvc.repo import REMOTE
from cpv._git.repo import GitRepo
from cpv.domain.errors import CpvError
from cpv.settings.config import GIT_REMOTE_NAME

if TYPE_CHECKING:
    pass

_SECTION = f"'remote \"{REMOTE}\"'"
_CONFIG = ".dvc/config"


def pin_newest(root: Path) -> dict[str, str] | None:
    """Write the newest committed storage into ``root``'s ``.dvc/config.local`` when the
    model has moved (its ``.dvc/config`` changed after the first commit). Returns the
    settings pinned (None: nothing to pin). Best effort: a repository git cannot read is
    left as it is."""
    git = GitRepo(root)
    try:
        newest = _newest_ref(git)
        if newest is None or not _moved(git, newest):
            return None
        settings = _remote_section(git.run("show", f"{newest}:{_CONFIG}"))
    except CpvError:
        return None
    if not settings.get("url"):
        return None
    _write_local(root / ".dvc" / "config.local", settings)
    return settings


def follow(root: Path) -> Path:
    """Keep a pin made before up to date (a teammate's later move, brought in by plain
    ``git pull``); a model never pinned costs nothing here. Returns ``root``."""
    if (root / ".dvc" / "config.local").is_file():
        pin_newest(root)
    return root


def _newest_ref(git: GitRepo) -> str | None:
    """The current branch, or its remote-tracking ref when that is ahead of it; None on a
    detached HEAD or before the first commit."""
    try:
        branch = git.current_branch()
    except CpvError:
        return None
    tip = git.resolve(f"refs/heads/{branch}")
    if not tip:
        return None
    tracking = git.resolve(f"refs/remotes/{GIT_REMOTE_NAME}/{branch}")
    if tracking and tracking != tip and git.is_ancestor(tip, tracking):
        return tracking
    return tip


def _moved(git: GitRepo, ref: str) -> bool:
    """``.dvc/config`` was changed by a commit after the one that made it."""
    out = git.run("rev-list", "--max-count=2", ref, "--", _CONFIG)
    return len(out.split()) > 1


def _remote_section(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return {}
    for section in parser.sections():
        if section.strip("'").replace('"', "") == f"remote {REMOTE}":
            return dict(parser[section])
    return {}


def _write_local(path: Path, settings: dict[str, str]) -> None:
    """Set the ``remote "storage"`` section of ``config.local`` to ``settings``, keeping any
    other section the user wrote there; unchanged content is not rewritten."""
    kept: list[str] = []
    current: dict[str, str] = {}
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        current = _remote_section(text)
        kept = _other_sections(text)
    if current == settings:
        return
    lines = [*kept, f"[{_SECTION}]", *(f"    {k} = {v}" for k, v in settings.items())]
    tmp = path.with_name(f".config.local.{os.getpid()}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _other_sections(text: str) -> list[str]:
    """The lines of every section but ``remote "storage"``."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1].strip("'").replace('"', "")
            skipping = name == f"remote {REMOTE}"
        if not skipping:
            out.append(line)
    return out
