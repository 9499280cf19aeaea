"""Version text is read strictly and the same way everywhere (issue 9)."""

from __future__ import annotations

import pytest

from cpv.core.versioning import TagRequest
from cpv.domain.errors import InvalidNameError, UsageError
from cpv.domain.versions import Kind, Version, parse_version_arg


@pytest.mark.parametrize("text", ["v1.2\n", " v1.2", "v1.2 ", "v1.2\t", "\nv1.2"])
def test_whitespace_around_a_version_is_refused(text: str) -> None:
    with pytest.raises(InvalidNameError):
        Version.parse(text)
    with pytest.raises(InvalidNameError):
        TagRequest.build(version=text)


@pytest.mark.parametrize("text", ["v0.2", "0.2"])
def test_a_version_with_or_without_v_is_read_alike(text: str) -> None:
    assert parse_version_arg(text) == (None, Version(0, 2))
    assert parse_version_arg(f"model/{text}") == (Kind.MODEL, Version(0, 2))
    assert TagRequest.build(version=text).version == Version(0, 2)


def test_bump_and_version_together_are_refused() -> None:
    with pytest.raises(UsageError, match="not both"):
        TagRequest.build(version="v3.0", bump="major")
    assert TagRequest.build(bump="major").bump == "major"
    assert TagRequest.build().bump == "minor"
