"""Typed results returned by the library (and rendered by the CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cpv.domain.metadata import VersionRecord
from cpv.domain.training_state import TrainingStatePlan


class InitResult(BaseModel):
    """What ``init`` made: the new repository's root and its identity."""

    path: str
    team: str
    model: str


class TagResult(BaseModel):
    """What ``tag`` did: the records it made, or the unchanged latest ones."""

    records: list[VersionRecord]
    created: bool = True
    dry_run: bool = False
    repaired: list[str] = Field(default_factory=list)

    @property
    def record(self) -> VersionRecord:
        return self.records[0]

    @property
    def tag(self) -> str:
        return self.record.tag

    @property
    def version(self) -> str:
        return self.record.version

    @property
    def path(self) -> str:
        return self.record.path

    @property
    def metrics(self) -> dict[str, Any]:
        return self.record.metrics

    @property
    def timestamp(self) -> datetime:
        return self.record.timestamp

    @property
    def size_mb(self) -> float:
        return self.record.size_mb


class RevertResult(BaseModel):
    """What ``revert`` restored, and the commit recording it."""

    records: list[VersionRecord]
    commit: str | None = None
    already_current: bool = False
    dry_run: bool = False
    backups: list[str] = Field(default_factory=list)


class PullResult(BaseModel):
    """What ``pull`` (or ``clone``) fetched and verified in the workspace."""

    records: list[VersionRecord] = Field(default_factory=list)
    fetched_objects: int = 0
    verified_paths: list[str] = Field(default_factory=list)
    updated_branch: bool = False
    #: ``force``: refs keeping the unsaved work it overwrote; the command restoring each
    backups: list[str] = Field(default_factory=list)
    restore: list[str] = Field(default_factory=list)


class PendingMove(BaseModel):
    """An alias move or demote not published yet, under the ref push would give it."""

    ref: str
    alias: str
    #: "promote", "demote" (or "unknown": an ``alias/`` tag cpv cannot read)
    action: str
    #: the version it names after the move (None: demoted)
    tag: str | None = None


class Unpublished(BaseModel):
    """Every ref the git remote lacks, by kind (``cpv status``, ``cpv push --dry-run``)."""

    #: version tags (``model/v0.3``), as push would name them
    versions: list[str] = Field(default_factory=list)
    alias_moves: list[PendingMove] = Field(default_factory=list)
    demotes: list[PendingMove] = Field(default_factory=list)
    #: removal markers (``removed/model/v0.1``)
    removals: list[str] = Field(default_factory=list)
    #: commits on the branch the remote lacks; None: unknown
    branch_commits: int | None = None

    def lifecycle_refs(self) -> list[str]:
        """The alias moves, demotes and removal markers, as ref names (sorted)."""
        return sorted([*(m.ref for m in [*self.alias_moves, *self.demotes]), *self.removals])

    @property
    def tag_count(self) -> int:
        """How many tags would be published."""
        return len(self.versions) + len(self.alias_moves) + len(self.demotes) + len(self.removals)


class PushResult(BaseModel):
    """What ``push`` published: new version tags, renamed collisions, uploaded objects."""

    pushed_tags: list[str] = Field(default_factory=list)
    #: alias moves and removal markers published (``alias/prod/3``, ``removed/model/v0.2``)
    records_pushed: list[str] = Field(default_factory=list)
    renamed: dict[str, str] = Field(default_factory=dict)
    objects_pushed: int = 0
    branch: str = ""
    #: the branch moved on the remote (commits were sent)
    branch_pushed: bool = False
    dry_run: bool = False
    #: nothing at all was sent: no tag, no object, no commit
    up_to_date: bool = False
    #: why the catalog index (``cpv models``) could not be updated; the push itself succeeded
    index_warning: str | None = None
    #: what the storage would not let push do besides its job (e.g. list open uploads)
    storage_warning: str | None = None
    #: (dry run) every ref the push would publish, by kind
    unpublished: Unpublished | None = None
    #: local alias moves and removals the remote's state contradicts (a removal of a version
    #: its alias names, a move onto a version removed there): not published, tags deleted
    withdrawn: list[str] = Field(default_factory=list)
    #: an interrupted deletion on this model that push finished first (:mod:`cpv.core.fence`)
    lease_notes: list[str] = Field(default_factory=list)


class WebhookFailure(BaseModel):
    """A webhook's last failed delivery (``cpv status``); its next success clears it."""

    #: the webhook's id (``cpv configure --show``) and its URL, masked
    id: str
    url: str
    event: str
    #: the model the event was about, ``team/model``
    model: str = ""
    at: str = ""
    reason: str = ""
    attempts: int = 0


class KindStatus(BaseModel):
    kind: str
    path: str
    latest: VersionRecord | None = None
    workspace_hash: str | None = None
    changed: bool = False
    workspace_version: str | None = None


class StatusResult(BaseModel):
    """The workspace against the latest versions, and what is not pushed yet."""

    team: str
    model: str
    branch: str
    kinds: list[KindStatus]
    unpushed_tags: list[str] | None = None
    #: commits on this branch that the remote lacks (ahead); None: unknown
    unpushed_commits: int | None = None
    #: commits on the remote's branch that this branch lacks (behind); None: unknown
    behind_commits: int | None = None
    remote: str | None = None
    #: an interrupted change (e.g. "tag") that the next writing command will roll back
    interrupted: str | None = None
    #: each webhook's last failed delivery (URL masked) not followed by a success
    webhook_failures: list[WebhookFailure] = Field(default_factory=list)
    #: every ref the remote lacks, by kind; None: unknown (no remote, or unreachable)
    unpublished: Unpublished | None = None
    deletion: str | None = None  #: a gc/delete --remote holding the lease (cpv.core.fence)


class DiffEntry(BaseModel):
    key: str
    a: Any = None
    b: Any = None
    delta: float | None = None


class DiffResult(BaseModel):
    """Two versions side by side: metrics, then sizes and metadata."""

    a: VersionRecord
    b: VersionRecord
    metrics: list[DiffEntry]
    fields: list[DiffEntry]


class VersionObjects(BaseModel):
    """The storage objects one version (or the current commit, ``HEAD``) needs."""

    tag: str
    commit: str
    objects: list[str]
    missing_on_remote: list[str] = Field(default_factory=list)


class MoveResult(BaseModel):
    """What ``move_storage`` copied (or would copy) and where the model's storage is now."""

    old_url: str | None
    new_url: str
    dry_run: bool
    versions: list[VersionObjects]
    objects_total: int
    objects_to_upload: int
    verified: bool = False
    commit: str | None = None
    #: why the catalog index could not be copied to the new storage; the move itself is done
    index_warning: str | None = None


class StorageState(BaseModel):
    """Where a model's bytes and history live (``cpv remote show``)."""

    root: str
    storage: str | None
    git: str | None


class RepairResult(BaseModel):
    """What ``repair`` found in the journal of an interrupted change (``.git/cpv/txn.json``),
    and where ``discard`` moved it."""

    journal: str
    #: a journal is present (None of the fields below are known without one)
    pending: bool = False
    #: the journal is not a JSON object (torn or foreign); ``raw`` holds its text
    readable: bool = True
    op: str | None = None
    #: the branch head before the change, and the commit it made (when it got that far)
    head: str | None = None
    commit: str | None = None
    tags: list[str] = Field(default_factory=list)
    #: files restored from ``head`` on rollback, and pointers whose bytes are checked out again
    files: list[str] = Field(default_factory=list)
    checkout: list[str] = Field(default_factory=list)
    pid: int | None = None
    started: datetime | None = None
    raw: str | None = None
    #: where ``discard`` moved the journal (``.git/cpv/txn.discarded-<timestamp>.json``)
    discarded_to: str | None = None


class VerifiedVersion(BaseModel):
    """What ``cpv verify`` found for one version: the places (``version: path``) whose
    object is missing or corrupt, locally and in storage, and what it repaired."""

    version: str
    objects: int = 0
    missing_local: list[str] = Field(default_factory=list)
    missing_remote: list[str] = Field(default_factory=list)
    #: with ``remote``: places absent from the local cache but in the storage (not pulled
    #: here): not a problem
    not_fetched: list[str] = Field(default_factory=list)
    repaired_local: int = 0
    repaired_remote: int = 0
    #: why the version was refused unchecked (its pointer or listing names a non-object id)
    refused: str | None = None
    quarantined: list[str] = Field(default_factory=list)
    #: removed on purpose (``gc``/``delete``): its marker; its objects are not checked
    removed: dict[str, Any] | None = None
    unreadable: list[str] = Field(default_factory=list, exclude=True)

    @property
    def ok(self) -> bool:
        return not self.missing_local and not self.missing_remote and self.refused is None


class VerifyResult(BaseModel):
    """``cpv verify``: each version checked; ``ok`` when nothing is missing or corrupt."""

    remote: bool = False
    deep: bool = False
    repair: bool = False
    versions: list[VerifiedVersion] = Field(default_factory=list)
    #: why the versions checked are not the ones asked for (HEAD is no version)
    note: str | None = None

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.versions)


# --- issue 10: retention, deletion, space ----------------------------------------------
class RemovalMarker(BaseModel):
    """A ``removed/<kind>/<vX.Y>`` tag: the version's bytes were removed on purpose (its own
    tag and metadata stay). ``remote``: the storage's copy was removed too."""

    tag: str
    action: str  # "gc" or "delete"
    by: str = ""
    at: str = ""
    remote: bool = False
    freed_bytes: int = 0
    why: str = ""
    ref: str = ""  # the marker tag's name
    commit: str = ""


class KeptVersion(BaseModel):
    """A version ``gc`` keeps, and every reason it does (``alias prod``, ``best``,
    ``latest``, ``head``, ``branch NAME``, ``keep-last``, ``keep-days``)."""

    tag: str
    reasons: list[str] = Field(default_factory=list)


class CollectedVersion(BaseModel):
    """A version whose bytes ``gc`` removed (or, dry run, would remove): the bytes of the
    objects no kept version needs, counted once (on the oldest collected version needing them)."""

    tag: str
    local_bytes: int = 0
    remote_bytes: int = 0


class GcResult(BaseModel):
    """``cpv gc``: what was kept and why, what was collected, and the bytes freed."""

    keep_last: int | None = None
    keep_days: int | None = None
    remote: bool = False
    dry_run: bool = False
    kept: list[KeptVersion] = Field(default_factory=list)
    collected: list[CollectedVersion] = Field(default_factory=list)
    freed_local: int = 0
    freed_remote: int = 0
    objects_local: int = 0
    objects_remote: int = 0
    #: removal markers (``--remote`` only), published before any byte was deleted
    markers: list[str] = Field(default_factory=list)
    #: versions never pushed whose only copy ``force`` removed (marked; push publishes both)
    unpushed: list[str] = Field(default_factory=list)
    #: a remote removal that stopped early (its lease ran out): the next command finishes it
    warning: str | None = None
    #: ``retention: training_state:`` in cpv.yaml: what it would drop (planned, not applied)
    training_state: TrainingStatePlan | None = None


class DeleteResult(BaseModel):
    """``cpv delete``: the version marked removed and the bytes freed; objects another
    version still needs are kept (``shared_objects``)."""

    tag: str
    remote: bool = False
    dry_run: bool = False
    freed_local: int = 0
    freed_remote: int = 0
    objects_local: int = 0
    objects_remote: int = 0
    shared_objects: int = 0
    #: the marker written (None on a dry run); published at once with ``remote`` (a version
    #: ever pushed), else by ``cpv push``
    marker: str | None = None
    #: the version was never pushed and ``force`` removed its only copy
    unpushed: bool = False
    #: as in :class:`GcResult`
    warning: str | None = None
