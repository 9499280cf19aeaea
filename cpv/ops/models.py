"""``cpv models``: the catalog of every model in the configured storage, read from each
model's index (:mod:`cpv.catalog.publish` keeps it; :mod:`cpv.catalog.index` holds the format)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpv.catalog.index import ModelsResult, list_models
from cpv.settings.config_env import load_user_config

if TYPE_CHECKING:  # `cpv models` needs none of these: it starts without git or DVC
    pass


def models(*, team: str | None = None) -> ModelsResult:
    """Every model in the configured storage (``team``: that team's), from their indexes:
    no clone, no git request.

    Raises:
        InvalidNameError: ``team`` is not a valid team name.
        StorageError: the storage could not be listed.
        ConfigError: the user configuration does not read.
    """
    return list_models(load_user_config(), team=team)
