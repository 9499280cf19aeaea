"""A webhook URL is a secret: checked when added, masked wherever it is shown, and scrubbed
from anything a server or a library says about it (:func:`scrub`), in every form a reply could
quote it (as is, JSON-escaped, percent-encoded; its path, query, host label or token alone)."""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

from cpv.domain.errors import UsageError

Format = Literal["slack", "teams", "json"]

#: A first path segment shown unmasked: a plain word (``services``, ``workflows``, ``hook``),
#: never something that could be a token (digits, long, mixed).
_PLAIN_SEGMENT = re.compile(r"[A-Za-z_-]{1,16}")
#: A host label shown unmasked: a word (``hooks``, ``westus``) or short (``prod-1``); a longer
#: one with digits (``eo1a2b3c4d5e6f7.m.pipedream.net``) may be a token.
_PLAIN_LABEL = re.compile(r"[A-Za-z-]{1,63}|[A-Za-z0-9-]{1,7}")
#: Parts shorter than this are not searched for in replies (``v1`` is no secret).
_SECRET_MIN = 4


def mask_url(url: str) -> str:
    """Scheme and host, the path and query hidden: ``https://hooks.slack.com/services/***``
    (a first path segment is kept only when it is a plain word and more follows; a host
    label that could be a token, ``abc123.m.pipedream.net``, is hidden too)."""
    try:
        parts = urlsplit(url)
        host = _shown_host(parts.hostname or "?")
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    segments = [s for s in parts.path.split("/") if s]
    keep = f"/{segments[0]}" if len(segments) > 1 and _PLAIN_SEGMENT.fullmatch(segments[0]) else ""
    return f"{parts.scheme}://{host}{port}{keep}/***"


def _shown_host(host: str) -> str:
    """An IP address as is (IPv6 in brackets); a name with each label that is not a plain
    word (letters and ``-`` only) as ``***``."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return ".".join(p if _PLAIN_LABEL.fullmatch(p) else "***" for p in host.split("."))
    return f"[{ip}]" if ip.version == 6 else str(ip)


def _secrets(url: str) -> list[str]:
    """Every part of ``url`` that may be (or hold) its token, in every form a server's reply
    could quote it: as is, with JSON's escaped slashes, percent-encoded."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return [url]
    found = {url, url.split("://", 1)[-1], parts.path, parts.query, parts.fragment}
    found.update(s for s in parts.path.split("/") if not _PLAIN_SEGMENT.fullmatch(s))
    for pair in parse_qsl(parts.query, keep_blank_values=True):
        found.update(pair)
    found.update(label for label in host.split(".") if not _PLAIN_LABEL.fullmatch(label))
    found.update(p for p in (parts.username, parts.password) if p)
    forms = set()
    for secret in (s for s in found if len(s) >= _SECRET_MIN):
        forms.update(
            {secret, secret.replace("/", "\\/"), quote(secret, safe=""), quote_plus(secret)}
        )
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (a reason built from a server's reply or a library's exception) with every
    form of ``url``'s secret parts (:func:`_secrets`) replaced: the whole URL by its masked
    form, each part by ``***``. Percent-encodings match in either case."""
    masked = mask_url(url)
    for secret in _secrets(url):
        stand_in = masked if secret in (url, url.replace("/", "\\/")) else "***"
        replacement = stand_in.replace("\\", "\\\\")  # a literal, never a group reference
        text = re.sub(re.escape(secret), replacement, text, flags=re.IGNORECASE)
    return text


def check_url(url: str) -> str:
    """An ``http(s)://host/...`` URL with no user name or password in it.

    Raises:
        UsageError: anything else.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        host, parts = None, None  # type: ignore[assignment]
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            "invalid webhook URL (expected http:// or https:// with a host)",
            hint="Copy the incoming-webhook URL from Slack or Teams, e.g. "
            "https://hooks.slack.com/services/T000/B000/XXXX.",
        )
    if parts.username or parts.password:
        raise UsageError(
            "the webhook URL contains a user name or password",
            hint="Use the URL the service gives you; its token is in the path.",
        )
    return url


def detect_format(url: str) -> Format:
    """What a URL's host tells: Slack's hooks, Teams' incoming webhooks and workflows."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hooks.slack.com":
        return "slack"
    if host.endswith((".webhook.office.com", ".logic.azure.com", ".powerplatform.com")):
        return "teams"
    return "json"
