"""``cpv revert``: bring an earlier version's bytes back as a new commit; history stays.

Unsaved work is refused (or, with ``force``, saved to a backup ref first); the change is one
transaction (:mod:`cpv.core.transaction`): a failure leaves the workspace and branch as they were.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpv._faults import fault_point
from cpv.core.repo import ModelRepo
from cpv.core.transaction import Intent, transaction
from cpv.core.workspace import ensure_objects, keep_unsaved, place, refuse_unsaved_work
from cpv.domain.results import RevertResult
from cpv.domain.versions import Kind, Version


def revert(
    repo: ModelRepo,
    version: Version,
    kinds: Sequence[Kind],
    *,
    force: bool = False,
    dry_run: bool = False,
) -> RevertResult:
    """Restore ``version``'s files for ``kinds`` and record that as a new commit."""
    with repo.locked():
        repo.git.current_branch()  # refuse a detached HEAD before touching anything
        records = [repo.find(kind, version) for kind in kinds]
        dirty = refuse_unsaved_work(repo, kinds, force=force)
        targets = {
            r.kind: repo.git.show_file(r.commit, repo.pointer_of(r.kind)) or "" for r in records
        }
        current = {k: repo.git.show_file("HEAD", repo.pointer_of(k)) for k in kinds}
        if not dirty and all(targets[k] == current[k] for k in kinds):
            return RevertResult(records=records, already_current=True)
        ensure_objects(repo, records)  # before any file is touched
        if dry_run:
            return RevertResult(records=records, dry_run=True)

        pointers = [repo.pointer_of(k) for k in kinds]
        intent = Intent(
            op="revert",
            head=repo.git.head_commit(),
            paths=[*pointers, ".gitignore"],
            checkout=pointers,
        )
        backups: list[str] = []
        with transaction(repo, intent):
            if dirty:
                backups = list(keep_unsaved(repo, kinds, before="revert"))
            for record in records:
                pointer = repo.pointer_of(record.kind)
                (repo.root / pointer).write_text(targets[record.kind])
                place(repo, targets[record.kind], record.path)
                fault_point("after_revert_checkout")
            if all(targets[k] == current[k] for k in kinds):
                # HEAD already names this version: the forced revert put its bytes back
                # over unsaved work (kept in the backups); there is nothing to commit.
                return RevertResult(records=records, already_current=True, backups=backups)
            which = " + ".join(k.value for k in kinds)
            commit = repo.git.commit_paths(pointers, f"cpv: revert {which} to {version}")
        return RevertResult(records=records, commit=commit, backups=backups)
