"""The managers' methods for the end of a version's life: retention (gc), deletion and
space accounting (see :mod:`cpv.api.managers` and ``docs/retention.md``)."""

from __future__ import annotations

from cpv.api.base import ManagerState
from cpv.domain.errors import CpvError
from cpv.domain.progress import reports_progress as _reporting
from cpv.domain.results import DeleteResult, GcResult
from cpv.domain.usage import DuResult


class RetentionMethods(ManagerState):
    """Mixed into :class:`cpv.api.managers.CheckpointManager`."""

    @_reporting
    def gc(
        self,
        *,
        keep_last: int | None = None,
        keep_days: int | None = None,
        remote: bool = False,
        dry_run: bool = False,
        force: bool = False,
    ) -> GcResult:
        """Free the bytes of this manager's versions the retention policy does not keep.

        Kept whatever the policy, here or on the git remote (read afresh): versions an
        alias points at, ``best`` (when ``cpv.yaml`` declares it), the latest version of
        each kind, the versions HEAD and every branch tip hold, versions never published,
        and every object a kept version shares. When versions were collected, the webhooks
        configured for ``gc`` are told.

        Args:
            keep_last: keep the last N versions of each kind (default: ``retention:`` in
                ``cpv.yaml``).
            keep_days: keep the versions made in the last D days (with ``keep_last``: a
                version either rule keeps is kept).
            remote: delete the storage's copies too, under the deletion lease, publishing a
                ``removed/...`` marker per collected version before any byte is deleted.
                Without it only the local cache shrinks and no marker is written.
            dry_run: report what would be collected and freed; change nothing at all.
            force: do not keep versions for being unpublished; those collected are
                removed with a local marker (published with them by the next push).

        Returns:
            The kept versions with their reasons, the collected ones, the bytes freed.

        Raises:
            UsageError: no policy given nor configured. MissingDataError (``remote``: a
            kept version's listing is nowhere), StorageError, RemoteError, LockTimeoutError.
        """
        from cpv.ops.gc import gc

        return gc(
            self.root,
            keep_last=keep_last,
            keep_days=keep_days,
            kinds=self.kinds,
            remote=remote,
            dry_run=dry_run,
            force=force,
        )

    @_reporting
    def delete(
        self,
        version: str,
        *,
        remote: bool = False,
        dry_run: bool = False,
        why: str = "",
        force: bool = False,
    ) -> DeleteResult:
        """Mark ``version`` removed for everyone and remove its bytes that no other version
        (nor a branch tip) needs; the version's tag and metadata stay.

        Args:
            version: one version of this manager's kinds (``v0.3``, ``model/v0.3``, an alias
                is refused since an aliased version cannot be deleted).
            remote: delete the storage's copies too, under the deletion lease (the marker
                is published first).
            dry_run: report what would be freed; change nothing.
            why: the reason recorded in the removal marker.
            force: drop a version that was never published (its only copy is here).

        Returns:
            The version, the bytes and objects freed, the marker written (published by
            :meth:`push`).

        Raises:
            UsageError: an alias points at it (here or on the remote), HEAD or a branch tip
            holds it, it was already removed, it was never published (without ``force``),
            or a bare number names both kinds. DeletionInProgressError, VersionNotFoundError, MissingDataError,
            StorageError, LockTimeoutError.
        """
        from cpv.ops.delete import delete

        return delete(
            self.root,
            version=version,
            kinds=self.kinds,
            remote=remote,
            dry_run=dry_run,
            why=why,
            force=force,
        )

    def du(self) -> DuResult:
        """Bytes per version in the local cache (unique to it, shared with others), the
        cache's and the storage's totals, and what the configured retention would free.

        Returns:
            Per version ``unique_bytes``/``shared_bytes``; ``versions_bytes``,
            ``cache_bytes``, ``storage_bytes`` (None with ``storage_note`` when the storage
            cannot be listed) and ``retention`` (a gc dry run, None without a policy).

        Raises:
            NotARepositoryError, GitError.
        """
        from cpv.ops.du import du
        from cpv.ops.gc import gc

        result = du(self.root)
        policy = self.repo.config.retention
        if policy is None or (policy.keep_last is None and policy.keep_days is None):
            result.retention_note = "no retention: in cpv.yaml"
            return result
        try:
            result.retention = gc(self.root, dry_run=True)
        except CpvError as exc:  # gc reads the git remote: du is about this disk first
            result.retention_note = f"retention not computed: {exc.message}"
        return result
