"""Hyperparameters recorded with a version: ``cpv tag --param KEY=VALUE``, ``tag(params=...)``
and the values of the params files (``params_files`` in ``cpv.yaml``, e.g. ``params.yaml``).

What is recorded is flat (``{"optimizer": {"lr": 0.1}}`` becomes ``{"optimizer.lr": 0.1}``)
and bounded: at most :data:`MAX_PARAMS` keys matching :data:`KEY_PATTERN`, each value a
number, a boolean, null, a text of at most :data:`MAX_VALUE` characters, or a short list of
those (a list of anything else is recorded as its JSON text, within the same bound). A value outside the bounds is refused when a version is made (:func:`validate`) and
dropped when a record is read back (:func:`bounded`): a tag message is untrusted input.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cpv.domain.errors import UsageError

MAX_PARAMS = 200
MAX_KEY = 100
MAX_VALUE = 200
KEY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]*")
_FORMATS = (".yaml", ".yml", ".json")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _normal(value: Any) -> Any:
    """A tuple as a list; a list holding more than plain values as its JSON text."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list) and not all(
        v is None or isinstance(v, str | bool | int | float) for v in value
    ):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _problem(key: Any, value: Any) -> str | None:
    """Why ``key: value`` cannot be recorded, or None when it can."""
    if not isinstance(key, str) or len(key) > MAX_KEY or not KEY_PATTERN.fullmatch(key):
        return f"name {str(key)[:MAX_KEY]!r} is not a param name"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{key} is {value} (not a finite number)"
    if value is None or isinstance(value, bool | int | float):
        return None
    if isinstance(value, str):
        return None if len(value) <= MAX_VALUE else f"{key} is longer than {MAX_VALUE} chars"
    if isinstance(value, list) and all(_problem(key, v) is None for v in value):
        fits = len(json.dumps(value)) <= MAX_VALUE
        return None if fits else f"{key} is a list longer than {MAX_VALUE} chars"
    return f"{key} has a value of type {type(value).__name__}"


def validate(params: Mapping[str, Any], *, source: str = "params") -> dict[str, Any]:
    """``params`` flattened and checked against the bounds.

    Raises:
        UsageError: a name, a value or the count is out of bounds (``source`` says where
            it came from).
    """
    flat = {k: _normal(v) for k, v in flatten(params).items()}
    if len(flat) > MAX_PARAMS:
        raise UsageError(
            f"{source}: {len(flat)} params, more than the {MAX_PARAMS} a version records",
            hint="Record the hyperparameters that matter; keep the rest in a file of its own.",
        )
    for key, value in flat.items():
        problem = _problem(key, value)
        if problem:
            raise UsageError(
                f"{source}: {problem}",
                hint=f"Names use letters, digits, _ . - /; values are numbers, booleans or "
                f"text of at most {MAX_VALUE} characters.",
            )
    return flat


def bounded(params: Any) -> dict[str, Any]:
    """What may be shown of params read back from a tag: the entries within the bounds (the
    first :data:`MAX_PARAMS`); anything else is dropped."""
    if not isinstance(params, Mapping):
        return {}
    try:
        flat = flatten(params)
    except RecursionError:
        return {}
    kept = {k: v for k, v in flat.items() if _problem(k, v) is None and _normal(v) is v}
    return dict(list(kept.items())[:MAX_PARAMS])


def parse_param_assignments(pairs: Sequence[str]) -> dict[str, Any]:
    """``["lr=3e-4", "optimizer=adam", "resume=true"]`` -> ``{"lr": 0.0003, "optimizer":
    "adam", "resume": True}`` (integers, decimals, true/false/null, else text).

    Raises:
        UsageError: a pair without ``=`` or out of bounds.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"invalid --param {pair!r}", hint="Write --param KEY=VALUE, e.g. --param lr=3e-4."
            )
        out[key.strip()] = _scalar(raw)
    return validate(out, source="--param")


def _scalar(raw: str) -> Any:
    words = {"true": True, "false": False, "null": None}
    if raw.lower() in words:
        return words[raw.lower()]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def read_params_files(root: Path, files: Sequence[str]) -> dict[str, Any]:
    """The values of the params files under ``root`` that exist (YAML or JSON; files of
    other formats are committed with the version but their values are not recorded), later
    files winning.

    Raises:
        UsageError: a params file that does not parse, or values out of bounds.
    """
    import yaml

    values: dict[str, Any] = {}
    for name in files:
        path = root / name
        if path.suffix.lower() not in _FORMATS or not path.is_file():
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            data = json.loads(json.dumps(data, default=str))  # dates as text
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise UsageError(
                f"params file {name} cannot be read: {str(exc).splitlines()[0]}",
                hint=f"Fix {name}, or take it out of params_files in cpv.yaml.",
            ) from None
        if data is None:
            continue
        if not isinstance(data, Mapping):
            raise UsageError(
                f"params file {name} is not a mapping of names to values",
                hint=f"Write {name} as `name: value` lines.",
            )
        values.update(validate(data, source=f"params file {name}"))
    return values


def recorded(root: Path, files: Sequence[str], given: Mapping[str, Any]) -> dict[str, Any]:
    """The params a new version records: the params files' values, then ``given`` (from
    ``--param`` or ``tag(params=...)``, already validated) over them."""
    merged = {**read_params_files(root, files), **given}
    return validate(merged, source="params")
