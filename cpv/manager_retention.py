"""The managers' methods for the end of a version's life: retention (gc), deletion and
space accounting (see :mod:`cpv.managers` and ``docs/retention.md``)."""

from __future__ import annotations

from cpv.manager_base import ManagerState
from cpv.progress import reports_progress as _reporting
from cpv.results import DeleteResult, DuResult, GcResult


class RetentionMethods(ManagerState):
    """Mixed into :class:`cpv.managers.CheckpointManager`."""

    @_reporting
    def gc(
        self,
        *,
        keep_last: int | None = None,
        keep_days: int | None = None,
        remote: bool = False,
        dry_run: bool = False,
    ) -> GcResult:
        """Free the bytes of this manager's versions the retention policy does not keep.

        Kept whatever the policy: versions an alias points at, ``best`` (when ``cpv.yaml``
        declares it), the latest version of each kind, the versions HEAD and each local
        branch tip hold, and every object a kept version shares. When versions were
        collected, the webhooks configured for ``gc`` are told.

        Args:
            keep_last: keep the last N versions of each kind (default: ``retention:`` in
                ``cpv.yaml``).
            keep_days: keep the versions made in the last D days (with ``keep_last``: a
                version either rule keeps is kept).
            remote: fetch the remote's tags and aliases first, delete the storage's copies
                too, and write a ``removed/...`` marker per collected version (published by
                :meth:`push`). Without it only the local cache shrinks and no marker is
                written.
            dry_run: report what would be collected and freed; change nothing.

        Returns:
            The kept versions with their reasons, the collected ones, the bytes freed.

        Raises:
            UsageError: no policy given nor configured. MissingDataError (``remote``: a
            kept version's listing is nowhere), StorageError, RemoteError, LockTimeoutError.
        """
        from cpv import notify
        from cpv.ops.gc import gc

        result = gc(
            self.root,
            keep_last=keep_last,
            keep_days=keep_days,
            kinds=self.kinds,
            remote=remote,
            dry_run=dry_run,
        )
        notify.emit("gc", self.repo, result)
        return result

    @_reporting
    def delete(
        self, version: str, *, remote: bool = False, dry_run: bool = False, why: str = ""
    ) -> DeleteResult:
        """Mark ``version`` removed for everyone and remove its bytes that no other version
        (nor a branch tip) needs; the version's tag and metadata stay.

        Args:
            version: one version of this manager's kinds (``v0.3``, ``model/v0.3``, an alias
                is refused since an aliased version cannot be deleted).
            remote: fetch the remote's tags first and delete the storage's copies too.
            dry_run: report what would be freed; change nothing.
            why: the reason recorded in the removal marker.

        Returns:
            The version, the bytes and objects freed, the marker written (published by
            :meth:`push`).

        Raises:
            UsageError: an alias points at it, HEAD holds it, it was already removed, or a
            bare number names both kinds. VersionNotFoundError, MissingDataError,
            StorageError, LockTimeoutError.
        """
        from cpv.ops.delete import delete

        return delete(
            self.root, version=version, kinds=self.kinds, remote=remote, dry_run=dry_run, why=why
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

        return du(self.root)
