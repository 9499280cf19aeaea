"""Version numbers (``vMAJOR.MINOR``) and the git tag names that carry them.

Ordering is numeric (``v0.9 < v0.10``): (major, minor) as numbers, never string comparison.
Tags are ``model/vX.Y`` and ``data/vX.Y``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum
from functools import total_ordering

from cpv.domain.errors import InvalidNameError, UsageError

#: The largest major or minor part (six digits, as ``_VERSION_RE`` reads them).
MAX_PART = 999_999
_VERSION_RE = re.compile(r"^v?(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$")


class Kind(str, Enum):
    MODEL = "model"
    DATA = "data"

    def __str__(self) -> str:
        return self.value


@total_ordering
class Version:
    """A cpv version: ``v<major>.<minor>``, first ``v0.1``."""

    __slots__ = ("_key",)

    def __init__(self, major: int, minor: int) -> None:
        if major < 0 or minor < 0 or (major == 0 and minor == 0):
            raise InvalidNameError(
                f"invalid version v{major}.{minor}",
                hint="Versions look like v0.1, v0.2, v1.0; v0.0 does not exist.",
            )
        if major > MAX_PART or minor > MAX_PART:  # its tag name could not be read back
            raise InvalidNameError(
                f"version v{major}.{minor} is past the last one cpv can name",
                hint=f"Each part of a version is at most {MAX_PART}; bump the other part.",
            )
        # a plain tuple of ints: versions are sorted and compared by the ten thousand
        self._key = (major, minor)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse ``v1.2`` (or ``1.2``). Raises :class:`InvalidNameError` otherwise."""
        # No strip(): "v1.2\n" or " v1.2" is not a version (it would not be its own tag name).
        match = _VERSION_RE.fullmatch(text) if isinstance(text, str) else None
        if not match:
            raise InvalidNameError(
                f"invalid version {text!r}",
                hint="Versions look like v0.1, v0.10 or v2.0 (v<major>.<minor>).",
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @property
    def major(self) -> int:
        return self._key[0]

    @property
    def minor(self) -> int:
        return self._key[1]

    def bump(self, part: str = "minor") -> Version:
        if part == "minor":
            return Version(self.major, self.minor + 1)
        if part == "major":
            return Version(self.major + 1, 0)
        raise InvalidNameError(f"invalid bump {part!r}", hint="Use --bump minor or --bump major.")

    @staticmethod
    def first() -> Version:
        return Version(0, 1)

    @staticmethod
    def next_after(latest: Version | None, part: str = "minor") -> Version:
        if part not in ("minor", "major"):
            raise InvalidNameError(
                f"invalid bump {part!r}", hint="Use --bump minor or --bump major."
            )
        if latest is None:
            return Version(1, 0) if part == "major" else Version.first()
        return latest.bump(part)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}"

    def __repr__(self) -> str:
        return f"Version({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key == other._key

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __hash__(self) -> int:
        return hash(self._key)


def tag_name(kind: Kind, version: Version) -> str:
    return f"{kind.value}/{version}"


#: ``model/vX.Y`` or ``data/vX.Y``, the parts read as :meth:`Version.parse` reads them
_TAG_RE = re.compile(r"(model|data)/v(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")
_KINDS = {k.value: k for k in Kind}


def parse_tag_name(name: str) -> tuple[Kind, Version] | None:
    """``model/v0.3`` -> (MODEL, v0.3); anything that is not a cpv tag -> None (one regular
    expression: a repository's every tag name is read this way)."""
    match = _TAG_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None or (match[2] == "0" and match[3] == "0"):  # v0.0 does not exist
        return None
    return _KINDS[match[1]], Version(int(match[2]), int(match[3]))


#: The manager of each kind, named in the hint when a version of the wrong kind is given.
MANAGER_OF = {"model": "ModelCheckpoints", "data": "DataCheckpoints"}


def parse_version_arg(
    text: str, *, within: Sequence[Kind] | None = None, action: str = ""
) -> tuple[Kind | None, Version]:
    """The one reading of a version someone named: ``v0.3``, ``model/v0.3`` or ``data/v0.3``.

    A bare version leaves the kind to the caller (None); ``model/v0.3`` means the model's
    version alone, also where both kinds are at hand.

    Args:
        text: what the user wrote.
        within: the kinds the caller acts on; a version of another kind is refused.
        action: the operation (``"revert"``, ``"pull"``…), named in the refusal's hint.

    Returns:
        The kind the text names (None for a bare version) and the version.

    Raises:
        InvalidNameError: the text is not a version.
        UsageError: the text names a kind outside ``within``.
    """
    kind: Kind | None = None
    body = text
    if "/" in text:
        kind_text, _, body = text.partition("/")
        if kind_text not in (Kind.MODEL.value, Kind.DATA.value):
            raise InvalidNameError(
                f"invalid version {text!r}",
                hint="Name a version as v0.3, model/v0.3 or data/v0.3.",
            )
        kind = Kind(kind_text)
    try:
        version = Version.parse(body)  # "v0.3" or "0.3", as --version accepts
    except InvalidNameError:
        raise InvalidNameError(
            f"invalid version {text!r}",
            hint="Name a version as v0.3, model/v0.3 or data/v0.3 (v<major>.<minor>).",
        ) from None
    if kind is not None and within is not None and kind not in within:
        raise _wrong_kind(text, kind, within, action)
    return kind, version


def _wrong_kind(text: str, kind: Kind, within: Sequence[Kind], action: str) -> UsageError:
    manager = MANAGER_OF[kind.value]
    if action == "clone":
        python, cli = (
            f"{manager}.clone(SOURCE, version={text!r})",
            f"cpv clone SOURCE --ref {text}",
        )
    elif action == "diff":
        python, cli = f"{manager}(path).diff(A, B)", f"cpv diff with two {kind.value} versions"
    elif action:
        python, cli = f"{manager}(path).{action}({text!r})", f"cpv {action} {text}"
    else:
        python, cli = f"{manager}(path)", f"cpv with --kind {kind.value}"
    mine = " and ".join(k.value for k in within)
    return UsageError(
        f"{text} is a {kind.value} version; this acts on {mine} versions only",
        hint=f"Use {python} in Python, or `{cli}`.",
    )
