"""Metric values stored with a version: validated, and parsed from ``--metric KEY=VALUE``
or a JSON file (``cpv tag --metrics-file``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cpv.errors import UsageError


def validate_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float | int | str]:
    clean: dict[str, float | int | str] = {}
    for key, value in (metrics or {}).items():
        if not isinstance(key, str) or not key.strip() or any(c in key for c in "\n\r\t"):
            raise UsageError(f"invalid metric name {key!r}", hint="Use names like wer or val/loss.")
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
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object of {{name: value}}")
    return validate_metrics(data)
