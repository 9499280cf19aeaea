"""The Python API: Model, Data and Combined checkpoint managers.

```python
from cpv import ModelCheckpoints
result = ModelCheckpoints(".").tag(metrics={"wer": 0.21}, message="lr 3e-4")
print(result.tag, result.version, result.size_mb)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cpv import restore, sync, views
from cpv.metadata import VersionRecord
from cpv.repo import ModelRepo
from cpv.results import DiffResult, PullResult, RevertResult, StatusResult, TagResult
from cpv.tagging import tag_versions
from cpv.versions import Kind, parse_version_arg


class _Manager:
    kinds: ClassVar[tuple[Kind, ...]]

    def __init__(self, path: str | Path = ".") -> None:
        self.repo = ModelRepo.open(path)

    @property
    def root(self) -> Path:
        return self.repo.root

    def tag(
        self,
        *,
        message: str = "",
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        version: str | None = None,
        bump: str = "minor",
        force: bool = False,
        dry_run: bool = False,
        source: Path | None = None,
    ) -> TagResult:
        """Make the next version from the workspace, atomically.

        Content identical to the latest version of this kind makes no new version
        (``result.created`` is False) unless ``force``.

        Args:
            message: what changed, stored with the version.
            metrics: numbers (or short strings) to store, e.g. ``{"wer": 0.21}``.
            params: hyperparameters to store alongside.
            version: an explicit version (``"v1.0"``); must be new and above the latest.
            bump: ``"minor"`` (default) or ``"major"``.
            force: tag unchanged content, or an explicit version below the latest.
            dry_run: compute and return the records without writing anything.
            source: (model only) a directory whose content becomes the checkpoint directory first.

        Raises:
            NothingToTagError, VersionExistsError, UsageError, LockTimeoutError.
        """
        return tag_versions(
            self.repo,
            self.kinds,
            message=message,
            metrics=metrics,
            params=params,
            version=version,
            bump=bump,
            force=force,
            dry_run=dry_run,
            source=source,
        )

    def list(self) -> list[VersionRecord]:
        """Every version of this manager's kind(s), oldest first."""
        return [r for r in self.repo.records() if r.kind in self.kinds]

    def latest(self) -> VersionRecord | None:
        records = self.repo.records(self.kinds[0])
        return records[-1] if records else None

    def show(self, version: str) -> VersionRecord:
        return views.show(self.repo, version, kind=self.kinds[0])

    def diff(self, a: str, b: str) -> DiffResult:
        return views.diff(self.repo, a, b, kind=self.kinds[0])

    def revert(self, version: str, *, force: bool = False, dry_run: bool = False) -> RevertResult:
        """Restore ``version``'s files into the workspace as a new commit; history stays."""
        kind_arg, parsed = parse_version_arg(version)
        kinds = (kind_arg,) if kind_arg and len(self.kinds) == 1 else self.kinds
        return restore.revert(self.repo, parsed, kinds, force=force, dry_run=dry_run)

    def pull(
        self, version: str | None = None, *, force: bool = False, jobs: int | None = None
    ) -> PullResult:
        """Fetch and materialize ``version`` (default: the branch head), hash-verified."""
        return sync.pull(self.root, version=version, kinds=self.kinds, force=force, jobs=jobs)

    def status(self) -> StatusResult:
        return views.status(self.repo, kinds=self.kinds)


class ModelCheckpoints(_Manager):
    """Versions of the model weights (``checkpoints/``), tagged ``model/vX.Y``."""

    kinds = (Kind.MODEL,)


class DataCheckpoints(_Manager):
    """Versions of the training data (``data/``), tagged ``data/vX.Y``."""

    kinds = (Kind.DATA,)


class CombinedCheckpoints(_Manager):
    """Weights and data under one version number, both tags or neither."""

    kinds = (Kind.MODEL, Kind.DATA)
