"""URL kinds, decided in one place: storage URLs as DVC reads them, git URLs as git does."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpv.domain.errors import UsageError
from cpv.settings.urls import (
    UrlKind,
    git_kind,
    is_s3,
    local_path,
    model_prefix_url,
    s3_location,
    storage_kind,
)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("s3://bkt/team/model", UrlKind.S3),
        ("file:///srv/storage", UrlKind.FILE),
        ("/srv/storage", UrlKind.PATH),
        ("relative/storage", UrlKind.PATH),
        ("host:storage", UrlKind.PATH),  # DVC reads no scheme as a local path
        ("ssh://host/storage", UrlKind.SSH),
        ("https://host/storage", UrlKind.HTTPS),
        ("gs://bkt/x", UrlKind.OTHER),
    ],
)
def test_storage_kind(url: str, kind: UrlKind) -> None:
    assert storage_kind(url) is kind
    assert is_s3(url) is (kind is UrlKind.S3)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("file:///srv/x.git", UrlKind.FILE),
        ("/srv/git/acme/m.git", UrlKind.PATH),
        ("~/git/m.git", UrlKind.PATH),
        ("git@host:a/b.git", UrlKind.SSH),
        ("host:a/b.git", UrlKind.SSH),
        ("ssh://git@host/a/b.git", UrlKind.SSH),
        ("git+ssh://host/a/b.git", UrlKind.SSH),
        ("https://host/a/b.git", UrlKind.HTTPS),
        ("git://host/a/b.git", UrlKind.HTTPS),
    ],
)
def test_git_kind(url: str, kind: UrlKind) -> None:
    assert git_kind(url) is kind
    assert git_kind(url).local is (kind in (UrlKind.PATH, UrlKind.FILE))


def test_local_path() -> None:
    assert local_path("file:///srv/x.git") == Path("/srv/x.git")
    assert local_path("~/x") == Path.home() / "x"


def test_s3_location() -> None:
    assert s3_location("s3://bkt/team/model") == ("bkt", "team/model")
    assert s3_location("s3://bkt") == ("bkt", "")
    with pytest.raises(UsageError):
        s3_location("/local/path")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://models", "s3://models/acme/asr"),  # a bucket root: the catalog's layout
        ("s3://models/", "s3://models/acme/asr"),
        ("s3://models/zone", "s3://models/zone/acme/asr"),
        ("s3://models/acme/asr", "s3://models/acme/asr"),  # already the model's own prefix
        ("s3://models/zone/acme/asr/", "s3://models/zone/acme/asr"),
        ("s3://acme/asr", "s3://acme/asr/acme/asr"),  # bucket "acme", folder "asr": a root
        ("s3://models/acme/tts", "s3://models/acme/tts/acme/asr"),  # another model's name
        ("/srv/store", "/srv/store/acme/asr"),
        ("file:///srv/store", "/srv/store/acme/asr"),
        ("/acme/asr", "/acme/asr/acme/asr"),
        ("/srv/acme/asr", "/srv/acme/asr"),
    ],
)
def test_model_prefix_url(url: str, expected: str) -> None:
    assert model_prefix_url(url, team="acme", model="asr") == expected
