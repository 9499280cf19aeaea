"""The Python API: Model, Data and Combined checkpoint managers.

```python
from cpv import ModelCheckpoints
models = ModelCheckpoints(".")
result = models.tag(metrics={"wer": 0.21}, message="lr 3e-4")
print(result.tag, result.version, result.size_mb)
models.push()
```

The ``cpv`` commands call these same methods: what a command does, the manager does.
A version is named bare (``v0.3``: this manager's kinds) or with its kind (``model/v0.3``:
that kind alone). :class:`ModelCheckpoints` refuses ``data/v0.3`` with a
:class:`~cpv.domain.errors.UsageError` naming the right manager (and vice versa);
:class:`CombinedCheckpoints` acts on the named kind alone (``revert("model/v0.3")``
leaves the data).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from cpv.api.aliases import AliasMethods
from cpv.api.retention import RetentionMethods
from cpv.api.sync import SyncMethods
from cpv.core.refs import resolve_arg
from cpv.core.repo import ModelRepo

# Each method forwards to the module of its command, cpv/ops/<command>.py. init, clone, tag,
# push, pull, remote, revert and status are imported where used: `cpv list` starts faster.
from cpv.domain.errors import UsageError
from cpv.domain.metadata import VersionRecord
from cpv.domain.paths import StrPath
from cpv.domain.progress import Progress, reporting
from cpv.domain.progress import reports_progress as _reporting
from cpv.domain.results import (
    DiffResult,
    InitResult,
    PullResult,
    RevertResult,
    StatusResult,
    TagResult,
)
from cpv.domain.versions import Kind, Version
from cpv.ops import show as show_op

if TYPE_CHECKING:
    from cpv.domain.comparison import Comparison

M = TypeVar("M", bound="CheckpointManager")


class CheckpointManager(SyncMethods, AliasMethods, RetentionMethods):
    """The versions of one model repository, for one kind or both (see the subclasses)."""

    kinds: ClassVar[tuple[Kind, ...]]

    def __init__(self, path: StrPath = ".", *, progress: Progress | None = None) -> None:
        """Open the model repository at ``path`` (or above it).

        Args:
            path: the repository root or any directory inside it.
            progress: receives transfer, hashing and lock-wait progress (default: nothing).

        Raises:
            NotARepositoryError: ``path`` is not inside a cpv model repository.
            ConfigError: its ``cpv.yaml`` is invalid.
        """
        self.repo = ModelRepo.open(path)
        self.progress = progress

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    @classmethod
    def init(
        cls: type[M],
        *,
        team: str,
        model: str,
        path: StrPath | None = None,
        storage: str | None = None,
        git_remote: str | None = None,
        template: str | None = None,
        verify: bool = True,
        progress: Progress | None = None,
    ) -> tuple[M, InitResult]:
        """Create a model repository ``team/model`` and open it.

        Args:
            team: the team name (lowercase letters, digits, ``-``, ``_``).
            model: the model name (same form).
            path: where to create it (default: ``./<model>``); must be absent or empty.
            storage: storage root URL or path; the model's bytes go to ``<storage>/<team>/<model>``
                (default: the configured storage, else ``$CPV_HOME/storage``).
            git_remote: the git remote URL (default: from ``cpv configure``, else a local bare
                repository under ``$CPV_HOME/git``).
            template: a training scaffold to render (see ``cpv templates``); ``"none"`` for none.
            verify: first check that an ``s3://`` storage's bucket exists (False: don't).
            progress: kept by the returned manager (see :meth:`__init__`).

        Returns:
            The manager of the new repository, and what was created.

        Raises:
            InvalidNameError: ``team`` or ``name`` is not a valid name.
            RepositoryExistsError: the folder already holds a repository.
            UsageError: an unknown template.
            RemoteError: the git remote is missing or unreachable.
            StorageError: the bucket check failed.
            GitError: git itself failed.
        """
        from cpv.ops.init import init_repository

        root = init_repository(
            team=team,
            model=model,
            path=path,
            storage=storage,
            git_remote=git_remote,
            template=template,
            verify=verify,
        )
        return cls(root, progress=progress), InitResult(path=str(root), team=team, model=model)

    @classmethod
    def clone(
        cls: type[M],
        source: StrPath,
        dest: StrPath | None = None,
        *,
        version: str | None = None,
        jobs: int | None = None,
        progress: Progress | None = None,
    ) -> tuple[M, PullResult]:
        """Clone a model repository and fetch this manager's kind(s) of bytes, hash-verified.

        Args:
            source: ``TEAM/MODEL`` (through the configured git remote template), a URL or a path.
            dest: the directory to clone into (default: ``./<model>``); must be absent or empty.
            version: materialize this version instead of the branch head.
            jobs: parallel downloads.
            progress: receives download progress; kept by the returned manager.

        Returns:
            The manager of the clone, and what was fetched.

        Raises:
            UsageError: ``dest`` is not empty, or ``version`` is of another kind.
            RemoteError: the git remote is unreachable.
            MissingDataError: an object of the version is in no storage.
            IntegrityError: a download did not match its hash.
            VersionNotFoundError: ``version`` does not exist.
        """
        with reporting(progress):
            from cpv.ops.pull import clone

            root, result = clone(source, dest, version=version, kinds=cls.kinds, jobs=jobs)
        return cls(root, progress=progress), result

    @_reporting
    def tag(
        self,
        *,
        message: str = "",
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        version: str | None = None,
        bump: str | None = None,
        force: bool = False,
        dry_run: bool = False,
        source: StrPath | None = None,
    ) -> TagResult:
        """Make the next version from the workspace, atomically.

        Content identical to the latest version of this kind makes no new version
        (``result.created`` is False) unless ``force``.

        Args:
            message: what changed, stored with the version.
            metrics: numbers (or short strings) to store, e.g. ``{"wer": 0.21}``.
            params: hyperparameters to store alongside.
            version: an explicit version (``"v1.0"``); must be new and above the latest.
            bump: ``"minor"`` (the default) or ``"major"``; not together with ``version``.
            force: tag unchanged content, or an explicit version below the latest.
            dry_run: compute and return the records without writing anything.
            source: (model only) a directory whose content becomes the checkpoint directory first.

        Returns:
            The records made (or the unchanged latest ones).

        Raises:
            NothingToTagError: the checkpoint (or data) folder holds nothing.
            VersionExistsError: the requested version number is taken.
            UsageError: an invalid combination of arguments.
            LockTimeoutError: another writer held the repository too long.
        """
        from cpv.core.versioning import TagRequest
        from cpv.ops.tag import tag_versions

        request = TagRequest.build(
            message=message,
            metrics=metrics,
            params=params,
            version=version,
            bump=bump,
            force=force,
            dry_run=dry_run,
        )
        return tag_versions(self.repo, self.kinds, request, source=source)

    @_reporting
    def revert(self, version: str, *, force: bool = False, dry_run: bool = False) -> RevertResult:
        """Restore ``version``'s files into the workspace as a new commit; history stays.

        Args:
            version: ``v0.3`` (this manager's kinds) or ``model/v0.3`` (that kind alone).
            force: revert over unsaved work (saved to the cache and a backup ref first).
            dry_run: check that the version can be restored; change nothing.

        Returns:
            The records restored, the new commit (None when already current or a dry run).

        Raises:
            UsageError: ``version`` is of a kind this manager does not act on.
            VersionNotFoundError: ``version`` does not exist.
            DirtyWorkspaceError: the workspace has changes that are not a version.
            MissingDataError: an object of the version is in no storage.
            IntegrityError: a download did not match its hash.
            LockTimeoutError: another writer held the repository too long.
        """
        kinds, parsed = self._resolve(version, "revert")
        from cpv.ops import revert as revert_op

        return revert_op.revert(self.repo, parsed, kinds, force=force, dry_run=dry_run)

    @_reporting
    def status(self, *, remote: bool = True) -> StatusResult:
        """What changed in the workspace since the latest versions of this manager's kind(s).

        Args:
            remote: also ask the git remote which tags and commits it lacks (None: unreachable).

        Returns:
            Per kind: the latest version, the workspace hash and whether it changed; the
            unpushed tags and commits; an interrupted change awaiting repair.

        Raises:
            DvcError: the DVC repository cannot be opened.
        """
        from cpv.ops import status as status_op

        return status_op.status(self.repo, kinds=self.kinds, remote=remote)

    def show(self, version: str) -> VersionRecord:
        """One version's record.

        Args:
            version: ``v0.3`` (for :class:`CombinedCheckpoints`: the model's) or ``data/v0.3``.

        Raises:
            UsageError: ``version`` is of a kind this manager does not act on.
            VersionNotFoundError: there is no such version.
        """
        kinds, parsed = self._resolve(version, "show")
        return show_op.show(self.repo, kinds[0], parsed)

    def diff(self, a: str, b: str) -> DiffResult:
        """Compare two versions' metrics, sizes and metadata (each named as in :meth:`show`)."""
        kinds_a, parsed_a = self._resolve(a, "diff")
        kinds_b, parsed_b = self._resolve(b, "diff")
        return show_op.diff(
            show_op.show(self.repo, kinds_a[0], parsed_a),
            show_op.show(self.repo, kinds_b[0], parsed_b),
        )

    def compare(
        self,
        versions: Sequence[str] = (),
        *,
        last: int | None = None,
        metrics: Sequence[str] | None = None,
        against: str = "first",
    ) -> Comparison:
        """Several versions side by side: metrics with deltas and the best, params, sizes,
        data versions, aliases, and the training curves ``metrics.log`` holds for them.

        Args:
            versions: the versions to compare, in order (each named as in :meth:`show`);
                the first is the baseline. Default: the ``last`` N of the first kind.
            last: compare the newest N versions (default 5); not together with ``versions``.
            metrics: only these metrics, in this order; ``"wer:min"`` sets the direction.
            against: the deltas' baseline: ``"first"`` (the first version) or ``"best"``
                (each metric's best version).

        Returns:
            A :class:`cpv.ops.compare.Comparison`; ``cpv.report.html`` draws it as HTML or PNG.

        Raises:
            UsageError: both ``versions`` and ``last``, an unknown ``against``, a metric no
                compared version has, or a version of a kind this manager does not act on.
            VersionNotFoundError: a version that does not exist, or no version at all.
        """
        from cpv.ops.compare import compare

        return compare(self.repo, self.kinds, versions, last=last, metrics=metrics, against=against)

    def latest(self) -> VersionRecord | None:
        """The newest version of this manager's first kind (the model, for combined)."""
        return self.repo.latest(self.kinds[0])

    def list(self, *, all_versions: bool = False) -> builtins.list[VersionRecord]:
        """Every version of this manager's kind(s), oldest first (model before data), each
        with its ``aliases`` and, when its bytes were removed, ``removed``.

        Args:
            all_versions: include versions deleted with ``delete`` (hidden by default).
        """
        from cpv.core.records import listing

        return listing(self.repo, self.kinds, all_versions=all_versions)

    def _resolve(self, version: str, action: str) -> tuple[tuple[Kind, ...], Version]:
        kind, parsed = resolve_arg(self.repo, version, within=self.kinds, action=action)
        return ((kind,) if kind else self.kinds), parsed


class ModelCheckpoints(CheckpointManager):
    """Versions of the model weights (``checkpoints/``), tagged ``model/vX.Y``."""

    kinds = (Kind.MODEL,)


class DataCheckpoints(CheckpointManager):
    """Versions of the training data (``data/``), tagged ``data/vX.Y``."""

    kinds = (Kind.DATA,)


class CombinedCheckpoints(CheckpointManager):
    """Weights and data under one version number, both tags or neither.

    A bare version (``v0.3``) means both kinds where an action takes both (``revert``,
    ``pull``) and the model's record where it reads one (``show``, ``diff``); ``model/v0.3``
    or ``data/v0.3`` means that kind alone.
    """

    kinds = (Kind.MODEL, Kind.DATA)


_BY_KIND: dict[tuple[Kind, ...], type[CheckpointManager]] = {
    m.kinds: m for m in (ModelCheckpoints, DataCheckpoints, CombinedCheckpoints)
}


def manager_for(
    kinds: str | Kind | Sequence[Kind], path: StrPath = ".", *, progress: Progress | None = None
) -> CheckpointManager:
    """The manager acting on ``kinds``: ``"model"``, ``"data"``, ``"all"`` or Kind values.

    Raises:
        UsageError: ``kinds`` names no kind, or an unknown one.
        NotARepositoryError: ``path`` is not inside a model repository.
    """
    names = (
        {"model", "data"} if kinds == "all" else {kinds} if isinstance(kinds, str) else set(kinds)
    )
    key = tuple(k for k in (Kind.MODEL, Kind.DATA) if k.value in names)  # a Kind is a str too
    if not names or len(key) != len(names):
        raise UsageError(f"unknown kind(s) {kinds!r}", hint="Use model, data or all.")
    return _BY_KIND[key](path, progress=progress)
