"""Names are matched whole: a trailing newline (which ``$`` lets through) is no name."""

from __future__ import annotations

import pytest

from cpv.core.refs import check_alias_name
from cpv.domain.errors import UsageError
from cpv.domain.metrics import validate_metrics
from cpv.settings.config import validate_name
from cpv.settings.providers import PRESETS, _check_region, validate_bucket


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x1b[2J", " "])
def test_a_name_with_anything_after_it_is_refused(suffix: str) -> None:
    with pytest.raises(UsageError, match="invalid alias name"):
        check_alias_name("prod" + suffix)
    with pytest.raises(UsageError, match="invalid team name"):
        validate_name("acme" + suffix, what="team")
    with pytest.raises(UsageError, match="invalid bucket name"):
        validate_bucket("my-bucket" + suffix)
    with pytest.raises(UsageError, match="invalid region"):
        _check_region(PRESETS["minio"], "us-east-1" + suffix)
    assert check_alias_name("prod") == "prod" and validate_name("acme", what="team") == "acme"


@pytest.mark.parametrize("name", ["wer\x1b[2J", "wer\x85", "w" * 201, "a\u202eb"])
def test_a_metric_name_is_printable_and_short(name: str) -> None:
    with pytest.raises(UsageError, match="invalid metric name"):
        validate_metrics({name: 1})
    assert validate_metrics({"val/loss": 1}) == {"val/loss": 1}
