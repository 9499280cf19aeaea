"""The docs site builds with --strict (a broken link, a page left out of the nav or a
docstring the API reference cannot read fails), as `make docs` in CI does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "reference" / "cli" / "index.html").is_file()
    page = (tmp_path / "reference" / "python" / "index.html").read_text(encoding="utf-8")
    assert "ModelCheckpoints" in page and "init_repository" in page
