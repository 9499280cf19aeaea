"""Sizes for people: the one formatter the CLI, the HTML report and the webhook messages share."""

from __future__ import annotations


def human_size(n: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, as storage bills them); negatives too
    (size changes): ``-2500`` -> ``-2.5 KB``."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")  # the loop returns at TB
