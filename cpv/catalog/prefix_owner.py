"""Whose storage prefix is it: a model moves only onto a prefix that is empty or its own.

A model's prefix (``<storage>/<team>/<model>``) holds its objects and its catalog index
(``cpv-index.json``, which names the team and model). ``cpv remote set`` refuses a prefix
whose index names another model, or, without an index, that holds objects none of the
moved versions needs: sharing a prefix would let one model's ``gc --remote`` delete the
other's objects. Once moved, the old prefix's index is carried to the new one, so
``cpv models`` shows the model where its bytes now are (the next push refreshes it).

Everything read here comes from the storage and is untrusted: an index that does not read
as one is no owner, and the names it holds are only quoted, escaped by the renderer.
"""

from __future__ import annotations

from collections.abc import Collection

from cpv.catalog.index import IndexFile, ModelIndex
from cpv.domain.errors import CpvError, UsageError
from cpv.objects.store import ObjectStore
from cpv.settings.credentials import applied_env

_HINT = (
    "Give the bucket alone (`cpv remote set s3://BUCKET`): cpv lays the model out at "
    "s3://BUCKET/TEAM/MODEL, its own prefix."
)


def refuse_foreign(
    store: ObjectStore, *, team: str, model: str, present: Collection[str], needed: Collection[str]
) -> None:
    """Raise when ``store``'s prefix holds another model.

    ``present``: the objects listed there; ``needed``: every object the move copies.

    Raises:
        UsageError: its index names another model, or (no index) it holds objects
            that are none of this model's moved versions'.
    """
    index = _read(store)
    if index is not None:
        if (index.team, index.model) != (team, model):
            owner = _printable(f"{index.team}/{index.model}")
            raise UsageError(
                f"{store.url} holds the model {owner} (its catalog index says so): "
                f"{team}/{model} cannot share its prefix",
                hint=f"Move {team}/{model} to another URL (`cpv remote set URL`); ask the "
                f"owners of {owner} before touching what is stored there.",
            )
        return
    strangers = set(present) - set(needed)
    if strangers:
        raise UsageError(
            f"{store.url} already holds {len(strangers)} object(s) that no version of "
            f"{team}/{model} being moved needs, and no catalog index: it may be another "
            "model's storage",
            hint="Move it to another URL (`cpv remote set URL`), or empty that prefix first "
            "if what it holds is nobody's.",
        )


def refuse_model_prefix(store: ObjectStore, *, team: str, model: str) -> None:
    """Raise when ``store`` (the URL given to ``remote set``, before ``<team>/<model>`` was
    appended to it) is itself another model's prefix: the user named that model's storage.

    Raises:
        UsageError: a catalog index there names another model.
    """
    index = _read(store)
    if index is not None and (index.team, index.model) != (team, model):
        owner = _printable(f"{index.team}/{index.model}")
        raise UsageError(
            f"{store.url} is the storage of the model {owner} (its catalog index says so): "
            f"{team}/{model} does not go inside it",
            hint=_HINT,
        )


def carry_index(old: ObjectStore | None, new: ObjectStore, *, team: str, model: str) -> str | None:
    """Copy the model's catalog index from ``old`` to ``new`` (when ``old`` has one naming
    this model and ``new`` has none). Returns None, or a warning: the move itself is done."""
    if old is None:
        return None
    try:
        index = _read(old)
        if index is None or (index.team, index.model) != (team, model):
            return None
        if _read(new) is None:
            with applied_env(new.env()):
                IndexFile(new).write(index)
    except CpvError as exc:
        return (
            f"the catalog index of {team}/{model} was not copied to {new.url} ({exc.message}); "
            "`cpv models` shows it there after the next `cpv push`"
        )
    return None


def _read(store: ObjectStore) -> ModelIndex | None:
    with applied_env(store.env()):
        return IndexFile(store).read()


def _printable(text: str) -> str:
    """A name read from the storage, with no control character left to reach a terminal."""
    return "".join(c for c in text if c.isprintable())[:200]
