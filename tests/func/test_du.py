"""`cpv du`'s savings: each version's logical size (its files counted whole) against what
it stored (the objects no earlier version had), and the totals."""

from __future__ import annotations

import json
from pathlib import Path

from cpv import ModelCheckpoints
from cpv.ops.push import push
from tests.conftest import run_cpv, write_checkpoint

FROZEN = bytes(range(256)) * 400  # 100 KiB every version shares (a frozen layer's shard)


def _listing_bytes(repo: Path, content_hash: str) -> int:
    path = repo / ".dvc/cache/files/md5" / content_hash[:2] / content_hash[2:]
    return path.stat().st_size


def test_du_shows_logical_and_stored_bytes_per_version_and_in_total(repo: Path) -> None:
    heads = [f"head {i}".encode() * 500 for i in range(3)]  # what each version trained
    for head in heads:
        write_checkpoint(repo, FROZEN, "model-frozen.safetensors")
        write_checkpoint(repo, head, "model-head.safetensors")
        ModelCheckpoints(repo).tag()
    records = ModelCheckpoints(repo).list()
    res = ModelCheckpoints(repo).du()
    logical = [len(FROZEN) + len(h) for h in heads]
    assert [v.logical_bytes for v in res.versions] == logical
    listing = [_listing_bytes(repo, r.content_hash) for r in records]
    stored = [len(FROZEN) + len(heads[0]) + listing[0]] + [
        len(heads[i]) + listing[i] for i in (1, 2)
    ]
    assert [v.stored_bytes for v in res.versions] == stored
    assert res.versions[1].ratio == round(stored[1] / logical[1], 4)
    assert res.logical_bytes == sum(logical) and res.stored_bytes == sum(stored)
    assert res.stored_bytes == res.versions_bytes  # each object once
    assert res.ratio == round(sum(stored) / sum(logical), 4) < 0.5

    # Objects gone from the local cache are sized from the storage: the figures stay.
    push(repo)
    ModelCheckpoints(repo).gc(keep_last=1)
    after = json.loads(run_cpv("du", "--json", cwd=repo).stdout)
    assert [v["stored_bytes"] for v in after["versions"]] == stored
    assert after["versions"][0]["missing"] == 2  # the first version's own head and listing
    assert after["stored_bytes"] == sum(stored) and after["unsized_objects"] == 0
    text = run_cpv("du", cwd=repo).stdout
    percent = f"{res.ratio * 100:.1f}%"
    assert "logical" in text.splitlines()[0] and f"({percent})" in text

    # A removed version keeps its row (logical size, nothing stored) and leaves the totals.
    ModelCheckpoints(repo).delete("v0.2")
    res = ModelCheckpoints(repo).du()
    assert [v.removed for v in res.versions] == [False, True, False]
    assert res.versions[1].stored_bytes == 0 and res.versions[1].ratio is None
    assert res.versions[2].stored_bytes == stored[2]
    assert res.logical_bytes == logical[0] + logical[2]
    assert res.stored_bytes == stored[0] + stored[2]
