"""What kind of place a URL names, decided here and nowhere else.

Storage URLs (the DVC remote, ``cpv remote set``, ``--storage``) and git remote URLs are
read differently, as DVC and git read them: ``host:path`` is a local path to DVC but an
scp-style SSH address to git. Both answers are a :class:`UrlKind`.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from cpv.domain.errors import UsageError

_SCP_RE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
_HTTP_SCHEMES = frozenset({"http", "https", "git"})


class UrlKind(str, Enum):
    PATH = "path"  # a local path, no scheme
    FILE = "file"  # file:///…
    S3 = "s3"  # s3://bucket/prefix (storage only)
    SSH = "ssh"  # ssh://…, git+ssh://…, scp-style user@host:path (git only)
    HTTPS = "https"  # http(s)://… and git://… (git daemon)
    OTHER = "other"  # another scheme (storage only: gs://, azure://, …)

    @property
    def local(self) -> bool:
        """On this machine's file system."""
        return self in (UrlKind.PATH, UrlKind.FILE)


def storage_kind(url: str) -> UrlKind:
    """How DVC reads a storage URL: anything without ``://`` is a local path."""
    if url.startswith("s3://"):
        return UrlKind.S3
    if url.startswith("file://"):
        return UrlKind.FILE
    if "://" not in url:
        return UrlKind.PATH
    scheme = url.split("://", 1)[0].lower()
    if scheme in _SSH_SCHEMES:
        return UrlKind.SSH
    if scheme in _HTTP_SCHEMES:
        return UrlKind.HTTPS
    return UrlKind.OTHER


def git_kind(url: str) -> UrlKind:
    """How git reads a remote URL: ``user@host:path`` is SSH; anything else without a
    known scheme is a local path."""
    scheme = urlparse(url).scheme
    if scheme == "file":
        return UrlKind.FILE
    if scheme in _SSH_SCHEMES:
        return UrlKind.SSH
    if scheme in _HTTP_SCHEMES:
        return UrlKind.HTTPS
    return UrlKind.SSH if _SCP_RE.match(url) else UrlKind.PATH


def is_s3(url: str) -> bool:
    return storage_kind(url) is UrlKind.S3


def local_path(url: str) -> Path:
    """The path a local URL (a path, or ``file://``) names, ``~`` expanded."""
    return Path(urlparse(url).path if url.startswith("file://") else url).expanduser()


def s3_location(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` -> (``bucket``, ``a/b``).

    Raises:
        UsageError: ``url`` is not an ``s3://`` URL with a bucket.
    """
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise UsageError(f"not an s3:// URL: {url!r}", hint="Use s3://BUCKET/PREFIX.")
    return parsed.netloc, parsed.path.strip("/")


def s3_url(bucket: str) -> str:
    return f"s3://{bucket}"


def model_prefix_url(url: str, *, team: str, model: str) -> str:
    """The storage URL a model's objects live at: ``url`` itself when it already ends in
    ``/<team>/<model>``, else ``url/<team>/<model>`` (a bucket root, or any folder holding
    models, lays the model out as ``cpv models`` reads it). A local path (or ``file://``
    URL) becomes an absolute path."""
    if storage_kind(url).local:  # a path, or file:// (DVC's local remote takes a path)
        url = str(local_path(url).resolve())
    base = url.rstrip("/")
    suffix = f"/{team}/{model}"
    if base.endswith(suffix) and base != suffix and not base.endswith(f":/{suffix}"):
        return base
    return f"{base}{suffix}"
