"""The transfer seam: how objects reach and leave the remote.

Everything that moves bytes to or from storage goes through :func:`get_transfer`. Today the
implementation is DVC's own push/fetch; a faster one (e.g. tuned boto3 multipart) can replace
it here while keeping the remote in the layout plain DVC reads (``files/md5/xx/yyyy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from cpv import _dvc
from cpv.config import load_user_config
from cpv.credentials import applied_env, boto_env, remote_runtime_config


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


def _runtime(root: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """In-memory credentials for the repository's current remote, and non-secret env."""

    cfg = load_user_config()
    return remote_runtime_config(cfg, remote_url=_dvc.remote_url(root)), boto_env(cfg)


class DvcTransfer:
    """Objects moved by DVC itself, credentials passed in memory (never written)."""

    def push(self, root: Path, *, revs: list[str], jobs: int | None) -> int:
        remote_config, env = _runtime(root)
        with applied_env(env):
            return _dvc.push(root, revs=revs, jobs=jobs, remote_config=remote_config)

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
    ) -> int:
        remote_config, env = _runtime(root)
        with applied_env(env):
            return _dvc.fetch(
                root, revs=revs, jobs=jobs, remote_config=remote_config, targets=targets
            )


def get_transfer() -> Transfer:
    return DvcTransfer()
