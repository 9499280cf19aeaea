"""The storage section of a model repository's ``.dvc/config``, read without DVC."""

from __future__ import annotations

from pathlib import Path

#: The name of the DVC remote cpv writes in every model repository.
REMOTE = "storage"


def remote_settings(root: Path) -> dict[str, str]:
    """The ``remote "storage"`` section of ``.dvc/config`` (``config.local`` wins), read as
    text: opening DVC's own config reader costs a second of imports."""
    import configparser

    found: dict[str, str] = {}
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read(root / ".dvc" / name, encoding="utf-8")
        except configparser.Error:
            continue
        for section in parser.sections():
            if section.strip("'").replace('"', "") == f"remote {REMOTE}":
                found.update(parser[section])
    return found
