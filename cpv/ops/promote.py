"""``cpv promote``, ``cpv demote`` and ``cpv aliases``: moving an alias (``prod``, ``staging``)
and listing where each points; :func:`resolve_record` is what ``resolve`` returns.

A move is one new immutable tag ``alias/<name>/<n>`` (see :mod:`cpv.core.refs`): n is the
highest number this clone knows for the alias + 1. Publishing it is ``cpv push``'s job,
which renumbers a move another clone published first under the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cpv.core import refs
from cpv.core.refs import AliasMove
from cpv.core.repo import ModelRepo
from cpv.domain.errors import VersionNotFoundError, VersionRemovedError
from cpv.domain.metadata import VersionRecord
from cpv.domain.versions import Kind, tag_name
from cpv.notify.announce import announces
from cpv.settings import promotion


def resolve_record(
    repo: ModelRepo, ref: str, kinds: Sequence[Kind], *, action: str = ""
) -> VersionRecord:
    """The record a reference names (``v0.3``, ``model/v0.3``, ``latest``, ``best``, an
    alias). A bare version means the first of ``kinds`` that has it (the model's, when both).

    Raises:
        InvalidNameError, UsageError: not a reference, or of a kind outside ``kinds``.
        VersionNotFoundError: it names no version here.
    """
    kind, version = refs.resolve_arg(repo, ref, within=kinds, action=action)
    if kind is not None:
        return repo.find(kind, version)
    for candidate in kinds:
        try:
            return repo.find(candidate, version)
        except VersionNotFoundError:
            continue
    raise VersionNotFoundError(
        f"{tag_name(kinds[0], version)} does not exist", tag=tag_name(kinds[0], version)
    )


def refuse_removed(repo: ModelRepo, record: VersionRecord) -> None:
    """An alias never points at a version whose bytes were removed on purpose.

    Raises:
        VersionRemovedError: ``record`` carries a removal marker.
    """
    from cpv.core.removal import removed_markers

    marker = removed_markers(repo).get(record.tag)
    if marker is not None:
        raise VersionRemovedError(
            f"{record.tag} was removed ({marker.action}) by {marker.by} at {marker.at}: an "
            "alias cannot point at it",
            hint="Promote another version (`cpv list` shows which are removed).",
            tag=record.tag,
            action=marker.action,
            by=marker.by,
            at=marker.at,
        )


@announces("promote")
def promote(
    path: str | Path, version: str, alias: str, *, kinds: Sequence[Kind], message: str = "",
    force: bool = False,
) -> AliasMove:  # fmt: skip
    """Point ``alias`` at the version ``version`` names, as a new ``alias/<alias>/<n>`` tag.

    When the alias already points at that version nothing is recorded: the current move is
    returned with ``changed`` False.

    Raises:
        UsageError: an invalid alias name, or a version of a kind outside ``kinds``.
        InvalidNameError: ``version`` is not a reference.
        VersionNotFoundError: ``version`` names no version here.
        PromotionRefusedError: the version fails the alias's rules (``cpv.yaml``) and
            ``force`` is false; with ``force`` the move records the rules it overrode.
        LockTimeoutError, GitError.
    """
    refs.check_alias_name(alias)
    repo = ModelRepo.open(path)
    with repo.locked():
        record = resolve_record(repo, version, kinds, action="promote")
        refuse_removed(repo, record)
        history = [m for m in refs.alias_history(repo) if m.alias == alias]
        current = history[-1] if history else None
        if current is not None and current.tag == record.tag:
            return current.model_copy(update={"changed": False})
        overridden = promotion.enforce(repo, record, alias, current=current, force=force)
        move = AliasMove(
            alias=alias,
            number=max((m.number for m in history), default=0) + 1,
            action="promote",
            tag=record.tag,
            previous=current.tag if current else None,
            by=repo.git.identity(),
            at=refs.now(),
            why=message,
            overridden=overridden,
        )
        return _record(repo, move, record.commit)


@announces("demote")
def demote(path: str | Path, alias: str, *, message: str = "") -> AliasMove:
    """Make ``alias`` point at nothing, as a new ``alias/<alias>/<n>`` tag (its history stays).

    Raises:
        UsageError: an invalid alias name.
        VersionNotFoundError: there is no such alias, or it points at nothing already.
        LockTimeoutError, GitError.
    """
    refs.check_alias_name(alias)
    repo = ModelRepo.open(path)
    with repo.locked():
        current = refs.aliases(repo).get(alias)
        if current is None:
            raise VersionNotFoundError(
                f"there is no alias named {alias!r}",
                hint="`cpv aliases` lists the aliases (`cpv pull` first to see the remote's).",
            )
        if current.tag is None:
            raise VersionNotFoundError(
                f"alias {alias!r} points at nothing already (demoted by "
                f"{current.by or 'someone'} at {current.at})",
                hint=f"`cpv aliases --history` shows its moves; `cpv promote VERSION {alias}` "
                "points it at a version again.",
            )
        move = AliasMove(
            alias=alias,
            number=current.number + 1,
            action="demote",
            tag=None,
            previous=current.tag,
            by=repo.git.identity(),
            at=refs.now(),
            why=message,
        )
        return _record(repo, move, current.commit)


def _record(repo: ModelRepo, move: AliasMove, commit: str) -> AliasMove:
    """Write ``move`` as its tag, pointing at ``commit`` (a demote: the version it leaves)."""
    name = refs.alias_ref(move.alias, move.number)
    repo.git.create_tag(name, refs.encode_move(move), commit)
    return move.model_copy(update={"ref": name, "commit": commit})


def alias_list(path: str | Path, *, history: bool = False) -> list[AliasMove]:
    """Each alias's current move, by name (a demoted alias has ``tag`` None); with
    ``history``, every move of every alias, by alias then number. Reads tags only: no lock.

    Raises:
        NotARepositoryError, GitError.
    """
    repo = ModelRepo.open(path)
    if history:
        return refs.alias_history(repo)
    return sorted(refs.aliases(repo).values(), key=lambda m: m.alias)
