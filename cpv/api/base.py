"""What every manager mixin may rely on: the repository, the kinds, the progress receiver."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from cpv.core.repo import ModelRepo
from cpv.domain.progress import Progress
from cpv.domain.versions import Kind


class ManagerState:
    """The state :class:`cpv.api.managers.CheckpointManager` holds, shared by its mixins."""

    kinds: ClassVar[tuple[Kind, ...]]
    repo: ModelRepo
    progress: Progress | None

    @property
    def root(self) -> Path:
        return self.repo.root
