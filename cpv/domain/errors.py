"""The one exception hierarchy of cpv.

Every error carries a one-line message, a hint of what to do next and its data as attributes
(``paths``, ``tag``, ``url`` …); where a built-in exception means the same thing, the error is
also one (a missing bucket is a :class:`LookupError`), so plain ``except`` clauses work too.
Adapters (``cpv._git.repo``, ``cpv._dvc.repo``, ``cpv._s3.client``) translate foreign failures into these
types; nobody matches message text. The CLI maps them to exit codes in one place
(``cpv.cli.main.main``): 0 success; 1 a failed operation (any :class:`CpvError`), an
unexpected error, or (quietly) a reader that went away; 2 usage (:class:`UsageError`);
130 interrupted or cancelled (:class:`Cancelled`).
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
    """Base class of every error cpv raises on purpose.

    ``CpvError(message, *, hint=None, **data)``: ``data`` sets the fields a subclass
    declares (``path``, ``url``, ``bucket`` …, each with a class-level default).
    """

    exit_code = EXIT_ERROR
    default_hint = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> CpvError:
        # OSError-derived subclasses refuse keyword arguments in ``__new__``.
        return super().__new__(cls, *args[:1])

    def __init__(self, message: str, *, hint: str | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in data.items():
            if name.startswith("_") or name in _RESERVED or not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, list(value) if isinstance(value, tuple) else value)
        self.hint = hint if hint is not None else self._default_hint()

    def _default_hint(self) -> str:
        return self.default_hint

    def __str__(self) -> str:
        return self.message


_RESERVED = frozenset({"message", "hint", "exit_code", "default_hint", "args"})


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
    """A configuration file is missing, unreadable or invalid (``path``: which)."""

    path: Path | None = None

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        if path is not None and str(path) not in message:
            message = f"{path}: {message}"
        super().__init__(message, hint=hint, path=path)


class VerificationFailed(CpvError):
    """New settings did not pass verification; nothing was saved (``result`` says why)."""

    default_hint = "Fix the value named above and run `cpv configure` again, or pass --no-verify."
    result: Any = None


class ChecksFailed(CpvError):
    """``cpv doctor`` found failing checks."""

    default_hint = "Each failed check above says what to do; run `cpv doctor` again after fixing it."  # fmt: skip


class SshKeyError(CpvError):
    """The SSH key at ``path`` is missing, unreadable, too open, or could not be generated."""

    path: Path | None = None


# --- repositories and versions ---------------------------------------------------------
class NotARepositoryError(CpvError):
    default_hint = "Run the command inside a model repository, pass -C PATH, or create one with `cpv init TEAM/MODEL`."
    path: Path | None = None


class RepositoryExistsError(CpvError, FileExistsError):
    path: Path | None = None


class VersionNotFoundError(CpvError, LookupError):
    default_hint = "List the versions with `cpv list`."
    tag: str | None = None


class VersionExistsError(CpvError):
    tag: str | None = None


class NothingToTagError(CpvError):
    paths: Sequence[str] = ()


class DirtyWorkspaceError(CpvError):
    default_hint = "Commit or tag your changes first, or pass --force (the current content is saved to the cache and kept under refs/cpv/backups/ first)."
    paths: Sequence[str] = ()


class MissingDataError(CpvError, FileNotFoundError):
    """Objects of a version are in neither the cache nor the remote (``objects``: their ids)."""

    default_hint = "Push the data from the machine that made the version (`cpv push`), or check the remote with `cpv doctor`."
    objects: Sequence[str] = ()


class IntegrityError(CpvError):
    default_hint = "The bytes do not match their recorded hash. Run `cpv pull` again; if it persists, the remote copy is damaged."
    paths: Sequence[str] = ()


class InvalidObjectIdError(IntegrityError, ValueError):
    """An object id or path, read from git or the storage, that cpv and DVC never write (``oid``,
    read in ``where``: a version, commit or storage): that version is refused, nothing touched."""

    oid: str = ""
    where: str = ""


class LockTimeoutError(CpvError, TimeoutError):
    default_hint = "Another cpv command is working on this repository; wait for it, or raise CPV_LOCK_TIMEOUT."  # fmt: skip
    path: Path | None = None
    timeout: float | None = None


# --- local files -----------------------------------------------------------------------
class DiskFullError(CpvError, OSError):
    """No space left on the device holding ``path`` (``errno`` is ENOSPC)."""

    default_hint = "Free some space (or move CPV_HOME / the repository to a larger disk), then run the command again."
    path: Path | str | None = None

    def __init__(self, message: str, *, hint: str | None = None, **data: Any) -> None:
        super().__init__(message, hint=hint, **data)
        self.errno, self.filename = errno.ENOSPC, self.path


class PathNotWritableError(CpvError, PermissionError):
    """``path`` cannot be written: read-only file system, no permission, or a parent that
    is not a directory (``errno`` says which)."""

    default_hint = "Choose a writable location (for cpv's own files set CPV_HOME), or fix the permissions."  # fmt: skip
    path: Path | str | None = None

    def __init__(self, message: str, *, hint: str | None = None, **data: Any) -> None:
        super().__init__(message, hint=hint, **data)
        self.filename = self.path


# --- git remotes -----------------------------------------------------------------------
class RemoteError(CpvError):
    """A git remote failed (``url``: the remote)."""

    default_hint = "Check the git remote with `cpv doctor`."
    url: str | None = None


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

    host: str | None = None

    def _default_hint(self) -> str:
        return f"Verify the host's key, then add it: ssh-keyscan {self.host or 'HOST'} >> ~/.ssh/known_hosts."


class PushRejectedError(RemoteError):
    """The remote moved while we pushed (non-fast-forward, a tag that now exists, a ref
    updated concurrently): fetching and trying again can succeed. ``refs``: the refused refs."""

    default_hint = "Someone pushed at the same time: run `cpv push` again."
    refs: Sequence[str] = ()


class DeletionInProgressError(RemoteError):
    """Another clone's ``gc --remote``/``delete --remote`` holds the model's deletion lease
    (``refs/cpv/gc`` on the git remote): publishing waits until it ends."""

    default_hint = "Run the command again once it ends (`cpv status` shows who holds it)."


class HookRejectedError(RemoteError):
    """A server-side hook refused the push; ``hook_output`` is the hook's own text."""

    default_hint = "The Git host's rules refused the push (see its message); ask its admin or fix what it names."
    refs: Sequence[str] = ()
    hook_output: str = ""


# --- storage (S3-compatible or local DVC remote) --------------------------------------------
class StorageError(CpvError):
    """The storage failed (``bucket``, ``endpoint``: where, when known)."""

    default_hint = "Check the storage with `cpv doctor`."
    bucket: str | None = None
    endpoint: str | None = None


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
    code: str | None = None
    source: str | None = None


class ProfileNotFoundError(StorageError, LookupError):
    """The AWS ``profile`` named in the settings or ``AWS_PROFILE`` is not defined."""

    profile: str | None = None

    def _default_hint(self) -> str:
        return f"Define it (`aws configure --profile {self.profile or 'NAME'}`), or pick other credentials with `cpv configure`."


class StorageUnreachableError(StorageError, ConnectionError):
    default_hint = "Check the endpoint URL / region (`cpv configure`) and your network; `cpv doctor` repeats the check."


# --- adapters' catch-alls ----------------------------------------------------------------
class GitError(CpvError): ...


class GitLockedError(GitError):
    """git's lock file (``path``, e.g. ``.git/index.lock``) exists: git runs, or crashed."""

    path: Path | str | None = None

    def _default_hint(self) -> str:
        return f"If no other git command is running in this repository, remove {self.path} and run the command again."


class DvcError(CpvError): ...


# --- training integrations -------------------------------------------------------------
class VersioningError(CpvError):
    """Saves made during training could not all be versioned or pushed (``outcomes``: every
    save's ``VersionOutcome``; ``report``: their ``VersioningReport``)."""

    outcomes: list[Any] = []  # noqa: RUF012 - a class-level default, replaced per instance
    report: Any = None

    @property
    def failures(self) -> list[Any]:
        return [o for o in self.outcomes if not o.ok]


class InjectedFault(CpvError):
    """Raised by the fault-injection points used in tests (see ``cpv._faults``)."""


class JournalReplayError(CpvError):
    """The journal of an interrupted change (``path``, ``.git/cpv/txn.json``) could not be
    replayed or rolled back (``op``: the change, ``reason``: why); it is kept as it was."""

    default_hint = "Run `cpv repair` to see it, `cpv repair --discard` to drop it."
    path: Path | None = None
    op: str | None = None
    reason: str = ""


class StorageNotCheckedError(StorageError):
    """``cpv init`` could not check the storage's bucket (the endpoint did not answer, or no
    credentials were found; ``reason``: which): nothing was created."""

    default_hint = "Fix the storage settings (`cpv configure`, `cpv doctor`), or pass --no-verify to create the model without checking."
    reason: str = ""


class StorageNotConfiguredError(StorageError):
    """A model's data is on S3 storage (``url``), none is configured here (no `cpv configure`)."""

    url: str | None = None


class VersionRemovedError(MissingDataError):
    """The version ``tag`` was removed on purpose (``action``: ``gc`` or ``delete``) by
    ``by`` at ``at``: its removal marker ``removed/<tag>`` says so."""

    default_hint = "Pick another version (`cpv list`); its metadata stays (`cpv show`)."
    tag: str | None = None
    action: str = ""
    by: str = ""
    at: str = ""


class PromotionRefusedError(CpvError):  # ``tag`` fails ``alias``'s rules in cpv.yaml: ``failed``
    default_hint = "Promote a version that meets the rules (cpv.yaml: promotion), or override them with --force (force=True), which the move records."
    alias: str = ""
    tag: str | None = None
    failed: list[str] = []  # noqa: RUF012 - a default, replaced per instance


class MissingExtraError(CpvError, ImportError):
    """An optional extra is not installed (``cpv compare --html`` needs ``report``)."""


class RecipeError(IntegrityError, ValueError):  # compact storage: a bad recipe or rebuild
    where: str = ""


class DistributedSaveError(CpvError):  # many ranks' save: no version; ``failed``: rank -> why
    failed: dict[int, str] = {}  # noqa: RUF012 - a default, replaced per instance
