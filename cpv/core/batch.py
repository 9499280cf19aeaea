"""Acting on every model repository in a folder: ``cpv status|push|pull|list --recursive``.

The folder is not inside a model repository; the repositories are every one below it, found
by :func:`find_model_repos`. :func:`run_each` runs one
action on each, records each outcome, and carries on past a failing model: one broken
repository never hides the state of the others.

From Python::

    from cpv.core.batch import find_model_repos, run_each
    from cpv.api.managers import manager_for

    result = run_each(find_model_repos("~/models"), lambda p: manager_for("all", p).push())
    failed = [m.path for m in result.models if not m.ok]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from cpv.domain.errors import CpvError, NotARepositoryError, UsageError

#: Folders never searched for model repositories.
SKIPPED = frozenset({"node_modules", "venv", "__pycache__", "site-packages"})

#: How deep below the folder model repositories are looked for: ``model/`` and
#: ``team/model/`` (the layout ``cpv clone TEAM/MODEL`` and most teams use).
DEPTH = 2


class ModelOutcome(BaseModel):
    """What one action did to one model repository."""

    #: the repository's folder
    path: Path
    ok: bool
    #: why it failed (one line), and what to do about it
    error: str | None = None
    hint: str | None = None
    #: the action's own result, as its command's ``--json`` prints it
    result: Any = None


class BatchResult(BaseModel):
    """One action over several model repositories, in path order."""

    models: list[ModelOutcome] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.models)

    @property
    def failed(self) -> list[ModelOutcome]:
        return [m for m in self.models if not m.ok]


def is_model_repo(path: Path) -> bool:
    """Whether ``path`` is the root of a model repository (``cpv.yaml`` beside ``.git``)."""
    return (path / "cpv.yaml").is_file() and (path / ".git").exists()


def inside_model_repo(path: Path) -> bool:
    """Whether ``path`` is in a model repository (its root or any folder below it)."""
    from cpv.core.repo import ModelRepo

    try:
        ModelRepo.open(path)
    except NotARepositoryError:
        return False
    return True


def find_model_repos(folder: str | Path, *, depth: int = DEPTH) -> list[Path]:
    """Every model repository below ``folder`` (``depth`` levels down at most), sorted.

    Hidden folders and virtual environments are skipped, and the search never descends
    into a repository (a model's own sub-folders are not models).

    Raises:
        NotARepositoryError: ``folder`` does not exist or holds no model repository.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise NotARepositoryError(f"no such directory: {root}")
    found: list[Path] = []
    level = [root]
    for _ in range(depth):
        below: list[Path] = []
        for parent in level:
            for child in _subfolders(parent):
                (found if is_model_repo(child) else below).append(child)
        level = below
    if not found:
        raise NotARepositoryError(
            f"no model repository in {root} (looked {depth} levels down)",
            hint="Run it from the folder that holds your model repositories, or pass -C DIR.",
        )
    return sorted(found)


def _subfolders(parent: Path) -> Iterable[Path]:
    try:
        children = sorted(parent.iterdir())
    except OSError:
        return []
    return [
        c
        for c in children
        if c.is_dir() and not c.name.startswith(".") and c.name not in SKIPPED and not _venv(c)
    ]


def _venv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file()


def run_each(repos: Iterable[Path], action: Callable[[Path], Any]) -> BatchResult:
    """Run ``action`` on each repository; record its result, or its error, and go on.

    A :class:`~cpv.domain.errors.CpvError` is recorded with its message and hint; any other
    exception as ``unexpected TYPE: message``. ``KeyboardInterrupt`` stops the batch.
    Results that are pydantic models are stored as their JSON form.
    """
    outcomes = []
    for path in repos:
        try:
            value = action(path)
        except CpvError as exc:
            outcomes.append(ModelOutcome(path=path, ok=False, error=exc.message, hint=exc.hint))
            continue
        except Exception as exc:  # one broken model never stops the others
            outcomes.append(
                ModelOutcome(
                    path=path,
                    ok=False,
                    error=f"unexpected {type(exc).__name__}: {exc}",
                    hint="Run the command inside that model's folder (CPV_DEBUG=1 for details).",
                )
            )
            continue
        outcomes.append(ModelOutcome(path=path, ok=True, result=_jsonable(value)))
    return BatchResult(models=outcomes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def refuse_inside_repo(path: Path, command: str) -> None:
    """``cpv COMMAND --recursive`` inside a repository: refused (it acts on a folder of them).

    Raises:
        UsageError: ``path`` is inside a model repository.
    """
    if inside_model_repo(path):
        raise UsageError(
            f"`cpv {command} --recursive` acts on a folder of model repositories, and {path} is "
            "inside one",
            hint=f"Run it from the folder that holds your models (or pass -C DIR); here, "
            f"run `cpv {command}` without --recursive.",
        )
