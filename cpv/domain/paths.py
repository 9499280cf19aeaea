"""Paths as the public API takes them: a ``str`` or any ``os.PathLike`` (``pathlib.Path``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeAlias

#: What every public parameter that names a file or folder accepts.
StrPath: TypeAlias = str | os.PathLike[str]


def as_path(value: StrPath) -> Path:
    """``value`` as a :class:`~pathlib.Path` with ``~`` expanded (not resolved)."""
    return Path(os.fspath(value)).expanduser()
