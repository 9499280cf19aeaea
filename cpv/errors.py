"""The one exception hierarchy of cpv.

Every error carries a one-line message and a hint of what to do next. The CLI maps
them to exit codes in one place (``cpv.cli.main``); the library never prints.
"""

from __future__ import annotations

from pathlib import Path


class CpvError(Exception):
    """Base class of every error cpv raises on purpose."""

    exit_code = 1
    default_hint = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def __str__(self) -> str:
        return self.message


class UsageError(CpvError, ValueError):
    """The command line or the API call itself is wrong (exit code 2)."""

    exit_code = 2


class InvalidNameError(UsageError):
    """A team, model, version or tag name does not have the allowed form."""


class ConfigError(CpvError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        self.path = path
        if path is not None and str(path) not in message:
            message = f"{path}: {message}"
        super().__init__(message, hint=hint)


class NotARepositoryError(CpvError):
    default_hint = "Run the command inside a model repository, pass -C PATH, or create one with `cpv init TEAM/MODEL`."


class RepositoryExistsError(CpvError):
    pass


class VersionNotFoundError(CpvError, LookupError):
    default_hint = "List the versions with `cpv list`."


class VersionExistsError(CpvError):
    pass


class NothingToTagError(CpvError):
    pass


class DirtyWorkspaceError(CpvError):
    default_hint = "Commit or tag your changes first, or pass --force (the current content is saved to the cache first)."


class MissingDataError(CpvError):
    default_hint = "Push the data from the machine that made the version (`cpv push`), or check the remote with `cpv doctor`."


class IntegrityError(CpvError):
    default_hint = "The bytes do not match their recorded hash. Run `cpv pull` again; if it persists, the remote copy is damaged."


class LockTimeoutError(CpvError):
    default_hint = (
        "Another cpv command is working on this repository; wait for it, or raise CPV_LOCK_TIMEOUT."
    )


class RemoteError(CpvError):
    pass


class StorageError(CpvError):
    pass


class GitError(CpvError):
    pass


class DvcError(CpvError):
    pass


class InjectedFault(CpvError):
    """Raised by the fault-injection points used in tests (see ``cpv._faults``)."""
