"""cpv: checkpoint versioning for ML teams.

One Git repository per model; weights (``checkpoints/``) and data (``data/``) tracked by
DVC on an S3-compatible remote; every version an annotated git tag with its metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names, imported lazily so that `import cpv` (and `cpv --help`) stays fast.
_EXPORTS = {
    "ModelCheckpoints": "cpv.managers",
    "DataCheckpoints": "cpv.managers",
    "CombinedCheckpoints": "cpv.managers",
    "CheckpointManager": "cpv.managers",
    "manager_for": "cpv.managers",
    "Progress": "cpv.progress",
    "NoProgress": "cpv.progress",
    "init_repository": "cpv.ops.init",
    "ModelRepo": "cpv.repo",
    "clone": "cpv.ops.pull",
    "get": "cpv.ops.get",
    "GetResult": "cpv.ops.get",
    "push": "cpv.ops.push",
    "VersionRecord": "cpv.metadata",
    "TagResult": "cpv.results",
    "RevertResult": "cpv.results",
    "PushResult": "cpv.results",
    "PullResult": "cpv.results",
    "StatusResult": "cpv.results",
    "DiffResult": "cpv.results",
    "MoveResult": "cpv.results",
    "InitResult": "cpv.results",
    "StorageState": "cpv.results",
    "Version": "cpv.versions",
    "Kind": "cpv.versions",
    "CpvError": "cpv.errors",
}

if TYPE_CHECKING:
    from cpv.errors import CpvError
    from cpv.managers import (
        CheckpointManager,
        CombinedCheckpoints,
        DataCheckpoints,
        ModelCheckpoints,
        manager_for,
    )
    from cpv.metadata import VersionRecord
    from cpv.ops.get import GetResult, get
    from cpv.ops.init import init_repository
    from cpv.ops.pull import clone
    from cpv.ops.push import push
    from cpv.progress import NoProgress, Progress
    from cpv.repo import ModelRepo
    from cpv.results import (
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
    from cpv.versions import Kind, Version

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
