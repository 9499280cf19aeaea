"""Choosing the next version: parsing, ordering, bumping and tag names (no git involved).

``test_versions.py`` covers ordering past nine, the basic bumps, the invalid-name list and the
tag-name round trip; this file covers the rest of ``cpv.domain.versions``.
"""

from __future__ import annotations

import pytest

from cpv.domain.errors import InvalidNameError, UsageError
from cpv.domain.versions import Kind, Version, parse_tag_name, parse_version_arg, tag_name


@pytest.mark.parametrize(
    ("text", "major", "minor"),
    [
        ("v0.1", 0, 1),
        ("0.1", 0, 1),  # the leading v is optional for Version.parse
        ("v2.0", 2, 0),
        ("v10.20", 10, 20),
        ("v999999.999999", 999999, 999999),  # six digits per part is the ceiling
    ],
)
def test_parse_accepts(text: str, major: int, minor: int) -> None:
    version = Version.parse(text)
    assert (version.major, version.minor) == (major, minor)


@pytest.mark.parametrize(
    "text", ["v1000000.0", "v0.1000000", "V1.0", "v1.0 beta", "v1,0", "v.1", "v1.", "1", "vv1.0"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid version"):
        Version.parse(text)


def test_parse_rejects_non_text() -> None:
    with pytest.raises(InvalidNameError):
        Version.parse(1.2)  # type: ignore[arg-type]


def test_invalid_name_is_a_usage_error_and_a_value_error() -> None:
    """The CLI maps UsageError to exit code 2; Python callers may catch ValueError."""
    with pytest.raises(InvalidNameError) as info:
        Version.parse("banana")
    assert isinstance(info.value, UsageError)
    assert isinstance(info.value, ValueError)
    assert info.value.exit_code == 2
    assert "v0.1" in info.value.hint


@pytest.mark.parametrize(("major", "minor"), [(0, 0), (-1, 2), (1, -1)])
def test_constructor_rejects_impossible_versions(major: int, minor: int) -> None:
    with pytest.raises(InvalidNameError):
        Version(major, minor)


def test_first_version_is_v0_1() -> None:
    assert Version.first() == Version(0, 1)
    assert str(Version.first()) == "v0.1"


def test_str_and_repr() -> None:
    assert str(Version(1, 10)) == "v1.10"
    assert repr(Version(1, 10)) == "Version('v1.10')"


def test_equality_and_hash() -> None:
    assert Version.parse("0.3") == Version.parse("v0.3")
    assert Version(0, 3) != Version(0, 30)
    assert Version(0, 3) != "v0.3"  # not equal to its text
    assert len({Version(0, 3), Version.parse("v0.3"), Version(3, 0)}) == 2


def test_ordering_is_numeric_in_both_parts() -> None:
    texts = ["v10.0", "v0.10", "v1.0", "v0.9", "v0.2", "v2.0", "v1.11", "v1.2", "v0.100"]
    ordered = sorted(Version.parse(t) for t in texts)
    assert [str(v) for v in ordered] == [
        "v0.2",
        "v0.9",
        "v0.10",
        "v0.100",
        "v1.0",
        "v1.2",
        "v1.11",
        "v2.0",
        "v10.0",
    ]


def test_comparison_operators() -> None:
    a, b = Version.parse("v0.9"), Version.parse("v0.10")
    assert a < b and a <= b and b > a and b >= a
    assert a <= Version(0, 9) and a >= Version(0, 9)
    assert not a > b
    assert max(a, b) is b


def test_bump_minor_and_major() -> None:
    v = Version.parse("v1.9")
    assert v.bump() == Version(1, 10)
    assert v.bump("minor") == Version(1, 10)
    assert v.bump("major") == Version(2, 0)
    assert v == Version(1, 9)  # bumping returns a new version


def test_bump_rejects_other_parts() -> None:
    with pytest.raises(InvalidNameError, match="invalid bump 'patch'"):
        Version(0, 1).bump("patch")


def test_next_after() -> None:
    assert Version.next_after(Version(0, 1)) == Version(0, 2)
    assert Version.next_after(Version(0, 99), "minor") == Version(0, 100)
    assert Version.next_after(Version(3, 7), "major") == Version(4, 0)
    assert Version.next_after(None, "minor") == Version(0, 1)


def test_next_after_rejects_an_unknown_part_even_without_a_latest_version() -> None:
    """With a latest version an unknown part is refused; with none it must be refused too,
    not silently treated as "minor"."""
    with pytest.raises(InvalidNameError):
        Version.next_after(Version(0, 1), "patch")
    with pytest.raises(InvalidNameError):
        Version.next_after(None, "patch")


@pytest.mark.parametrize(
    ("start", "part", "expected"),
    [
        ("v999998.0", "major", "v999999.0"),
        ("v0.999998", "minor", "v0.999999"),
        ("v0.1", "minor", "v0.2"),
    ],
)
def test_a_bumped_version_can_be_parsed_back(start: str, part: str, expected: str) -> None:
    """Every version cpv hands out must survive its own tag name: otherwise the tag it makes
    is unreadable (``parse_tag_name`` ignores it, ``VersionRecord.parsed_version`` raises)."""
    bumped = Version.parse(start).bump(part)
    assert str(bumped) == expected
    assert Version.parse(str(bumped)) == bumped
    assert parse_tag_name(tag_name(Kind.MODEL, bumped)) == (Kind.MODEL, bumped)


@pytest.mark.parametrize(("start", "part"), [("v999999.0", "major"), ("v0.999999", "minor")])
def test_a_bump_past_the_ceiling_is_refused(start: str, part: str) -> None:
    """Past the largest part a tag name can carry, a bump is refused, never wrapped."""
    with pytest.raises(InvalidNameError):
        Version.parse(start).bump(part)


def test_kind_text() -> None:
    assert str(Kind.MODEL) == "model" and str(Kind.DATA) == "data"
    assert Kind("data") is Kind.DATA
    assert tag_name(Kind.DATA, Version(1, 0)) == "data/v1.0"


@pytest.mark.parametrize(
    "name",
    [
        "model/v0.3/extra",
        "model/0.3",
        "Model/v0.3",
        "model/v0.0",
        "model/v01.3",
        "models/v0.3",
        "all/v0.3",
        "v0.3",
        "model",
        "model/",
        "/v0.3",
        "refs/tags/model/v0.3",
    ],
)
def test_parse_tag_name_ignores_foreign_tags(name: str) -> None:
    assert parse_tag_name(name) is None


def test_parse_tag_name_round_trips_every_kind() -> None:
    for kind in Kind:
        for version in (Version(0, 1), Version(0, 10), Version(12, 0)):
            assert parse_tag_name(tag_name(kind, version)) == (kind, version)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v0.3", (None, Version(0, 3))),
        ("data/v0.10", (Kind.DATA, Version(0, 10))),
        ("model/v1.0", (Kind.MODEL, Version(1, 0))),
    ],
)
def test_parse_version_arg(text: str, expected: tuple[Kind | None, Version]) -> None:
    assert parse_version_arg(text) == expected


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("all/v0.3", "model/v0.3 or data/v0.3"),
        ("/v0.3", "model/v0.3 or data/v0.3"),
        ("model/", "v<major>.<minor>"),
    ],
)
def test_parse_version_arg_hints(text: str, hint: str) -> None:
    with pytest.raises(InvalidNameError) as info:
        parse_version_arg(text)
    assert hint in info.value.hint
    assert repr(text) in info.value.message
