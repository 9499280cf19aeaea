"""Naming versions: one resolver for every place a version is accepted, and aliases.

A reference is one of:

* a version: ``v0.3``, ``0.3``, ``model/v0.3``, ``data/v0.3`` (see :mod:`cpv.domain.versions`);
* ``latest``: the newest version (of the kinds at hand);
* ``best``: the version with the best value of the metric ``best:`` in ``cpv.yaml`` names
  (``{metric: eval_loss, mode: min}``), or ``best:METRIC:min|max`` explicitly; versions
  without the metric are skipped;
* an alias name (``prod``, ``staging``, ``champion``): the version it points at now.

**Aliases** are a history of moves, each an immutable annotated tag
``alias/<name>/<n>`` (n = 1, 2, …) pointing at the version's commit, its message holding
who, when, why, from and to (``cpv-alias: {json}``). The current target is the move with the
highest ``n``; a ``demote`` move leaves the alias pointing nowhere. Tags are never moved or
rewritten, and ``cpv push`` never force-pushes: when two clones made the same move number,
the one published second is renumbered to the next free number (so the later publication
wins, and every clone agrees once it has fetched). Plain git shows them:
``git tag -l 'alias/*'``, ``git show alias/prod/3``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from cpv._git.repo import TagRef
from cpv.core.repo import ModelRepo
from cpv.domain.errors import UsageError, VersionNotFoundError
from cpv.domain.metadata import VersionRecord, decode_record, tag_message
from cpv.domain.metrics import is_comparable
from cpv.domain.versions import Kind, Version, parse_version_arg

ALIAS_PREFIX = "alias"
_MARKER = "cpv-alias:"
ALIAS_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")  # fullmatch: "prod\n" is no alias
RESERVED = frozenset({"latest", "best", "head", "all", "model", "data"})


class AliasMove(BaseModel):
    """One move of an alias (an ``alias/<name>/<n>`` tag)."""

    alias: str
    number: int
    action: str  # "promote" or "demote"
    tag: str | None = None  # the version it points at after the move (None: demoted)
    previous: str | None = None
    by: str = ""
    at: str = ""
    why: str = ""
    #: the promotion rules (cpv.yaml) a forced promote overrode, one line each
    overridden: list[str] = []  # noqa: RUF012 - pydantic copies the default
    ref: str = ""  # the tag's name
    commit: str = ""
    #: False for a promote to the version the alias already names: nothing was recorded
    #: (never stored in a tag).
    changed: bool = True


def check_alias_name(name: str) -> str:
    """An alias name: a lowercase word, never ``latest``/``best`` or a version."""
    if not ALIAS_NAME.fullmatch(name) or name in RESERVED or re.match(r"^v?\d", name):
        raise UsageError(
            f"invalid alias name {name!r}",
            hint="Use a lowercase word such as prod, staging or champion (not latest, best "
            "or a version).",
        )
    return name


def alias_ref(name: str, number: int) -> str:
    return f"{ALIAS_PREFIX}/{name}/{number}"


def encode_move(move: AliasMove) -> str:
    target = move.tag or "nothing (demoted)"
    body = move.model_dump(mode="json", exclude={"ref", "commit", "changed"})
    return tag_message(f"alias {move.alias} -> {target}", _MARKER, body)


def decode_move(text: str, *, ref: str, commit: str) -> AliasMove | None:
    return decode_record(AliasMove, text, _MARKER, ref=ref, commit=commit)


def alias_history(repo: ModelRepo) -> list[AliasMove]:
    """Every move of every alias (one git call), by alias then number."""
    return moves_of(repo.git.list_tags(ALIAS_PREFIX))


def moves_of(tags: list[TagRef]) -> list[AliasMove]:
    """The alias moves ``alias/…`` tags hold, by alias then number."""
    moves = []
    for t in tags:
        move = decode_move(t.contents, ref=t.name, commit=t.commit)
        if move is not None and t.name == alias_ref(move.alias, move.number):
            moves.append(move)
    return sorted(moves, key=lambda m: (m.alias, m.number))


def aliases(repo: ModelRepo) -> dict[str, AliasMove]:
    """Each alias's latest move (its ``tag`` is None when it was demoted)."""
    current: dict[str, AliasMove] = {}
    for move in alias_history(repo):
        current[move.alias] = move
    return current


def aliases_of(repo: ModelRepo) -> dict[str, list[str]]:
    """Version tag -> the aliases pointing at it now."""
    out: dict[str, list[str]] = {}
    for name, move in aliases(repo).items():
        if move.tag:
            out.setdefault(move.tag, []).append(name)
    return out


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def best(records: Sequence[VersionRecord], *, metric: str, mode: str) -> VersionRecord | None:
    """The record with the lowest (``min``) or highest (``max``) numeric ``metric``; ties go
    to the newest version. Records without it, or whose value is no comparable number (a
    text, NaN, an infinity, an integer beyond 64 bits: see :mod:`cpv.domain.metrics`), are skipped."""
    scored = [
        (float(r.metrics[metric]), i, r)
        for i, r in enumerate(records)
        if is_comparable(r.metrics.get(metric))
    ]
    if not scored:
        return None
    if mode == "max":
        return max(scored, key=lambda s: (s[0], s[1]))[2]
    return min(scored, key=lambda s: (s[0], -s[1]))[2]


def _best_spec(repo: ModelRepo, text: str) -> tuple[str, str]:
    if text == "best":
        if repo.config.best is None:
            raise UsageError(
                "`best` needs a metric: none is declared in cpv.yaml",
                hint="Add `best: {metric: eval_loss, mode: min}` to cpv.yaml, or name one: "
                "best:eval_loss:min.",
            )
        return repo.config.best.metric, repo.config.best.mode
    parts = text.split(":")
    if len(parts) != 3 or not parts[1] or parts[2] not in ("min", "max"):
        raise UsageError(
            f"invalid reference {text!r}", hint="Write best, or best:METRIC:min / best:METRIC:max."
        )
    return parts[1], parts[2]


def _present(repo: ModelRepo) -> list[VersionRecord]:
    """The versions not removed on purpose: ``latest`` and ``best`` never name a version
    whose bytes were removed."""
    from cpv.core.removal import removed_markers

    removed = removed_markers(repo)
    return [r for r in repo.records() if r.tag not in removed]


def is_reference_word(text: str) -> bool:
    """``latest``, ``best…`` or an alias-like word: resolvable only inside a repository."""
    word = text.strip()
    return (
        word in ("latest", "best")
        or word.startswith("best:")
        or (
            bool(ALIAS_NAME.fullmatch(word))
            and word not in RESERVED
            and not re.match(r"^v?\d", word)
        )
    )


def resolve_arg(
    repo: ModelRepo, text: str, *, within: Sequence[Kind] | None = None, action: str = ""
) -> tuple[Kind | None, Version]:
    """What a user's reference names: (kind or None for a bare version, version).

    Raises:
        InvalidNameError, UsageError: not a reference, or of a kind outside ``within``.
        VersionNotFoundError: ``latest``/``best``/an alias names no version here.
    """
    kinds = list(within or (Kind.MODEL, Kind.DATA))
    word = text.strip()
    if word == "latest":  # the newest not removed on purpose, read without the others
        from cpv.core.removal import removed_markers

        newest = repo.newest(kinds, skip=removed_markers(repo))
        if newest is None:
            raise VersionNotFoundError("there is no version yet: `latest` names nothing")
        return (kinds[0] if len(kinds) == 1 else None), newest.parsed_version
    if word == "best" or word.startswith("best:"):
        metric, mode = _best_spec(repo, word)
        records = _present(repo)
        found = None
        for kind in kinds:  # the model's best, else the data's (as a bare version means)
            found = best([r for r in records if r.kind is kind], metric=metric, mode=mode)
            if found is not None:
                break
        if found is None:
            texts = [r.tag for r in records if r.kind in kinds and metric in r.metrics]
            held = f" (in {', '.join(texts[:3])}{' …' if len(texts) > 3 else ''}: not a number)"
            raise VersionNotFoundError(
                f"no version has a number for the metric {metric!r}{held}: `best` names nothing"
                if texts
                else f"no version has the metric {metric!r}: `best` names nothing",
                hint="Tag versions with that metric (--metric), or name another: "
                "best:METRIC:min|max.",
            )
        return found.kind, found.parsed_version
    if ALIAS_NAME.fullmatch(word) and word not in RESERVED and not re.match(r"^v?\d", word):
        move = aliases(repo).get(word)
        if move is None:
            raise VersionNotFoundError(
                f"no version or alias named {word!r}",
                hint="`cpv aliases` lists the aliases; `cpv list` the versions.",
            )
        if move.tag is None:
            raise VersionNotFoundError(
                f"alias {word!r} points at nothing (demoted by {move.by or 'someone'} at "
                f"{move.at})",
                hint=f"Promote a version to it: cpv promote VERSION {word}.",
            )
        kind_text, _, version = move.tag.partition("/")
        kind = Kind(kind_text)
        if kind not in kinds:
            raise UsageError(
                f"alias {word!r} points at {move.tag}, a {kind.value} version",
                hint=f"Use the {kind.value} manager or KIND {kind.value}{' for ' + action if action else ''}.",
            )
        return kind, Version.parse(version)
    return parse_version_arg(word, within=within, action=action)


# --- publishing: what push sends and pull brings besides versions ----------------------
#: Tag namespaces of lifecycle records (alias moves, removal markers) push and pull carry.
LIFECYCLE = (ALIAS_PREFIX, "removed")


def lifecycle_refspecs() -> list[str]:
    return [f"refs/tags/{p}/*:refs/tags/{p}/*" for p in LIFECYCLE]


def remote_lifecycle(url: str) -> dict[str, str]:
    """Lifecycle tag name -> tag object sha on the remote at ``url``."""
    from cpv._git import repo as _git

    return lifecycle_of(_git.ls_remote(url, *[f"refs/tags/{p}/*" for p in LIFECYCLE]))


def lifecycle_of(listing: dict[str, str]) -> dict[str, str]:
    """Lifecycle tag name -> tag object sha, from an ``ls-remote`` listing (refname -> sha)."""
    prefixes = tuple(f"refs/tags/{p}/" for p in LIFECYCLE)
    return {
        ref[len("refs/tags/") :]: sha
        for ref, sha in listing.items()
        if ref.startswith(prefixes) and not ref.endswith("^{}")
    }


def local_lifecycle(repo: ModelRepo) -> dict[str, str]:
    return {t.name: t.obj for t in repo.git.list_tags(*LIFECYCLE)}


def _published_file(repo: ModelRepo) -> Path:
    return repo.git_dir / "cpv" / "published-lifecycle.json"


def known_published(repo: ModelRepo) -> dict[str, str]:
    """Lifecycle tag name -> tag object this clone has seen on the remote (or pushed)."""
    try:
        data = json.loads(_published_file(repo).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def remember_published(repo: ModelRepo, names: Sequence[str] | dict[str, str]) -> None:
    """Note lifecycle tags as published (``names``: tag names, or name -> tag object)."""
    if not names:
        return
    known = known_published(repo)
    if isinstance(names, dict):
        known.update(names)
    else:
        local = {t.name: t.obj for t in repo.git.list_tags(*LIFECYCLE)}
        known.update({n: local[n] for n in names if n in local})
    path = _published_file(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def reconcile(repo: ModelRepo, remote: dict[str, str]) -> dict[str, str]:
    """Make our unpublished lifecycle records fit beside the remote's, so both can be
    fetched and pushed without overwriting anything: when another clone published a move
    number of an alias that we also made, all our unpublished moves of that alias are
    renumbered, in their order, after the remote's last (old -> new returned); a removal
    marker the remote also has is dropped (the remote's says the same).

    A move this clone once saw published and the remote no longer has (its tag deleted on
    the server) is never renumbered into a newer move — that would roll the alias back:
    it keeps its own name and number (push publishes it again as it was)."""
    local = {t.name: t for t in repo.git.list_tags(*LIFECYCLE)}
    known = known_published(repo)
    remember_published(repo, remote)
    pending: dict[str, list[AliasMove]] = {}
    for name, ref in local.items():
        if remote.get(name) == ref.obj:
            continue  # published
        if known.get(name) == ref.obj:  # published once, and since deleted on the server
            if name in remote:  # ... and replaced there: theirs wins (fetched next)
                repo.git.delete_tag(name)
            continue  # never renumbered into a newer move
        move = decode_move(ref.contents, ref=name, commit=ref.commit)
        if move is not None and name == alias_ref(move.alias, move.number):
            pending.setdefault(move.alias, []).append(move)
        elif name in remote:
            repo.git.delete_tag(name)  # a removal marker (or a foreign tag) it has too
    renamed: dict[str, str] = {}
    targets: dict[str, str] = {}
    for alias, moves in pending.items():
        top = max((n for a, n in map(_alias_number, remote) if a == alias), default=0)
        moves.sort(key=lambda m: m.number)
        if moves[0].number > top:
            continue
        for number, move in enumerate(moves, top + 1):
            new = alias_ref(alias, number)
            if new == move.ref:
                continue
            moved = move.model_copy(update={"number": number})
            targets.setdefault(move.ref, "")
            targets[new] = repo.git.retarget_tag(
                local[move.ref].obj, move.commit, name=new, message=encode_move(moved)
            )
            renamed[move.ref] = new
    _move_tags(repo, targets, {n: t.obj for n, t in local.items()})
    return renamed


def _alias_number(name: str) -> tuple[str, int]:
    """``alias/prod/3`` -> ``("prod", 3)``; ``("", 0)`` for any other name."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == ALIAS_PREFIX and parts[2].isdigit():
        return parts[1], int(parts[2])
    return "", 0


def _move_tags(repo: ModelRepo, targets: dict[str, str], current: dict[str, str]) -> None:
    """Set tags (name -> tag object; "" deletes) all together or not at all."""
    updates = [
        (f"refs/tags/{name}", obj, current.get(name, ""))
        for name, obj in sorted(targets.items())
        if obj != current.get(name, "")
    ]
    if updates:
        repo.git.update_refs(updates)


def follow_renamed_versions(repo: ModelRepo, plan: dict[str, str], remote: dict[str, str]) -> None:
    """Unpublished alias moves naming a version that push renamed (``plan``: old -> new
    version tag, renames of one push accumulated: followed to the end) are re-made to name,
    and point at, the renamed version; their ``previous`` follows too."""
    if not plan:
        return

    def final(tag: str | None) -> str | None:
        for _ in range(len(plan) + 1):
            if tag not in plan:
                break
            tag = plan[tag]
        return tag

    current: dict[str, str] = {}
    targets: dict[str, str] = {}
    for ref in repo.git.list_tags(ALIAS_PREFIX):
        move = decode_move(ref.contents, ref=ref.name, commit=ref.commit)
        if move is None or remote.get(ref.name) == ref.obj:
            continue  # published: never rewritten
        tag, previous = final(move.tag), final(move.previous)
        if (tag, previous) == (move.tag, move.previous):
            continue
        named = tag or previous
        commit = (repo.git.tag_commit(named) if named else None) or move.commit
        moved = move.model_copy(update={"tag": tag, "previous": previous})
        current[ref.name] = ref.obj
        targets[ref.name] = repo.git.retarget_tag(ref.obj, commit, message=encode_move(moved))
    _move_tags(repo, targets, current)
