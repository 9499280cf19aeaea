from __future__ import annotations

import pytest

from cpv.domain.errors import InvalidNameError
from cpv.domain.versions import Kind, Version, parse_tag_name, parse_version_arg, tag_name


def test_numeric_ordering_past_nine() -> None:
    versions = [Version.parse(f"v0.{i}") for i in range(1, 13)]
    assert sorted(reversed(versions)) == versions
    assert Version.parse("v0.9") < Version.parse("v0.10") < Version.parse("v1.0")
    assert str(max(versions)) == "v0.12"


def test_bumps() -> None:
    assert Version.next_after(None) == Version(0, 1)
    assert Version.next_after(Version.parse("v0.9")) == Version.parse("v0.10")
    assert Version.next_after(Version.parse("v0.10"), "major") == Version.parse("v1.0")
    assert Version.next_after(None, "major") == Version.parse("v1.0")


@pytest.mark.parametrize(
    "bad",
    [
        "v1..2",
        "banana",
        "-rf",
        "x.lock",
        "a/b",
        "../v9",
        "v0.0",
        "v1.2.3",
        "v01.2",
        "",
        "v1",
        "v-1.0",
    ],
)
def test_rejects_invalid_versions(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_version_arg(bad)


def test_tag_names_round_trip() -> None:
    assert tag_name(Kind.MODEL, Version(0, 3)) == "model/v0.3"
    assert parse_tag_name("data/v0.10") == (Kind.DATA, Version(0, 10))
    assert parse_tag_name("release/v1.0") is None
    assert parse_tag_name("model/banana") is None
    assert parse_version_arg("model/v0.3") == (Kind.MODEL, Version(0, 3))
    assert parse_version_arg("v2.0") == (None, Version(2, 0))
