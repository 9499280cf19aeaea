"""What ``cpv push`` will not publish because the remote's state now contradicts it.

* a removal marker (``removed/<tag>``, from a local ``cpv delete``) for a version an alias
  on the remote names: another clone promoted it since; the removal loses (the version's
  bytes are still in the storage: a local delete only freed this clone's cache);
* an alias move onto a version the remote has marked removed (its bytes may be gone).

Each is withdrawn — its local tag deleted — and said, instead of failing the whole push.
"""

from __future__ import annotations

from collections.abc import Sequence

from cpv.core import refs
from cpv.core.remote_view import remote_view
from cpv.core.removal import REMOVED_PREFIX, marker_ref, removed_markers
from cpv.core.repo import ModelRepo


def withdraw_contradicted(
    repo: ModelRepo, listing: dict[str, str], records: Sequence[str]
) -> dict[str, str]:
    """Tag name -> why it was withdrawn (its local tag is deleted), for ``records`` the
    remote (``listing``: its refs) contradicts."""
    out: dict[str, str] = {}
    removed_there = {
        ref[len(f"refs/tags/{REMOVED_PREFIX}/") :]
        for ref in listing
        if ref.startswith(f"refs/tags/{REMOVED_PREFIX}/") and not ref.endswith("^{}")
    }
    for move in refs.alias_history(repo):
        if move.ref in records and move.tag and move.tag in removed_there:
            out[move.ref] = (
                f"{move.ref} ({move.alias} -> {move.tag}) not published: {move.tag} was removed "
                f"on the remote; promote another version to {move.alias}"
            )
    markers = [r for r in records if r.startswith(f"{REMOVED_PREFIX}/")]
    if markers:
        mine = removed_markers(repo)
        with remote_view(repo) as view:
            aliased = view.aliased()
        for tag, marker in mine.items():
            name = marker_ref(tag)
            if name in markers and aliased.get(tag):
                out[name] = (
                    f"the removal of {tag} ({marker.action} by {marker.by}) not published: the "
                    f"remote's {', '.join(aliased[tag])} points at it now (promoted since)"
                )
    for name in out:
        repo.git.delete_tag(name)
    return out
