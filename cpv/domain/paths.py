"""Paths: the type every public parameter naming a file takes (str or os.PathLike), and
cpv's own home ($CPV_HOME)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

#: What every public parameter that names a file or folder accepts.
StrPath: TypeAlias = str | os.PathLike[str]


def as_path(value: StrPath) -> Path:
    """``value`` as a :class:`~pathlib.Path` with ``~`` expanded (not resolved)."""
    return Path(os.fspath(value)).expanduser()


def cpv_home() -> Path:
    """``$CPV_HOME``, default ``~/.cpv`` (created on demand by writers, not here)."""
    env = os.environ.get("CPV_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cpv"
