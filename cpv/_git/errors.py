"""What git's and ssh's words mean, as cpv's remote errors.

git has no machine-readable errors, so this is the one place that reads its text: the
stderr of a failed command (ssh's complaint, git's ``fatal:``) and the per-ref status
lines of ``git push --porcelain``. Callers get :mod:`cpv.domain.errors` types with their data.
The failed command is a ``subprocess.CalledProcessError`` (``stdout``, ``stderr``,
``returncode``) from :func:`cpv._git.exec.git_exec`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from cpv.domain.errors import (
    HookRejectedError,
    HostKeyError,
    PushRejectedError,
    RemoteAccessDeniedError,
    RemoteError,
    RemoteNotFoundError,
    RemoteUnreachableError,
)

_HOST_KEY = ("host key verification failed", "remote host identification has changed")
_DENIED = (
    "permission denied",
    "authentication failed",
    "could not read username",
    "access denied",
    "403 forbidden",
)
_NOT_FOUND = (
    "does not appear to be a git repository",
    "repository not found",
    "not found",
    "does not exist",
    "could not be found",
)
_UNREACHABLE = (
    "could not resolve",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "network is unreachable",
    "no route to host",
    "connection reset",
    "failed to connect",
)
#: git's closing advice after any failure to reach a remote: never the cause.
_GENERIC = (
    "could not read from remote repository",
    "please make sure you have the correct access rights",
    "and the repository exists",
)


def _stderr_lines(exc: Any) -> list[str]:
    stderr = (exc.stderr or "").strip().replace("stderr: ", "").strip("'\" \n")
    return [line.strip() for line in stderr.splitlines() if line.strip()]


def _host(url: str) -> str | None:
    parsed = urlparse(url)
    if parsed.hostname:
        return parsed.hostname
    head = url.split(":", 1)[0]
    return head.rsplit("@", 1)[-1] if ":" in url and "/" not in head else None


def remote_error(exc: Any, url: str) -> RemoteError:
    """The typed error for a git command that failed to talk to the remote ``url``."""
    lines = _stderr_lines(exc)
    # The cause (ssh's or git's first complaint), not git's generic closing advice.
    detail = next(
        (line for line in lines if not any(g in line.lower() for g in _GENERIC)),
        lines[0] if lines else f"exit {exc.returncode}",
    )
    text = "\n".join(lines).lower()
    message = f"cannot reach git remote {url}: {detail}"
    if any(marker in text for marker in _HOST_KEY):
        host = _host(url)
        return HostKeyError(
            f"the SSH host key of {host or url} is unknown or has changed", url=url, host=host
        )
    if any(marker in text for marker in _DENIED):
        return RemoteAccessDeniedError(message, url=url)
    if any(marker in text for marker in _UNREACHABLE):
        return RemoteUnreachableError(message, url=url)
    if any(marker in text for marker in _NOT_FOUND):
        return RemoteNotFoundError(f"git repository {url} does not exist", url=url)
    return RemoteError(
        message,
        url=url,
        hint="Check the URL and your access (`cpv doctor`); a hosted repository must exist first.",
    )


#: ``[rejected]`` / ``[remote rejected]`` reasons meaning "the remote moved meanwhile".
_RACE_REASONS = (
    "fetch first",
    "non-fast-forward",
    "already exists",
    "stale info",
    "atomic push failed",
    "atomic transaction failed",
    "incorrect old value",
    "failed to update ref",
    "failed to lock",
    "cannot lock ref",
)


def push_error(exc: Any, url: str) -> RemoteError:
    """Read ``git push --porcelain``'s per-ref status lines (``!\tsrc:dst\t[rejected] (why)``)."""
    rejected: list[tuple[str, str]] = []
    for line in str(exc.stdout or "").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == "!":
            rejected.append((parts[1].split(":")[-1], parts[2]))
    if not rejected:
        return remote_error(exc, url)
    refs = [ref for ref, _ in rejected]
    if any("hook declined" in status for _, status in rejected):
        hook = [
            line.removeprefix("remote:").strip()
            for line in _stderr_lines(exc)
            if line.startswith("remote:") and line.removeprefix("remote:").strip()
        ]
        said = f": {hook[0]}" if hook else ""
        return HookRejectedError(
            f"the git remote {url} refused the push{said}",
            url=url,
            refs=refs,
            hook_output="\n".join(hook),
        )
    if all(any(r in status for r in _RACE_REASONS) for _, status in rejected):
        return PushRejectedError(
            f"the git remote {url} changed while pushing {', '.join(refs)}", url=url, refs=refs
        )
    ref, status = next((r, s) for r, s in rejected if not any(x in s for x in _RACE_REASONS))
    return RemoteError(
        f"the git remote {url} refused {ref}: {status.strip()}",
        url=url,
        hint="Check your rights on the Git host (`cpv doctor`).",
    )
