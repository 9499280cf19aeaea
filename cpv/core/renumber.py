"""Renumbering our unpublished versions (``cpv push`` after a collision, issue 9).

When another writer published a version number we also made, ``cpv push`` gives ours the
next free number (:func:`cpv.ops.push._plan_renames`). Here that number is written
everywhere the version names itself: its tag (name and message), and, in the commits not
yet published, the version commit's subject (``cpv: model v0.2 — …``, as
:mod:`cpv.ops.tag` writes it) and its line in ``metrics.log``. Those commits are rewritten
in place, each with its authorship and dates, its parents mapped; no rebase, no conflict.

Only cpv's own formats change: a ``metrics.log`` line exactly as cpv writes it, for that
very version (kind, number, creation time and content hash), and the subjects of a
version's own commit and of reverts to it. ``v0.2`` never matches ``v0.20``.

cpv's tags on rewritten commits move to the new commits (same message, tagger and date);
other tags stay where they were, on the old commits. Refs move in one transaction; the
index and working tree follow for ``metrics.log``, refused when it has local changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from cpv._faults import fault_point
from cpv.core.repo import METRICS_LOG, ModelRepo
from cpv.domain.errors import DirtyWorkspaceError
from cpv.domain.metadata import VersionRecord, encode_tag_message
from cpv.domain.versions import parse_tag_name
from cpv.settings.config import GIT_REMOTE_NAME

_KINDS = r"(model|data|model \+ data)"
_VERSION = r"(v\d+\.\d+)"
#: (subject pattern, only on the renamed version's own commit)
_SUBJECTS = (
    (re.compile(rf"^cpv: {_KINDS} {_VERSION}(?= — |$)"), True),
    (re.compile(rf"^cpv: revert {_KINDS} to {_VERSION}$"), False),
)
_LINE_KEYS = ("kind", "version", "created_at", "content_hash")


@dataclass
class Renames:
    """What the rewrite substitutes, read from the renamed versions' records."""

    #: (kind, old version) -> new version
    versions: dict[tuple[str, str], str] = field(default_factory=dict)
    #: the commits the renamed versions were made on
    commits: set[str] = field(default_factory=set)
    #: a metrics.log line's (kind, version, created_at, content_hash) -> new version
    lines: dict[tuple[str, ...], str] = field(default_factory=dict)

    @classmethod
    def of(cls, plan: Mapping[str, str], records: Mapping[str, VersionRecord]) -> Renames:
        renames = cls()
        for old, new in plan.items():
            record, parsed = records[old], parse_tag_name(new)
            assert parsed is not None
            number = str(parsed[1])
            renames.versions[(record.kind.value, record.version)] = number
            renames.commits.add(record.commit)
            key = (record.kind.value, record.version, record.created_at, record.content_hash)
            renames.lines[key] = number
        return renames


def renumber(
    repo: ModelRepo, plan: Mapping[str, str], *, branch: str, published: Sequence[str]
) -> None:
    """Rename our versions as ``plan`` says (old tag -> new tag): their tags, and their
    names in the commits of ``branch`` (checked out) that are not reachable from
    ``published`` nor from a remote-tracking branch. All of it, or none of it.

    Raises:
        DirtyWorkspaceError: commits must be rewritten and ``metrics.log`` has uncommitted
            changes (nothing was changed).
    """
    tags = {t.name: t.obj for t in repo.git.list_tags("model", "data")}
    records = {r.tag: r for r in repo.records()}
    head = repo.git.head_commit()
    assert head is not None  # there are versions, hence commits
    mapping = _rewrite(repo, head, published, Renames.of(plan, records))
    new_head = mapping.get(head, head)
    if new_head != head:
        _refuse_log_changes(repo, plan)
    updates = _tag_updates(repo, plan, records, tags, mapping)
    if new_head != head:
        updates.append((f"refs/heads/{branch}", new_head, head))
        repo.git.switch_tree(head, new_head)
    try:
        fault_point("after_renumber_checkout")
        repo.git.update_refs(updates)
    except BaseException:
        if new_head != head:
            repo.git.switch_tree(new_head, head)
        raise


def refuse_log_changes(repo: ModelRepo, plan: Mapping[str, str]) -> None:
    """Refuse, before anything changes, when a renamed version is in the checked-out
    branch's history (its commits will be rewritten) while ``metrics.log`` has local edits.

    Raises:
        DirtyWorkspaceError: ``metrics.log`` differs from HEAD (staged or not).
    """
    records = {r.tag: r for r in repo.records()}
    if any(repo.git.is_ancestor(records[tag].commit, "HEAD") for tag in plan):
        _refuse_log_changes(repo, plan)


def _refuse_log_changes(repo: ModelRepo, plan: Mapping[str, str]) -> None:
    if repo.git.changed_paths([METRICS_LOG]):
        renames = ", ".join(f"{old} -> {new}" for old, new in plan.items())
        raise DirtyWorkspaceError(
            f"cannot renumber {renames} in the unpublished commits: "
            f"{METRICS_LOG} has uncommitted changes",
            hint=f"Commit or stash your {METRICS_LOG} changes, then run `cpv push` again.",
            paths=[METRICS_LOG],
        )


def _rewrite(
    repo: ModelRepo, head: str, published: Sequence[str], renames: Renames
) -> dict[str, str]:
    """Write the renumbered commits (no ref moves); old sha -> new sha for those that change."""
    mapping: dict[str, str] = {}
    logs: dict[str, bytes | None] = {}  # metrics.log blob -> its renumbered bytes
    for sha in repo.git.commits_to_rewrite(head, published, remote=GIT_REMOTE_NAME):
        commit = repo.git.read_commit(sha)
        parents = tuple(mapping.get(p, p) for p in commit.parents)
        tree = commit.tree
        blob = repo.git.root_blob(tree, METRICS_LOG)
        if blob is not None:
            if blob not in logs:
                logs[blob] = relabel_log(repo.git.read_blob(blob), renames)
            content = logs[blob]
            if content is not None:
                tree = repo.git.tree_with_blob(tree, METRICS_LOG, content)
        message = relabel_message(commit.message, renames, own=sha in renames.commits)
        if (parents, tree, message) != (commit.parents, commit.tree, commit.message):
            new = replace(commit, parents=parents, tree=tree, message=message)
            mapping[sha] = repo.git.write_commit(new)
    return mapping


def relabel_log(data: bytes, renames: Renames) -> bytes | None:
    """``metrics.log`` with the renamed versions' lines renumbered; None when none is in it."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    changed = False
    for i, line in enumerate(lines):
        new = _relabel_line(line, renames)
        if new is not None:
            lines[i], changed = new, True
    return "\n".join(lines).encode("utf-8") if changed else None


def _relabel_line(line: str, renames: Renames) -> str | None:
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or json.dumps(entry, sort_keys=True) != line:
        return None  # not a line as cpv writes it
    number = renames.lines.get(tuple(str(entry.get(k)) for k in _LINE_KEYS))
    if number is None:
        return None
    entry["version"] = number
    return json.dumps(entry, sort_keys=True)


def relabel_message(message: bytes, renames: Renames, *, own: bool) -> bytes:
    """``message`` with its subject renumbered when it is cpv's subject for a renamed version
    (``own``: the commit is that version's own commit)."""
    text = message.decode("utf-8", "surrogateescape")
    subject, newline, rest = text.partition("\n")
    for pattern, needs_own in _SUBJECTS:
        match = pattern.match(subject)
        if match is None or (needs_own and not own):
            continue
        numbers = {renames.versions.get((k, match[2])) for k in match[1].split(" + ")}
        if len(numbers) == 1 and None not in numbers:
            subject = subject[: match.start(2)] + str(numbers.pop()) + subject[match.end(2) :]
            return (subject + newline + rest).encode("utf-8", "surrogateescape")
    return message


def _tag_updates(
    repo: ModelRepo,
    plan: Mapping[str, str],
    records: Mapping[str, VersionRecord],
    tags: Mapping[str, str],
    mapping: Mapping[str, str],
) -> list[tuple[str, str, str]]:
    """The ref moves for cpv's tags: renamed ones under their new name (their message
    saying so), those on rewritten commits onto the new commits. Tag objects written."""
    updates: list[tuple[str, str, str]] = []
    for name, record in records.items():
        new_name = plan.get(name, name)
        commit = mapping.get(record.commit, record.commit)
        if new_name == name and commit == record.commit:
            continue
        message = encode_tag_message(_renamed(record, plan)) if new_name != name else None
        obj = repo.git.retarget_tag(tags[name], commit, name=new_name, message=message)
        if new_name == name:
            updates.append((f"refs/tags/{name}", obj, tags[name]))
        else:
            updates.append((f"refs/tags/{name}", "", tags[name]))
            updates.append((f"refs/tags/{new_name}", obj, ""))
    return updates


def _renamed(record: VersionRecord, plan: Mapping[str, str]) -> VersionRecord:
    """``record`` under its new number; a model's data version follows a renamed data tag."""
    parsed = parse_tag_name(plan[record.tag])
    assert parsed is not None
    new = record.renamed(parsed[1])
    if new.data_version is not None and new.data_version in plan:
        new = new.model_copy(update={"data_version": plan[new.data_version]})
    return new
