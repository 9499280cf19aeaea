"""The one exception hierarchy of cpv.

Every error carries a one-line message, a hint of what to do next and its data as
attributes (``paths``, ``tag``, ``objects``, ``url``, ``bucket`` …). Where a built-in
exception means the same thing, the error is also one (a missing bucket is a
:class:`LookupError`, a refused key a :class:`PermissionError`), so plain ``except``
clauses work too.

Adapters (``cpv._git``, ``cpv._dvc``, ``cpv._s3``) translate foreign failures into these
types; nobody matches message text. The CLI maps them to exit codes in one place
(``cpv.cli.main.main``); the library never prints.

Exit codes:

=====  ==========================================================================
0      success
1      a failed operation (any :class:`CpvError`), or an unexpected error; also, quietly,
       when the reader of the output went away (``cpv list | head -1``)
2      usage: bad arguments, names or values (:class:`UsageError`)
130    interrupted (Ctrl-C) or cancelled at a prompt (:class:`Cancelled`)
=====  ==========================================================================
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class CpvError(Exception):
    """Base class of every error cpv raises on purpose."""

    exit_code = EXIT_ERROR
    default_hint = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> CpvError:
        # OSError-derived subclasses refuse keyword arguments in ``__new__``.
        return super().__new__(cls, *args[:1])

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


# --- usage and configuration ---------------------------------------------------------
class UsageError(CpvError, ValueError):
    """The command line or the API call itself is wrong (exit code 2)."""

    exit_code = EXIT_USAGE


class InvalidNameError(UsageError):
    """A team, model, version or tag name does not have the allowed form."""


class Cancelled(CpvError):
    """The user cancelled an interactive prompt."""

    exit_code = EXIT_INTERRUPTED
    default_hint = "Nothing was saved."


class ConfigError(CpvError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        self.path = path
        if path is not None and str(path) not in message:
            message = f"{path}: {message}"
        super().__init__(message, hint=hint)


class VerificationFailed(CpvError):
    """New settings did not pass verification; nothing was saved (``result`` says why)."""

    default_hint = "Fix the value named above and run `cpv configure` again, or pass --no-verify."

    def __init__(self, message: str, *, result: Any, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.result = result


class ChecksFailed(CpvError):
    """``cpv doctor`` found failing checks."""

    default_hint = (
        "Each failed check above says what to do; run `cpv doctor` again after fixing it."
    )


class SshKeyError(CpvError):
    """The SSH key is missing, unreadable, too open, or could not be generated."""

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


# --- repositories and versions ---------------------------------------------------------
class NotARepositoryError(CpvError):
    default_hint = "Run the command inside a model repository, pass -C PATH, or create one with `cpv init TEAM/MODEL`."

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class RepositoryExistsError(CpvError, FileExistsError):
    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = self.filename = path


class VersionNotFoundError(CpvError, LookupError):
    default_hint = "List the versions with `cpv list`."

    def __init__(self, message: str, *, tag: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tag = tag


class VersionExistsError(CpvError):
    def __init__(self, message: str, *, tag: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.tag = tag


class NothingToTagError(CpvError):
    def __init__(self, message: str, *, paths: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.paths = list(paths)


class DirtyWorkspaceError(CpvError):
    default_hint = "Commit or tag your changes first, or pass --force (the current content is saved to the cache first)."

    def __init__(self, message: str, *, paths: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.paths = list(paths)


class MissingDataError(CpvError, FileNotFoundError):
    """Objects of a version are in neither the cache nor the remote (``objects``: their ids)."""

    default_hint = "Push the data from the machine that made the version (`cpv push`), or check the remote with `cpv doctor`."

    def __init__(
        self, message: str, *, objects: Sequence[str] = (), hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.objects = list(objects)


class IntegrityError(CpvError):
    default_hint = "The bytes do not match their recorded hash. Run `cpv pull` again; if it persists, the remote copy is damaged."

    def __init__(self, message: str, *, paths: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.paths = list(paths)


class LockTimeoutError(CpvError, TimeoutError):
    default_hint = (
        "Another cpv command is working on this repository; wait for it, or raise CPV_LOCK_TIMEOUT."
    )

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        timeout: float | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.timeout = timeout


# --- local files -----------------------------------------------------------------------
class DiskFullError(CpvError, OSError):
    """No space left on the device holding ``path`` (``errno`` is ENOSPC)."""

    default_hint = "Free some space (or move CPV_HOME / the repository to a larger disk), then run the command again."

    def __init__(self, message: str, *, path: Path | str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.path = self.filename = path
        self.errno = errno.ENOSPC


class PathNotWritableError(CpvError, PermissionError):
    """``path`` cannot be written: read-only file system, no permission, or a parent that
    is not a directory (``errno`` says which)."""

    default_hint = (
        "Choose a writable location (for cpv's own files set CPV_HOME), or fix the permissions."
    )

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        os_errno: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, hint=hint)
        self.path = self.filename = path
        self.errno = os_errno


_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}


def os_error(exc: OSError, *, hint: str | None = None) -> CpvError | None:
    """The cpv error for a full disk or an unwritable path, None for any other OSError."""
    if isinstance(exc, CpvError):
        return exc
    path = exc.filename
    where = f" {path}" if path else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left on the device to write{where}", path=path, hint=hint)
    if exc.errno in _NOT_WRITABLE:
        reason = exc.strerror or "not writable"
        if exc.errno == errno.ENOTDIR:
            reason = "a parent of it is not a directory"
        if hint is None and path:
            from cpv.config import cpv_home

            home = cpv_home()
            if Path(str(path)) == home or home in Path(str(path)).parents:
                hint = f"Set CPV_HOME to a writable directory (it is {home})."
        verb = "write" if exc.errno in (errno.EROFS, errno.ENOTDIR) else "access"
        return PathNotWritableError(
            f"cannot {verb}{where}: {reason.lower()}", path=path, os_errno=exc.errno, hint=hint
        )
    return None


# --- git remotes -----------------------------------------------------------------------
class RemoteError(CpvError):
    """A git remote failed (``url``: the remote)."""

    default_hint = "Check the git remote with `cpv doctor`."

    def __init__(self, message: str, *, url: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class RemoteNotFoundError(RemoteError, LookupError):
    """The host answered, but the repository does not exist (or is hidden from us)."""

    default_hint = "Create the repository on your Git host (empty, no README), or fix the URL."


class RemoteUnreachableError(RemoteError, ConnectionError):
    """The host did not answer (DNS, refused connection, timeout)."""

    default_hint = "Check the URL and your network; `cpv doctor` repeats the check."


class RemoteAccessDeniedError(RemoteError, PermissionError):
    """The host refused our identity (e.g. ``Permission denied (publickey)``)."""

    default_hint = (
        "Add your SSH public key to the Git host (`cpv configure --ssh-key`), or check your access."
    )


class HostKeyError(RemoteAccessDeniedError):
    """The SSH host key of ``host`` is unknown or changed; cpv never accepts one silently."""

    default_hint = "Verify the host's key, then add it: ssh-keyscan HOST >> ~/.ssh/known_hosts."

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        host: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, url=url, hint=hint)
        self.host = host
        if host and hint is None:
            self.hint = (
                f"Verify the host's key, then add it: ssh-keyscan {host} >> ~/.ssh/known_hosts."
            )


class PushRejectedError(RemoteError):
    """The remote moved while we pushed (non-fast-forward, a tag that now exists, a ref
    updated concurrently): fetching and trying again can succeed. ``refs``: the refused refs."""

    default_hint = "Someone pushed at the same time: run `cpv push` again."

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        refs: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, url=url, hint=hint)
        self.refs = list(refs)


class HookRejectedError(RemoteError):
    """A server-side hook refused the push; ``hook_output`` is the hook's own text."""

    default_hint = "The Git host's rules refused the push (see its message); ask its admin or fix what it names."

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        refs: Sequence[str] = (),
        hook_output: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, url=url, hint=hint)
        self.refs = list(refs)
        self.hook_output = hook_output


# --- storage (S3-compatible or local DVC remote) --------------------------------------------
class StorageError(CpvError):
    """The storage failed (``bucket``, ``endpoint``: where, when known)."""

    default_hint = "Check the storage with `cpv doctor`."

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        endpoint: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.bucket = bucket
        self.endpoint = endpoint


class BucketNotFoundError(StorageError, LookupError):
    default_hint = "Create the bucket in your provider's console, or fix --bucket / --region (`cpv configure`)."


class StorageAccessDeniedError(StorageError, PermissionError):
    """The keys are valid but may not read or write this bucket."""

    default_hint = (
        "Grant these keys read/write/delete on the bucket, or use other keys (`cpv configure`)."
    )


class StorageCredentialsError(StorageError, PermissionError):
    """No credentials, or the storage rejected them (``code``: the provider's error code,
    ``source``: where the credentials came from)."""

    default_hint = "Check the access key id and secret (`cpv configure` stores new ones; `cpv doctor` shows which are in use)."

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        endpoint: str | None = None,
        code: str | None = None,
        source: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, bucket=bucket, endpoint=endpoint, hint=hint)
        self.code = code
        self.source = source


class ProfileNotFoundError(StorageError, LookupError):
    """The AWS profile named in the settings or ``AWS_PROFILE`` is not defined."""

    def __init__(self, message: str, *, profile: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.profile = profile
        if hint is None:
            self.hint = (
                f"Define it (`aws configure --profile {profile or 'NAME'}`), "
                "or pick other credentials with `cpv configure`."
            )


class StorageUnreachableError(StorageError, ConnectionError):
    default_hint = "Check the endpoint URL / region (`cpv configure`) and your network; `cpv doctor` repeats the check."


# --- adapters' catch-alls ----------------------------------------------------------------
class GitError(CpvError):
    pass


class DvcError(CpvError):
    pass


class InjectedFault(CpvError):
    """Raised by the fault-injection points used in tests (see ``cpv._faults``)."""
