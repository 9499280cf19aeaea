"""The managers' methods that move bytes between the workspace, the local cache and the
storage: push, pull, verify, and moving the storage (see :mod:`cpv.api.managers`)."""

from __future__ import annotations

from collections.abc import Sequence

from cpv.api.base import ManagerState
from cpv.domain.progress import reports_progress as _reporting
from cpv.domain.results import MoveResult, PullResult, PushResult, StorageState, VerifyResult


class SyncMethods(ManagerState):
    """Mixed into :class:`cpv.api.managers.CheckpointManager`."""

    @_reporting
    def push(self, *, jobs: int | None = None, dry_run: bool = False) -> PushResult:
        """Upload the bytes, then push the branch and every unpublished version tag atomically.

        A commit cannot be published in part, so this publishes the versions of both kinds
        whichever manager calls it. A version number another writer published first with
        other content is renamed to the next free number (see ``result.renamed``).

        Args:
            jobs: parallel uploads.
            dry_run: report what would be pushed; change nothing.

        Returns:
            The tags published, the renames, and how many objects were uploaded.

        Raises:
            RemoteError: no git remote, or the push was refused or kept racing.
            StorageError, MissingDataError, DvcError: the bytes could not be uploaded
            (then no tag is published). LockTimeoutError, GitError.

        Once published, the webhooks configured for ``push`` are told (in the background,
        see :mod:`cpv.notify.webhooks`); a failing webhook never fails the push.
        """
        from cpv.ops.push import push

        return push(self.root, jobs=jobs, dry_run=dry_run)

    @_reporting
    def pull(
        self, version: str | None = None, *, force: bool = False, jobs: int | None = None
    ) -> PullResult:
        """Fetch and materialize ``version`` (default: the branch head), hash-verified.

        Args:
            version: a version whose bytes to put in the workspace (pointers untouched);
                ``v0.3`` for this manager's kinds, ``model/v0.3`` for that kind alone.
            force: overwrite unsaved work in the workspace.
            jobs: parallel downloads.

        Returns:
            The records materialized, the objects fetched, whether the branch moved.

        Raises:
            UsageError: ``version`` is of a kind this manager does not act on.
            DirtyWorkspaceError, VersionNotFoundError, MissingDataError, IntegrityError,
            RemoteError, LockTimeoutError.
        """
        from cpv.ops.pull import pull

        return pull(self.root, version=version, kinds=self.kinds, force=force, jobs=jobs)

    @_reporting
    def move_storage(
        self, new_url: str | None = None, *, all_versions: bool = True, dry_run: bool = False
    ) -> MoveResult:
        """Move the repository's storage (weights and data alike) to ``new_url``.

        Objects are copied and verified before ``.dvc/config`` is switched and committed; a
        failure leaves the model where it was. Publish the change with :meth:`push`.

        Args:
            new_url: an ``s3://`` URL or a local path (default: the configured storage).
            all_versions: copy every tagged version's objects (the default, as for
                ``cpv remote set``: old versions stay readable once the old storage is gone);
                False copies only the current commit's.
            dry_run: report what would be copied; change nothing.

        Returns:
            Each version's objects, how many were uploaded, the commit made.

        Raises:
            UsageError, MissingDataError, StorageError, LockTimeoutError.
        """
        from cpv.ops.remote import move_storage

        return move_storage(self.root, new_url=new_url, all_versions=all_versions, dry_run=dry_run)

    def storage(self) -> StorageState:
        """Where the bytes (DVC remote) and the history (git remote) of this model live."""
        from cpv.ops.remote import storage_state

        return storage_state(self.root)

    @_reporting
    def verify(
        self,
        versions: Sequence[str] = (),
        *,
        all_versions: bool = False,
        remote: bool = False,
        deep: bool = False,
        repair: bool = False,
    ) -> VerifyResult:
        """Check that every object of ``versions`` is in the local cache (and, with
        ``remote``, in the storage); ``deep`` re-hashes each one; ``repair`` fetches a
        missing or corrupt local object again, and uploads again a storage object that is
        missing or corrupt, from a good local copy.

        Args:
            versions: versions of this manager's kinds (default: the versions HEAD is;
                HEAD no version: those whose bytes it holds, else the latest, in ``note``).
            all_versions: every version instead.
            remote: check the storage too (one listing; with ``deep``, each object is
                downloaded and hashed).
            deep: re-hash objects instead of trusting their presence and size.
            repair: fix what can be fixed from the other side.

        Returns:
            Per version, the places (``version: path``) still missing or corrupt, and the
            number repaired; versions removed on purpose with their removal marker
            (``removed``, not a problem); ``result.ok`` when nothing is left.

        Raises:
            UsageError: versions named together with ``all_versions``, or no version at
            all. VersionNotFoundError, StorageError, LockTimeoutError.
        """
        from cpv.ops.verify import verify

        return verify(
            self.root,
            versions=versions,
            all_versions=all_versions,
            kinds=self.kinds,
            remote=remote,
            deep=deep,
            repair=repair,
        )
