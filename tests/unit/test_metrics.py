"""Metrics as ``tag`` accepts them: ``--metric KEY=VALUE``, ``--metrics-file`` and the API dict."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cpv.domain.errors import UsageError
from cpv.domain.metrics import load_metrics_file, parse_metric_assignments, validate_metrics

# --- validate_metrics ----------------------------------------------------------------------


def test_none_and_empty_are_no_metrics() -> None:
    assert validate_metrics(None) == {}
    assert validate_metrics({}) == {}


def test_numbers_and_text_are_kept_as_they_are() -> None:
    clean = validate_metrics({"wer": 0.21, "epochs": 3, "note": "best so far", "val/loss": -1.5})
    assert clean == {"wer": 0.21, "epochs": 3, "note": "best so far", "val/loss": -1.5}
    assert isinstance(clean["epochs"], int)


def test_returns_a_new_plain_dict() -> None:
    given = {"wer": 0.2}
    clean = validate_metrics(given)
    clean["wer"] = 0.5
    assert given == {"wer": 0.2}


def test_booleans_become_integers() -> None:
    clean = validate_metrics({"converged": True, "diverged": False})
    assert clean == {"converged": 1, "diverged": 0}
    assert type(clean["converged"]) is int  # not bool: stored as a number


class _Scalar:
    """Stands in for a numpy/torch scalar: not an int/float/str, but convertible."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value


def test_scalar_objects_are_converted_to_float() -> None:
    clean = validate_metrics({"acc": _Scalar(0.75), "lr": Decimal("0.0003")})
    assert clean == {"acc": 0.75, "lr": 0.0003}
    assert all(type(v) is float for v in clean.values())


def test_numpy_scalars_are_converted() -> None:
    np = pytest.importorskip("numpy")
    clean = validate_metrics({"acc": np.float32(0.5), "step": np.int64(7), "f64": np.float64(1.5)})
    assert clean == {"acc": 0.5, "step": 7.0, "f64": 1.5}
    assert json.dumps(clean)  # storable in a tag message


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(UsageError, match=r"metric loss is") as info:
        validate_metrics({"loss": value})
    assert "finite" in info.value.hint


@pytest.mark.parametrize(
    "value",
    [Decimal("NaN"), Decimal("Infinity"), _Scalar(math.nan), _Scalar(-math.inf)],
    ids=["decimal-nan", "decimal-inf", "scalar-nan", "scalar-neg-inf"],
)
def test_non_finite_scalars_are_refused_after_conversion(value: Any) -> None:
    """A NaN that arrives as a numpy/torch scalar must be refused like a float NaN: the
    finiteness check has to look at the converted value, not only at Python floats."""
    with pytest.raises(UsageError, match="metric loss"):
        validate_metrics({"loss": value})


def test_non_finite_numpy_float32_is_refused() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(UsageError, match="metric loss"):
        validate_metrics({"loss": np.float32("nan")})


@pytest.mark.parametrize("value", [[0.1, 0.2], {"a": 1}, None, object()])
def test_unsupported_values_are_refused(value: Any) -> None:
    with pytest.raises(UsageError, match="metric m has unsupported value") as info:
        validate_metrics({"m": value})
    assert "numbers or short strings" in info.value.hint


@pytest.mark.parametrize("key", ["", "   ", "a\nb", "a\tb", "a\rb", 3, None])
def test_bad_metric_names_are_refused(key: Any) -> None:
    with pytest.raises(UsageError, match="invalid metric name") as info:
        validate_metrics({key: 1.0})
    assert "wer" in info.value.hint


# --- parse_metric_assignments (--metric KEY=VALUE) ------------------------------------------


def test_values_become_int_float_or_text() -> None:
    parsed = parse_metric_assignments(["epochs=3", "wer=0.21", "lr=3e-4", "note=best", "neg=-2"])
    assert parsed == {"epochs": 3, "wer": 0.21, "lr": 3e-4, "note": "best", "neg": -2}
    assert type(parsed["epochs"]) is int and type(parsed["wer"]) is float
    assert type(parsed["neg"]) is int


def test_keys_are_stripped_and_only_the_first_equals_splits() -> None:
    parsed = parse_metric_assignments([" wer =0.2", "expr=a=b"])
    assert parsed == {"wer": 0.2, "expr": "a=b"}


def test_an_empty_value_is_empty_text() -> None:
    assert parse_metric_assignments(["note="]) == {"note": ""}


def test_text_that_only_looks_numeric_stays_text() -> None:
    assert parse_metric_assignments(["h=0x10", "t=true", "v=1.2.3"]) == {
        "h": "0x10",
        "t": "true",
        "v": "1.2.3",
    }


def test_a_repeated_key_keeps_the_last_value() -> None:
    assert parse_metric_assignments(["wer=0.3", "wer=0.2"]) == {"wer": 0.2}


def test_no_assignments_is_no_metrics() -> None:
    assert parse_metric_assignments([]) == {}


@pytest.mark.parametrize("pair", ["wer", "=0.2", " =0.2", ""])
def test_malformed_assignments_are_refused(pair: str) -> None:
    with pytest.raises(UsageError, match="invalid --metric") as info:
        parse_metric_assignments([pair])
    assert "--metric KEY=VALUE" in info.value.hint


@pytest.mark.parametrize("pair", ["loss=nan", "loss=inf", "loss=-inf"])
def test_non_finite_values_on_the_command_line_are_refused(pair: str) -> None:
    with pytest.raises(UsageError, match="metric loss is"):
        parse_metric_assignments([pair])


def test_names_are_validated_too() -> None:
    with pytest.raises(UsageError, match="invalid metric name"):
        parse_metric_assignments(["a\tb=1"])


# --- load_metrics_file (--metrics-file F) ---------------------------------------------------


def test_loads_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"wer": 0.21, "epochs": 3, "ok": True, "note": "x"}))
    assert load_metrics_file(path) == {"wer": 0.21, "epochs": 3, "ok": 1, "note": "x"}


def test_an_empty_object_is_no_metrics(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text("{}")
    assert load_metrics_file(path) == {}


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="metrics file not found") as info:
        load_metrics_file(tmp_path / "absent.json")
    assert str(tmp_path / "absent.json") in info.value.message


def test_invalid_json_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{\n  "wer": 0.2,\n  "cer": \n}')
    with pytest.raises(UsageError) as info:
        load_metrics_file(path)
    assert str(path) in info.value.message
    assert "not valid JSON" in info.value.message and "line 4" in info.value.message


@pytest.mark.parametrize("text", ["[1, 2]", '"wer"', "0.2", "null"])
def test_anything_but_an_object_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(text)
    with pytest.raises(UsageError, match="expected a JSON object"):
        load_metrics_file(path)


def test_values_in_the_file_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text('{"loss": NaN}')  # Python's json accepts the literal; cpv must not
    with pytest.raises(UsageError, match="metric loss is nan"):
        load_metrics_file(path)
    path.write_text('{"nested": {"a": 1}}')
    with pytest.raises(UsageError, match="unsupported value"):
        load_metrics_file(path)


@pytest.mark.parametrize("what", ["directory", "not-utf8"])
def test_an_unreadable_file_is_a_usage_error(tmp_path: Path, what: str) -> None:
    """A directory or a file that is not UTF-8 is the user's input being wrong: a UsageError
    naming the path, not a raw IsADirectoryError/UnicodeDecodeError (the CLI shows those as a
    crash with a traceback)."""
    path = tmp_path / "metrics"
    if what == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(UsageError) as info:
        load_metrics_file(path)
    assert str(path) in info.value.message
