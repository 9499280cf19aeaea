from __future__ import annotations

from pathlib import Path

import pytest

from cpv.ops.init import init_repository


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh model repository on the embedded local default."""
    return init_repository(team="acme", model="whisper-small", path=tmp_path / "whisper-small")
