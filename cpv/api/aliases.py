"""The managers' methods that name versions: aliases (promote, demote) and references
(see :mod:`cpv.api.managers` and :mod:`cpv.core.refs`)."""

from __future__ import annotations

import builtins

from cpv.api.base import ManagerState
from cpv.core.refs import AliasMove
from cpv.domain.metadata import VersionRecord
from cpv.domain.progress import reports_progress as _reporting


class AliasMethods(ManagerState):
    """Mixed into :class:`cpv.api.managers.CheckpointManager`."""

    @_reporting  # a lock wait is reported
    def promote(
        self, version: str, alias: str, *, message: str = "", force: bool = False
    ) -> AliasMove:
        """Point ``alias`` (``prod``, ``staging``) at a version: a new immutable tag
        ``alias/<alias>/<n>`` recording who, when, why and the version it pointed at before.
        Publish it with :meth:`push`. The webhooks configured for ``promote`` are told.

        Args:
            version: any reference of this manager's kinds: ``v0.3`` (on
                :class:`CombinedCheckpoints` the model's, if both exist), ``data/v0.3``,
                ``latest``, ``best``, ``best:METRIC:min|max`` or another alias.
            alias: a lowercase word (not ``latest``, ``best`` or a version).
            message: why, stored in the move.
            force: promote even if the version fails the alias's promotion rules
                (``promotion:`` in ``cpv.yaml``); the move records the rules overridden.

        Returns:
            The move made; when the alias already points at that version nothing is
            recorded and the current move comes back with ``changed`` False.

        Raises:
            UsageError: an invalid alias name, or a version of another kind.
            InvalidNameError: ``version`` is not a reference.
            VersionNotFoundError: ``version`` names no version here.
            PromotionRefusedError: the version fails the alias's promotion rules (each
                failed rule named in ``failed``); nothing was recorded.
            LockTimeoutError, GitError.
        """
        from cpv.ops.promote import promote

        return promote(
            self.repo.root, version, alias, kinds=self.kinds, message=message, force=force
        )

    @_reporting
    def demote(self, alias: str, *, message: str = "") -> AliasMove:
        """Make ``alias`` point at nothing (a new ``alias/<alias>/<n>`` tag; history stays).
        The webhooks configured for ``demote`` are told.

        Args:
            alias: the alias to demote.
            message: why, stored in the move.

        Returns:
            The move made (``tag`` None, ``previous`` the version it left).

        Raises:
            UsageError: an invalid alias name.
            VersionNotFoundError: no such alias, or it points at nothing already.
            LockTimeoutError, GitError.
        """
        from cpv.ops.promote import demote

        return demote(self.repo.root, alias, message=message)

    def aliases(self, *, history: bool = False) -> builtins.list[AliasMove]:
        """The repository's aliases (of either kind: one namespace per repository).

        Args:
            history: every move of every alias (by alias, then number) instead of each
                alias's current one.

        Returns:
            Each alias's current move by name (``tag`` None when demoted), or the history.

        Raises:
            GitError: git itself failed.
        """
        from cpv.ops.promote import alias_list

        return alias_list(self.repo.root, history=history)

    def resolve(self, ref: str) -> VersionRecord:
        """The version a reference names now.

        Args:
            ref: ``v0.3``, ``model/v0.3``, ``latest``, ``best``, ``best:METRIC:min|max`` or an
                alias such as ``prod``. A bare version on :class:`CombinedCheckpoints` is the
                model's record if both exist.

        Returns:
            That version's record.

        Raises:
            UsageError: it names a version of a kind this manager does not act on, or
            ``best`` without a metric declared in ``cpv.yaml``.
            InvalidNameError: not a reference.
            VersionNotFoundError: it names no version (an unknown or demoted alias, no
            version with the metric).
        """
        from cpv.ops.promote import resolve_record

        return resolve_record(self.repo, ref, self.kinds, action="resolve")
