"""The numeric ``CPV_*`` environment settings: read, bounded, and named in the error when one
is not a finite number within its bounds (``CPV_WEBHOOK_TIMEOUT=nan`` is refused, not a
budget that makes every delivery fail)."""

from __future__ import annotations

import math
import os

from cpv.domain.errors import ConfigError

#: The numeric environment settings: name -> (default, lowest, highest), in seconds.
ENV_SECONDS: dict[str, tuple[float, float, float]] = {
    "CPV_LOCK_TIMEOUT": (60.0, 0.0, 86400.0),
    "CPV_WEBHOOK_TIMEOUT": (5.0, 0.5, 60.0),
}


def env_seconds(name: str) -> float:
    """The number of seconds the environment variable ``name`` (one of :data:`ENV_SECONDS`)
    sets; its default when it is unset or empty.

    Raises:
        ConfigError: not a finite number within its bounds (the message names the variable).
    """
    default, low, high = ENV_SECONDS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(
            f"{name}={raw[:40]!r} is not a number of seconds from {low:g} to {high:g}",
            hint=f"Set {name} to a number such as {default:g}, or unset it.",
        )
    return value


def check_environment() -> None:
    """Read every numeric ``CPV_*`` setting once (the CLI does before any command).

    Raises:
        ConfigError: one is not a finite number within its bounds.
    """
    for name in ENV_SECONDS:
        env_seconds(name)
