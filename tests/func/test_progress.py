"""Large files report byte-level progress (hashing on tag, upload on push) to the
:class:`cpv.domain.progress.Progress` passed to the manager."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cpv import ModelCheckpoints, init_repository
from cpv.cli.render.base import TransferProgress
from cpv.domain.progress import NoProgress
from tests.conftest import write_checkpoint


class TransferRecorder(NoProgress):
    """Keeps every transfer update: (description, done, total, is_bytes, finished)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int | None, bool, bool]] = []

    def transfer(
        self,
        key: int,
        description: str,
        done: int,
        total: int | None,
        is_bytes: bool,
        finished: bool,
    ) -> None:
        self.events.append((description, done, total, is_bytes, finished))


@pytest.mark.s3
@pytest.mark.slow
def test_tag_and_push_report_bytes(tmp_path: Path, s3_user_config: str) -> None:
    repo = init_repository(team="acme", model="big", path=tmp_path / "big")
    size = 80 << 20  # above the 64 MiB threshold for hashing progress
    write_checkpoint(repo, os.urandom(size))
    seen = TransferRecorder()
    models = ModelCheckpoints(repo, progress=seen)
    models.tag()
    hashing = [e for e in seen.events if e[0] == "hashing model.bin"]
    assert hashing and hashing[-1][1:5] == (size, size, True, True)
    seen.events.clear()
    models.push()
    uploads = [e for e in seen.events if e[3] and e[2] == size]
    assert uploads and uploads[-1][1] == size and uploads[-1][4]


def test_progress_view_tracks_and_clears_tasks() -> None:
    view = TransferProgress()
    view(1, "small", 10, 100, True, False)  # under 1 MB: not worth a bar
    view(2, "big", 5_000_000, 10_000_000, True, False)
    assert list(view._tasks) == [2]
    view(2, "big", 10_000_000, 10_000_000, True, True)
    assert view._tasks == {}
    view.stop()
