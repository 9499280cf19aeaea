"""Metric values stored with a version: validated, and parsed from ``--metric KEY=VALUE``
or a JSON file (``cpv tag --metrics-file``); and what a value read back from git may be.

A metric is a finite number (an integer in the signed 64-bit range, or a finite float) or a
short text. ``cpv tag`` refuses anything else. A tag written by other means (plain git) may
hold anything JSON can: :func:`as_read` keeps such a value as its text, so it is shown but
never compared (``best``, ``compare``, the catalog skip it) and never crashes a command.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cpv.domain.errors import UsageError
from cpv.domain.text import is_printable

#: The integers a metric (or a size, a count) may hold: the signed 64-bit range, what JSON
#: readers and metric stores take (a 401-digit integer is no measurement).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
NAME_MAX = 200
TEXT_MAX = 1000


def is_comparable(value: Any) -> bool:
    """Whether ``value`` is a number cpv can compare: an int in the 64-bit range or a finite
    float (never a bool)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return INT_MIN <= value <= INT_MAX
    return isinstance(value, float) and math.isfinite(value)


def as_read(value: Any) -> Any:
    """A metric value read from a tag message: a number cpv cannot compare (out of range,
    NaN, infinite) becomes its text, so it is shown and never compared."""
    if isinstance(value, int | float) and not isinstance(value, bool) and not is_comparable(value):
        return str(value)
    return value


def finite_json(value: Any) -> Any:
    """``value`` (params read from a tag) with NaN and infinities as text: ``--json`` output
    stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def validate_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float | int | str]:
    clean: dict[str, float | int | str] = {}
    for key, value in (metrics or {}).items():
        if (
            not isinstance(key, str)
            or not key.strip()
            or len(key) > NAME_MAX
            or not is_printable(key)
        ):
            raise UsageError(
                f"invalid metric name {key!r}",
                hint=f"Use names like wer or val/loss (at most {NAME_MAX} characters, no "
                "control characters).",
            )
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float | str):
            try:
                value = float(value)  # numpy / torch / Decimal scalars
            except (TypeError, ValueError, ArithmeticError):
                raise UsageError(
                    f"metric {key} has unsupported value {value!r}",
                    hint="Use numbers or short strings.",
                ) from None
        if isinstance(value, float) and not math.isfinite(value):  # after conversion
            raise UsageError(f"metric {key} is {value}", hint="Metrics must be finite numbers.")
        if isinstance(value, int) and not is_comparable(value):
            raise UsageError(
                f"metric {key} is out of range ({len(str(abs(value)))} digits)",
                hint="An integer metric fits in 64 bits (±9.2e18); pass a float for more.",
            )
        if isinstance(value, str) and len(value) > TEXT_MAX:
            raise UsageError(
                f"metric {key} is a text of {len(value)} characters",
                hint=f"A text metric holds at most {TEXT_MAX} characters; use the message "
                "(-m) or params for more.",
            )
        clean[key] = value
    return clean


def parse_metric_assignments(pairs: Sequence[str]) -> dict[str, float | int | str]:
    """``["wer=0.21", "note=best"]`` -> ``{"wer": 0.21, "note": "best"}``."""
    out: dict[str, float | int | str] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"invalid --metric {pair!r}",
                hint="Write --metric KEY=VALUE, e.g. --metric wer=0.21.",
            )
        value: float | int | str
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                value = raw
        out[key.strip()] = value
    return validate_metrics(out)


def load_metrics_file(path: Path) -> dict[str, float | int | str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"metrics file not found: {path}", hint="Pass a JSON file of {name: value}."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:  # a directory, unreadable, not UTF-8 text
        raise UsageError(
            f"cannot read metrics file {path}: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}",
            hint="Pass a readable UTF-8 JSON file of {name: value}.",
        ) from None
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})",
            hint="Pass a JSON object of {name: value}.",
        ) from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, deep nesting
        raise UsageError(
            f"{path}: a number in it is out of range, or it is nested too deep",
            hint="Metrics are finite numbers (integers fit in 64 bits) or short texts.",
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object of {{name: value}}")
    return validate_metrics(data)
