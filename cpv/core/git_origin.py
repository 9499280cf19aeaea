"""Each model's git remote (``origin``): is it usable — a bare repository on a writable
local path, or a hosted repository that answers — and creating the local bare one.

Its URL comes from the user's template (:meth:`cpv.settings.config.GitSettings.remote_url`); what
kind of URL it is, from :func:`cpv.settings.urls.git_kind`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from cpv._git import repo as _git
from cpv.domain.errors import RemoteError, RemoteNotFoundError
from cpv.settings.config import GitSettings
from cpv.settings.urls import git_kind, local_path


class RemoteCheck(BaseModel):
    url: str
    local: bool
    #: True when the host answered (hosted) or the bare repo path is usable (local).
    reachable: bool
    exists: bool
    message: str


def _writable_ancestor(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if candidate.exists():
            usable = candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)
            return candidate if usable else None
    return None


def check(url: str) -> RemoteCheck:
    """Whether the remote is usable: a writable local path, or a host that answers ``ls-remote``."""
    if git_kind(url).local:
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
    if git_kind(url).local:
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
