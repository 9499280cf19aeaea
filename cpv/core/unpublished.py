"""What this clone would publish: every ref the git remote lacks, by kind.

``cpv status`` and ``cpv push --dry-run`` both report it from one listing of the remote
(``ls-remote``): versions (``model/vX.Y``, ``data/vX.Y``), alias moves and demotes
(``alias/<name>/<n>``), removal markers (``removed/<kind>/<vX.Y>``) and the branch's
commits. Nothing is changed to find out: an alias move whose number another clone already
published is shown under the number push would give it (as :func:`cpv.core.refs.reconcile`
would renumber it), and a removal marker the remote already has is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping

from cpv.core import refs
from cpv.core.repo import ModelRepo
from cpv.domain.errors import CpvError
from cpv.domain.results import PendingMove, Unpublished
from cpv.domain.versions import Version, parse_tag_name


def unpublished(
    repo: ModelRepo,
    listing: Mapping[str, str],
    *,
    branch: str,
    renamed: Mapping[str, str] | None = None,
) -> Unpublished:
    """What the remote (``listing``: refname -> sha, as ``ls-remote`` gives it, holding its
    version and lifecycle tags and ``refs/heads/<branch>``) lacks of this clone.

    ``renamed``: versions push would rename (old -> new tag), applied to what is shown.
    """
    renamed = renamed or {}
    remote_tags = {
        ref[len("refs/tags/") :]: sha
        for ref, sha in listing.items()
        if ref.startswith("refs/tags/") and not ref.endswith("^{}")
    }
    versions = [
        renamed.get(t.name, t.name)
        for t in repo.git.list_tags("model", "data")
        if parse_tag_name(t.name) and remote_tags.get(t.name) != t.obj
    ]
    result = Unpublished(
        versions=sorted(versions, key=_version_key),
        branch_commits=_ahead(repo, listing.get(f"refs/heads/{branch}")),
    )
    _lifecycle(repo, refs.lifecycle_of(dict(listing)), result, renamed)
    return result


def _lifecycle(
    repo: ModelRepo, remote: dict[str, str], out: Unpublished, renamed: Mapping[str, str]
) -> None:
    """Our alias moves, demotes and removal markers the remote lacks, under the names push
    would publish them (see :func:`cpv.core.refs.reconcile`; nothing is renamed here)."""
    pending: dict[str, list[refs.AliasMove]] = {}
    for ref in repo.git.list_tags(*refs.LIFECYCLE):
        if remote.get(ref.name) == ref.obj:
            continue  # published
        move = refs.decode_move(ref.contents, ref=ref.name, commit=ref.commit)
        if move is not None and ref.name == refs.alias_ref(move.alias, move.number):
            pending.setdefault(move.alias, []).append(move)
        elif ref.name in remote:
            continue  # a marker the remote has too: push drops ours
        elif ref.name.startswith(f"{refs.ALIAS_PREFIX}/"):
            out.alias_moves.append(PendingMove(ref=ref.name, alias="", action="unknown"))
        else:
            out.removals.append(ref.name)
    for alias, moves in sorted(pending.items()):
        top = max((n for a, n in map(_alias_number, remote) if a == alias), default=0)
        moves.sort(key=lambda m: m.number)
        first = top + 1 if moves[0].number <= top else moves[0].number
        for number, move in enumerate(moves, first):
            tag = renamed.get(move.tag, move.tag) if move.tag else None
            pending_move = PendingMove(
                ref=refs.alias_ref(alias, number), alias=alias, action=move.action, tag=tag
            )
            (out.demotes if move.action == "demote" else out.alias_moves).append(pending_move)
    out.removals.sort()


def _ahead(repo: ModelRepo, remote_head: str | None) -> int | None:
    """Commits on HEAD the remote's branch lacks; None when its head is not here to count
    from (a teammate's commits, not fetched)."""
    head = repo.git.head_commit()
    if head is None:
        return 0
    revs = f"{remote_head}..HEAD" if remote_head else "HEAD"
    try:
        return int(repo.git.run("rev-list", "--count", revs))
    except CpvError:
        return None


def _alias_number(name: str) -> tuple[str, int]:
    """``alias/prod/3`` -> ``("prod", 3)``; ``("", 0)`` for any other name."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == refs.ALIAS_PREFIX and parts[2].isdigit():
        return parts[1], int(parts[2])
    return "", 0


def _version_key(name: str) -> tuple[str, Version]:
    parsed = parse_tag_name(name)
    assert parsed is not None  # only parsed names are listed
    return parsed[0].value, parsed[1]
