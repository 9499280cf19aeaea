"""The transfer seam: how objects reach and leave the remote.

Everything that moves bytes to or from storage goes through :func:`get_transfer`. Today the
implementation is DVC's own push/fetch; a faster one (e.g. tuned boto3 multipart) can replace
it here while keeping the remote in the layout plain DVC reads (``files/md5/xx/yyyy``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from cpv import _dvc
from cpv.config import load_user_config


class Transfer(Protocol):
    def push(self, root: Path, *, revs: list[str], jobs: int | None) -> int: ...

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
    ) -> int: ...


@contextmanager
def _runtime_env(env: dict[str, str]) -> Iterator[None]:
    """Non-secret settings (e.g. checksum mode) for in-process boto3/DVC calls."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _runtime() -> tuple[dict[str, Any] | None, dict[str, str]]:
    try:
        from cpv.credentials import boto_env, remote_runtime_config
    except ImportError:  # configure support not installed in this build
        return None, {}
    cfg = load_user_config()
    return (remote_runtime_config(cfg) or None), boto_env(cfg)


class DvcTransfer:
    """Objects moved by DVC itself, credentials passed in memory (never written)."""

    def push(self, root: Path, *, revs: list[str], jobs: int | None) -> int:
        remote_config, env = _runtime()
        with _runtime_env(env):
            return _dvc.push(root, revs=revs, jobs=jobs, remote_config=remote_config)

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
    ) -> int:
        remote_config, env = _runtime()
        with _runtime_env(env):
            return _dvc.fetch(
                root, revs=revs, jobs=jobs, remote_config=remote_config, targets=targets
            )


def get_transfer() -> Transfer:
    return DvcTransfer()
