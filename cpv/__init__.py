"""cpv: checkpoint versioning for ML teams.

One Git repository per model; weights (``checkpoints/``) and data (``data/``) tracked by
DVC on an S3-compatible remote; every version an annotated git tag with its metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpv._version import __version__

# Public names, imported lazily so that `import cpv` (and `cpv --help`) stays fast.
_EXPORTS = {
    "ModelCheckpoints": "cpv.api.managers",
    "DataCheckpoints": "cpv.api.managers",
    "CombinedCheckpoints": "cpv.api.managers",
    "CheckpointManager": "cpv.api.managers",
    "manager_for": "cpv.api.managers",
    "Progress": "cpv.domain.progress",
    "NoProgress": "cpv.domain.progress",
    "init_repository": "cpv.ops.init",
    "ModelRepo": "cpv.core.repo",
    "clone": "cpv.ops.pull",
    "get": "cpv.ops.get",
    "GetResult": "cpv.ops.get",
    "push": "cpv.ops.push",
    "VersionRecord": "cpv.domain.metadata",
    "TagResult": "cpv.domain.results",
    "RevertResult": "cpv.domain.results",
    "PushResult": "cpv.domain.results",
    "PullResult": "cpv.domain.results",
    "StatusResult": "cpv.domain.results",
    "DiffResult": "cpv.domain.results",
    "MoveResult": "cpv.domain.results",
    "InitResult": "cpv.domain.results",
    "StorageState": "cpv.domain.results",
    "Version": "cpv.domain.versions",
    "Kind": "cpv.domain.versions",
    "CpvError": "cpv.domain.errors",
}

if TYPE_CHECKING:
    from cpv.api.managers import (
        CheckpointManager,
        CombinedCheckpoints,
        DataCheckpoints,
        ModelCheckpoints,
        manager_for,
    )
    from cpv.core.repo import ModelRepo
    from cpv.domain.errors import CpvError
    from cpv.domain.metadata import VersionRecord
    from cpv.domain.progress import NoProgress, Progress
    from cpv.domain.results import (
        DiffResult,
        InitResult,
        MoveResult,
        PullResult,
        PushResult,
        RevertResult,
        StatusResult,
        StorageState,
        TagResult,
    )
    from cpv.domain.versions import Kind, Version
    from cpv.ops.get import GetResult, get
    from cpv.ops.init import init_repository
    from cpv.ops.pull import clone
    from cpv.ops.push import push

__all__ = [
    "CheckpointManager",
    "CombinedCheckpoints",
    "CpvError",
    "DataCheckpoints",
    "DiffResult",
    "GetResult",
    "InitResult",
    "Kind",
    "ModelCheckpoints",
    "ModelRepo",
    "MoveResult",
    "NoProgress",
    "Progress",
    "PullResult",
    "PushResult",
    "RevertResult",
    "StatusResult",
    "StorageState",
    "TagResult",
    "Version",
    "VersionRecord",
    "__version__",
    "clone",
    "get",
    "init_repository",
    "manager_for",
    "push",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cpv' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
