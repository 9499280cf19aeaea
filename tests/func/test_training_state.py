"""The training-state rule (`retention: training_state:` in cpv.yaml): which versions would
drop their optimizer/scheduler/RNG files, and the bytes that frees; planned by `cpv gc`
(real git remote, the local default storage), never applied in this release."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cpv import ModelCheckpoints
from cpv.core.repo import ModelRepo
from cpv.core.trims import new_trim, trim_ref, trimmed_tree, write_trim
from cpv.objects.layout import cache_dir, object_path
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import git, repo_snapshot, run_cpv, write_checkpoint
from tests.func.test_compact import compact_mode, layers, save


def blob(what: str, size: int = 4096) -> bytes:
    return (hashlib.sha256(what.encode()).digest() * (size // 32 + 1))[:size]


def _version(repo: Path, i: int, *, optimizer: bytes | None = None) -> None:
    write_checkpoint(repo, blob(f"weights {i}"))
    write_checkpoint(repo, optimizer or blob(f"optimizer {i}", 8192), "optimizer.pt")
    write_checkpoint(repo, blob(f"scheduler {i}", 1024), "scheduler.pt")
    write_checkpoint(repo, blob(f"rng {i}", 512), "checkpoint-1/rng_state_0.pth")
    ModelCheckpoints(repo).tag()


def _rule(repo: Path, text: str) -> None:
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write(text)
    git(repo, "commit", "-qam", "retention")


def _six(repo: Path) -> None:
    """v0.1..v0.6; v0.2's optimizer.pt has v0.6's bytes; prod -> v0.3; branch exp holds v0.4."""
    for i in range(1, 7):
        _version(repo, i, optimizer=blob("optimizer 6", 8192) if i in (2, 6) else None)
    ModelCheckpoints(repo).promote("v0.3", "prod")
    git(repo, "branch", "exp", git(repo, "rev-list", "-n1", "model/v0.4").strip())
    push(repo)


def cache_bytes(repo: Path) -> int:
    return sum(p.stat().st_size for p in cache_dir(repo).rglob("*") if p.is_file())


STATE = ["checkpoint-1/rng_state_0.pth", "optimizer.pt", "scheduler.pt"]


def test_the_plan_keeps_latest_aliased_and_branch_held_state_and_shared_bytes(
    repo: Path,
) -> None:
    _rule(repo, "retention: {training_state: {keep_last: 2}}\n")
    _six(repo)
    before, state = cache_bytes(repo), repo_snapshot(repo)
    out = json.loads(run_cpv("gc", "--dry-run", "--json", cwd=repo).stdout)
    assert repo_snapshot(repo) == state and cache_bytes(repo) == before
    plan = out["training_state"]
    assert out["collected"] == [] and plan["applied"] is False and plan["unknown"] == []
    kept = {k["tag"]: k["reasons"] for k in plan["kept"]}
    assert kept["model/v0.3"] == ["alias prod"]
    assert kept["model/v0.4"] == ["branch exp"]
    assert kept["model/v0.5"] == ["keep-last"]
    assert {"latest", "head", "keep-last"} <= set(kept["model/v0.6"])
    dropped = {d["tag"]: d for d in plan["dropped"]}
    assert sorted(dropped) == ["model/v0.1", "model/v0.2"]
    assert all(sorted(d["files"]) == STATE for d in dropped.values())
    # v0.2's optimizer.pt is v0.6's bytes: v0.6 keeps its state, so they are not freed
    assert dropped["model/v0.2"]["shared"] == ["optimizer.pt"]
    assert dropped["model/v0.1"]["shared"] == []
    assert dropped["model/v0.1"]["freed_bytes"] == 8192 + 1024 + 512
    assert dropped["model/v0.2"]["freed_bytes"] == 1024 + 512
    assert plan["freed_bytes"] == 2 * (1024 + 512) + 8192 and plan["objects"] == 5
    text = run_cpv("gc", "--dry-run", cwd=repo).stdout
    assert "would drop  model/v0.1: checkpoint-1/rng_state_0.pth" in text
    assert "planned only" in text and "nothing to collect" not in text
    # not a dry run: still planned only, no byte and no ref changes
    res = ModelCheckpoints(repo).gc()
    assert res.training_state is not None and not res.training_state.applied
    assert res.collected == [] and repo_snapshot(repo) == state and cache_bytes(repo) == before


def test_collected_and_unpublished_versions_are_not_planned(repo: Path) -> None:
    _rule(
        repo, "retention: {keep_last: 3, training_state: {keep_last: 1, files: [optimizer.pt]}}\n"
    )
    for i in range(1, 5):
        _version(repo, i)
    push(repo)
    _version(repo, 5)  # never pushed
    res = ModelCheckpoints(repo).gc(dry_run=True)
    assert [c.tag for c in res.collected] == ["model/v0.1", "model/v0.2"]
    plan = res.training_state
    assert plan is not None
    kept = {k.tag: k.reasons for k in plan.kept}
    assert {"unpublished", "latest", "keep-last"} <= set(kept["model/v0.5"])
    assert kept["model/v0.4"] == ["remote branch main"]  # the remote's tip: what was pushed
    # v0.1 and v0.2 are collected whole: not planned here (gc frees all of their bytes)
    assert [(d.tag, d.files) for d in plan.dropped] == [("model/v0.3", ["optimizer.pt"])]
    assert plan.freed_bytes == 8192


def test_a_listing_found_nowhere_plans_nothing(repo: Path) -> None:
    _rule(repo, "retention: {training_state: {keep_last: 1}}\n")
    for i in range(1, 4):
        _version(repo, i)
    push(repo)
    listing = git(repo, "show", "model/v0.1:checkpoints.dvc").split("md5: ")[1].split()[0]
    for where in (cache_dir(repo), Path.home() / ".cpv" / "storage"):
        for p in where.rglob(listing[2:]):
            p.chmod(0o644)
            p.unlink()
    out = json.loads(run_cpv("gc", "--dry-run", "--json", cwd=repo).stdout)
    assert out["training_state"]["dropped"] == []
    assert out["training_state"]["unknown"] == ["model/v0.1: checkpoints/"]


def test_a_bad_rule_is_refused_with_the_file_named(repo: Path) -> None:
    _rule(repo, "retention: {training_state: {keep_last: 2, files: ['../secrets']}}\n")
    proc = run_cpv("gc", "--dry-run", cwd=repo, check=False)
    assert proc.returncode != 0 and "Error:" in proc.stderr and "cpv.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def _listing(repo: Path, tag: str) -> list[tuple[str, str]]:
    oid = git(repo, "show", f"{tag}:checkpoints.dvc").split("md5: ")[1].split()[0]
    items = json.loads(object_path(cache_dir(repo), oid).read_bytes())
    return [(i["md5"], i["relpath"]) for i in items]


def _mark(other: Path, tag: str, entries: list[tuple[str, str]], *, forged: bool) -> None:
    """A trimmed/ marker for ``tag`` made in ``other`` and pushed with plain git (no cpv
    command writes one yet); ``forged``: its tree_hash does not match the listing."""
    r = ModelRepo.open(other)
    record = next(x for x in r.records() if x.tag == tag)
    marker = new_trim(r, record, entries, ["optimizer.pt"])
    if forged:
        marker = marker.model_copy(update={"tree_hash": trimmed_tree(entries, [])})
        git(other, "tag", "-d", trim_ref(tag))
    write_trim(r, record, marker)
    git(other, "push", "-qf", "origin", f"refs/tags/{trim_ref(tag)}")


def test_a_trim_marker_on_the_remote_counts_only_when_it_agrees_with_the_listing(
    repo: Path, tmp_path: Path
) -> None:
    _rule(repo, "retention: {training_state: {keep_last: 1}}\n")
    same = blob("same optimizer", 8192)
    for i in range(1, 4):
        _version(repo, i, optimizer=same if i in (1, 2) else None)
    ModelCheckpoints(repo).promote("v0.2", "prod")
    push(repo)
    other, _ = clone(git(repo, "remote", "get-url", "origin").strip(), tmp_path / "other")
    entries = _listing(repo, "model/v0.2")

    def plan() -> dict[str, object]:
        out = json.loads(run_cpv("gc", "--dry-run", "--json", cwd=repo).stdout)
        return out["training_state"]  # type: ignore[no-any-return]

    before = plan()  # prod's v0.2 keeps its optimizer.pt: v0.1's identical one stays
    assert before["trimmed"] == [] and before["dropped"][0]["shared"] == ["optimizer.pt"]
    _mark(other, "model/v0.2", entries, forged=False)
    assert "trimmed/model/v0.2" not in git(repo, "tag", "-l")  # read from the remote only
    after = plan()  # v0.2 dropped it already: nothing needs those bytes now
    assert after["trimmed"] == ["model/v0.2"]
    assert after["dropped"] == [
        {
            "tag": "model/v0.1",
            "files": STATE,
            "freed_bytes": 8192 + 1024 + 512,
            "objects": 3,
            "shared": [],
        }
    ]
    _mark(other, "model/v0.2", entries, forged=True)
    assert plan() == before  # a marker that lies about the listing is not honoured


def test_a_compact_version_plans_only_its_files_listed_whole(repo: Path) -> None:
    compact_mode(repo)
    _rule(repo, "retention: {training_state: {keep_last: 1, files: ['opt*', '*.ckpt']}}\n")
    for i in range(1, 3):
        save(repo, layers(i), "opt_state.safetensors")
        write_checkpoint(repo, blob(f"loop {i}", 2048), "training_state.ckpt")
        ModelCheckpoints(repo).tag()
    push(repo)
    assert any(".cpv-compact/" in rel for _, rel in _listing(repo, "model/v0.1"))
    plan = ModelCheckpoints(repo).gc(dry_run=True).training_state
    assert plan is not None
    # opt_state.safetensors is a recipe and segments there: left alone, not half-planned
    assert [(d.tag, d.files) for d in plan.dropped] == [("model/v0.1", ["training_state.ckpt"])]
    assert plan.freed_bytes == 2048


def test_a_fresh_clone_plans_from_the_storage_and_changes_no_cache_file(
    repo: Path, tmp_path: Path
) -> None:
    _rule(repo, "retention: {training_state: {keep_last: 1}}\n")
    for i in range(1, 4):
        _version(repo, i)
    push(repo)
    other, _ = clone(git(repo, "remote", "get-url", "origin").strip(), tmp_path / "other")
    cached = sorted(p for p in cache_dir(other).rglob("*") if p.is_file())
    plan = ModelCheckpoints(other).gc(dry_run=True).training_state
    assert plan is not None and plan.unknown == []
    # v0.1's and v0.2's listings were read from the storage into a scratch folder
    assert [d.tag for d in plan.dropped] == ["model/v0.1", "model/v0.2"]
    assert plan.freed_bytes == 2 * (8192 + 1024 + 512)
    assert sorted(p for p in cache_dir(other).rglob("*") if p.is_file()) == cached
