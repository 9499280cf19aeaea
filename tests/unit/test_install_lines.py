"""Every install line a user may copy names our distribution, `cpv-checkpoints`: the name
`cpv` on the package registry belongs to an unrelated project (issue 9)."""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the dev extra installs tomli, its forerunner
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
_INSTALL = re.compile(r"pip install[^\n`]*")


def _texts() -> dict[str, str]:
    paths = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "templates").rglob("*")]
    paths += [*(ROOT / "cpv").rglob("*.py")]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths if p.is_file()}


def test_the_distribution_is_not_named_cpv() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["name"] == "cpv-checkpoints"
    assert meta["project"]["scripts"]["cpv"].startswith("cpv.")


def test_every_install_line_names_cpv_checkpoints() -> None:
    wrong = []
    for name, text in _texts().items():
        for line in _INSTALL.findall(text):
            words = re.findall(r"['\"]?([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?['\"]?", line)
            if "cpv" in words:  # the unrelated project
                wrong.append(f"{name}: {line.strip()}")
    assert not wrong, "install lines naming `cpv`:\n" + "\n".join(wrong)
    found = [n for n, t in _texts().items() if "pip install" in t and "cpv-checkpoints" in t]
    assert "README.md" in found
