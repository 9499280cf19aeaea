"""The catalog index ``cpv push`` keeps beside each model's data (:mod:`cpv.catalog.index`
holds the format and the storage requests).

The index says only what is published: :func:`publish_index` runs after the atomic git push
succeeded, when every local version and alias move is on the remote, and first fetches the
versions and alias moves another clone published that this one lacks, so an index never goes
back to an older state than the remote's. It is rewritten only when something in it changed
(so ``updated_at`` is when the entry last changed). A failure to write it never fails the
push: it becomes a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpv.core.repo import ModelRepo
    from cpv.domain.metadata import VersionRecord
    from cpv.objects.store import ObjectStore

from collections.abc import Collection, Sequence

from cpv.catalog.index import BestVersion, ModelIndex, public_url
from cpv.domain.errors import CpvError
from cpv.settings.config import GIT_REMOTE_NAME


def build_index(repo: ModelRepo, *, branch: str) -> ModelIndex:
    """The catalog entry of ``repo`` from its versions and aliases (removed versions left
    out); sizes and ``updated_*`` are filled in by :func:`publish_index`."""
    from cpv.core import refs
    from cpv.core.removal import removed_markers
    from cpv.domain.versions import Kind

    markers = removed_markers(repo)
    live = [r for r in repo.records() if r.tag not in markers]
    newest = {kind: _newest([r for r in live if r.kind == kind]) for kind in Kind}
    latest_model, latest_data = newest[Kind.MODEL], newest[Kind.DATA]
    url = repo.git.remote_url(GIT_REMOTE_NAME) or ""
    return ModelIndex(
        team=repo.config.team,
        model=repo.config.model,
        model_version=latest_model.version if latest_model else None,
        data_version=latest_data.version if latest_data else None,
        model_versions=sum(r.kind is Kind.MODEL for r in live),
        data_versions=sum(r.kind is Kind.DATA for r in live),
        aliases={n: m.tag for n, m in sorted(refs.aliases(repo).items()) if m.tag},
        best=_best(repo, live),
        metrics=dict(latest_model.metrics) if latest_model else {},
        latest_at=max((r.created_at for r in live), default=None),
        git_remote=public_url(url),
        branch=branch,
        commit=repo.git.head_commit() or "",
    )


def _newest(records: Sequence[VersionRecord]) -> VersionRecord | None:
    return max(records, key=lambda r: r.parsed_version, default=None)


def _best(repo: ModelRepo, live: Sequence[VersionRecord]) -> BestVersion | None:
    """``best`` as :func:`cpv.core.refs.resolve_arg` resolves it (the metric ``cpv.yaml``
    declares); None when none is declared or no version has the metric."""
    from cpv.core import refs

    declared = repo.config.best
    if declared is None:
        return None
    found = refs.best(live, metric=declared.metric, mode=declared.mode)
    if found is None:
        return None
    value = float(found.metrics[declared.metric])
    return BestVersion(metric=declared.metric, mode=declared.mode, tag=found.tag, value=value)


def publish_index(
    repo: ModelRepo,
    *,
    branch: str,
    remote_tags: Collection[str],
    store: ObjectStore | None = None,
) -> str | None:
    """Write ``repo``'s catalog index beside its data, right after a successful push;
    ``remote_tags``: the version and lifecycle tags the remote listed before the push;
    ``store``: the push's own store, whose listing and uploads give the stored size without
    listing the storage again.

    Returns None when the index is written (or already says the same), else a warning: a
    failure here never fails the push, whose versions are already published.
    """
    from cpv.catalog.index import IndexFile
    from cpv.core import refs
    from cpv.objects.transfer import store_for
    from cpv.settings.credentials import applied_env

    try:
        _catch_up(repo, remote_tags)
        index = build_index(repo, branch=branch)
        store = store or store_for(repo.root)
        with applied_env(store.env()):
            listed = store.known_sizes()
            index.size_bytes, index.objects = sum(listed.values()), len(listed)
            file = IndexFile(store)
            try:
                current = file.read()
            except CpvError:
                current = None  # unreadable: written again
            if index.same_as(current):
                return None
            index.updated_at, index.updated_by = refs.now(), repo.git.identity()
            file.write(index)
    except Exception as exc:  # the push is done: never turn it into a failure
        why = exc.message if isinstance(exc, CpvError) else f"{type(exc).__name__}: {exc}"
        return (
            f"the catalog index of {repo.config.team}/{repo.config.model} was not updated "
            f"({why}); `cpv models` shows the previous state until the next `cpv push`"
        )
    return None


def _catch_up(repo: ModelRepo, remote_tags: Collection[str]) -> None:
    """Fetch the version and lifecycle tags the remote has and this clone lacks (another
    writer's), so the index describes all that is published. No request when none lack."""
    from cpv.core import refs

    local = {t.name for t in repo.git.list_tags("model", "data", *refs.LIFECYCLE)}
    if set(remote_tags) <= local:
        return
    repo.git.fetch(
        GIT_REMOTE_NAME,
        "refs/tags/model/*:refs/tags/model/*",
        "refs/tags/data/*:refs/tags/data/*",
        *refs.lifecycle_refspecs(),
    )
