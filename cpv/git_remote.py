"""Per-model Git remotes from the user's template: local bare repos or hosted repositories."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from pydantic import BaseModel

from cpv import _git
from cpv.config import GitSettings
from cpv.errors import RemoteError, RemoteNotFoundError, UsageError

_SCP_RE = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")
_PLACEHOLDER_RE = re.compile(r"{([^{}]*)}")


class RemoteCheck(BaseModel):
    url: str
    local: bool
    #: True when the host answered (hosted) or the bare repo path is usable (local).
    reachable: bool
    exists: bool
    message: str


def is_local(url: str) -> bool:
    """A path or ``file://`` URL, as opposed to ssh/https/scp-style ``user@host:path``."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return True
    if parsed.scheme in ("ssh", "git", "http", "https", "git+ssh", "ssh+git"):
        return False
    return not _SCP_RE.match(url)


def local_path(url: str) -> Path:
    return Path(urlparse(url).path if url.startswith("file://") else url).expanduser()


def validate_template(template: str) -> str:
    """A template uses only ``{team}`` and ``{model}`` and names one repo per model."""
    names = set(_PLACEHOLDER_RE.findall(template))
    unknown = names - {"team", "model"}
    if unknown:
        raise UsageError(
            f"bad git remote template {template!r}: unknown placeholder {{{sorted(unknown)[0]}}}",
            hint="Use only {team} and {model}, e.g. git@bitbucket.org:acme/{team}-{model}.git.",
        )
    if "model" not in names:
        raise UsageError(
            f"bad git remote template {template!r}: it has no {{model}} placeholder",
            hint="Each model needs its own repository, e.g. git@github.com:acme/{team}-{model}.git.",
        )
    if urlparse(template).password:
        raise UsageError(
            "the git remote template contains a password or token",
            hint="Use SSH (--ssh-key) or a git credential helper; never put secrets in the template.",
        )
    try:
        template.format(team="t", model="m")
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(f"bad git remote template {template!r}: {exc}") from exc
    return template


def _writable_ancestor(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            usable = candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
            return candidate if usable else None
    return None


def check(url: str) -> RemoteCheck:
    """Whether the remote is usable: a writable local path, or a host that answers ``ls-remote``."""
    if is_local(url):
        path = local_path(url)
        if (path / "HEAD").is_file():
            ok = os.access(path, os.W_OK)
            return RemoteCheck(
                url=url,
                local=True,
                reachable=ok,
                exists=True,
                message=f"bare repository {path} {'is writable' if ok else 'is not writable'}",
            )
        anc = _writable_ancestor(path)
        return RemoteCheck(
            url=url,
            local=True,
            reachable=anc is not None,
            exists=False,
            message=f"{path} will be created as a bare repository"
            if anc is not None
            else f"cannot create {path}: no write permission (or a parent is not a directory)",
        )
    try:
        _git.ls_remote(url, "HEAD")
    except RemoteNotFoundError:
        return RemoteCheck(
            url=url,
            local=False,
            reachable=True,
            exists=False,
            message="host reached; the repository does not exist yet",
        )
    except RemoteError as exc:
        return RemoteCheck(url=url, local=False, reachable=False, exists=False, message=str(exc))
    return RemoteCheck(
        url=url, local=False, reachable=True, exists=True, message="repository reachable"
    )


def ensure(settings: GitSettings, *, team: str, model: str) -> str:
    """The model's remote URL, creating a local bare repository when it is missing.

    Raises:
        RemoteNotFoundError: the hosted repository does not exist.
        RemoteError: the host cannot be reached or refuses us (a subclass says why).
    """
    url = settings.remote_url(team, model)
    if is_local(url):
        result = check(url)
        if not result.reachable:
            raise RemoteError(
                result.message, url=url, hint="Fix the git remote template (`cpv configure`)."
            )
        if not result.exists:
            _git.init_bare(local_path(url))
        return url
    try:
        _git.ls_remote(url, "HEAD")
    except RemoteNotFoundError as exc:
        raise RemoteNotFoundError(
            f"git repository {url} does not exist",
            url=url,
            hint="Create it on your Git host (empty, no README), then run the command again.",
        ) from exc
    return url
