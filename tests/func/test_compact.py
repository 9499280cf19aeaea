"""Compact mode (``cpv.yaml`` ``storage: {layout: compact}``, issue 23): a version stores only
the tensors no earlier version stored; clone, pull and revert rebuild its files bit-exact; gc
keeps every segment a kept version needs (real git, the local default storage)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

import cpv
from cpv import ModelCheckpoints
from cpv.domain.errors import RecipeError
from cpv.objects.layout import cache_dir
from cpv.ops.pull import clone
from cpv.ops.push import push
from tests.conftest import repo_snapshot, run_cpv

np = pytest.importorskip("numpy")
pytest.importorskip("zstandard")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def compact_mode(repo: Path, compress: str = "zstd") -> None:
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write(f"storage: {{layout: compact, compress: {compress}}}\n")
    git(repo, "commit", "-qam", "storage: compact")


def layers(seed: int, n: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        f"layer{i}.weight": rng.standard_normal(4096).astype(np.float32) * 0.02 for i in range(n)
    }


def save(repo: Path, tensors: dict[str, np.ndarray], name: str = "model.safetensors") -> bytes:
    """A safetensors file (the format's own layout) in the model folder; its bytes."""
    header: dict[str, object] = {}
    blobs, at = [], 0
    for key, values in tensors.items():
        data = values.tobytes()
        header[key] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    body = struct.pack("<Q", len(text)) + text + b"".join(blobs)
    path = repo / "checkpoints" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return body


def cached(repo: Path, oid: str) -> Path:
    return cache_dir(repo) / "files" / "md5" / oid[:2] / oid[2:]


def listing(repo: Path, dir_hash: str) -> list[dict[str, str]]:
    return json.loads(cached(repo, dir_hash).read_text())


def objects(repo: Path) -> set[str]:
    return {
        p.parent.name + p.name
        for p in (cache_dir(repo) / "files" / "md5").rglob("*")
        if p.is_file() and not p.name.endswith(".dir")
    }


def test_a_fine_tune_stores_only_its_changed_tensor_and_clones_back_bit_exact(
    repo: Path, tmp_path: Path
) -> None:
    compact_mode(repo)
    base = layers(1)
    saved = {"v0.1": save(repo, base)}
    (repo / "checkpoints" / "config.json").write_text('{"hidden": 64}')
    ModelCheckpoints(repo).tag(message="base")
    before = objects(repo)
    tuned = dict(base, **{"layer3.weight": base["layer3.weight"] + 1e-3})
    saved["v0.2"] = save(repo, tuned)
    record = ModelCheckpoints(repo).tag(message="tuned").records[0]
    new = objects(repo) - before
    assert len(new) == 2  # the changed tensor's segment and the file's new recipe
    assert record.compact is not None and record.compact.compress == "zstd"
    assert record.size_bytes == len(saved["v0.2"]) + len('{"hidden": 64}')
    assert record.compact.stored_bytes < record.size_bytes
    paths = {e["relpath"] for e in listing(repo, record.content_hash)}
    assert {"config.json", ".cpv-compact/model.safetensors.recipe"} < paths
    assert len(paths) == 2 + 4 and "model.safetensors" not in paths  # + a segment per tensor
    usage = {v.tag: v for v in ModelCheckpoints(repo).du().versions}
    new_bytes = sum(cached(repo, oid).stat().st_size for oid in {*new, record.content_hash})
    assert usage["model/v0.2"].unique_bytes == new_bytes < 0.3 * len(saved["v0.2"])
    assert usage["model/v0.2"].stored_bytes == new_bytes  # du's savings count the segments
    assert usage["model/v0.2"].logical_bytes == record.size_bytes
    shown = run_cpv("show", "v0.2", cwd=repo).stdout
    assert "compact (tensor segments, zstd;" in shown, shown
    shown_json = json.loads(run_cpv("show", "v0.2", "--json", cwd=repo).stdout)
    assert shown_json["compact"]["files_hash"] == record.compact.files_hash != record.content_hash
    push(repo)
    remote = git(repo, "remote", "get-url", "origin").strip()
    for version, body in saved.items():
        dest, _ = clone(remote, tmp_path / f"clone-{version}", version=version)
        assert (dest / "checkpoints" / "model.safetensors").read_bytes() == body
        assert (dest / "checkpoints" / "config.json").read_text() == '{"hidden": 64}'
        assert sorted(p.name for p in (dest / "checkpoints").iterdir()) == [
            "config.json",
            "model.safetensors",
        ]
    got = cpv.get("acme/whisper-small@v0.1", dest=tmp_path / "got")  # no clone
    assert sorted(p.name for p in got.iterdir()) == ["config.json", "model.safetensors"]
    assert (got / "model.safetensors").read_bytes() == saved["v0.1"]
    status = json.loads(run_cpv("status", "--json", cwd=dest).stdout)  # the clone of v0.2
    model = next(k for k in status["kinds"] if k["kind"] == "model")
    assert model["changed"] is False and model["workspace_version"] == "v0.2", model


def test_nothing_changed_makes_no_version_and_pull_of_an_older_version_rebuilds_it(
    repo: Path,
) -> None:
    compact_mode(repo, compress="none")
    first = save(repo, layers(2))
    ModelCheckpoints(repo).tag()
    assert ModelCheckpoints(repo).tag().created is False
    second = save(repo, layers(3))
    ModelCheckpoints(repo).tag()
    ModelCheckpoints(repo).pull(version="v0.1")
    assert (repo / "checkpoints" / "model.safetensors").read_bytes() == first
    ModelCheckpoints(repo).pull(version="v0.2")
    assert (repo / "checkpoints" / "model.safetensors").read_bytes() == second


def test_gc_removing_a_version_keeps_the_segments_a_kept_one_shares(
    repo: Path, tmp_path: Path
) -> None:
    compact_mode(repo)
    base = layers(4)
    save(repo, base)
    first = ModelCheckpoints(repo).tag().records[0]
    kept = save(repo, dict(base, **{"layer0.weight": base["layer0.weight"] * 2}))
    second = ModelCheckpoints(repo).tag().records[0]
    push(repo)
    old = {e["md5"] for e in listing(repo, first.content_hash)}
    needed = {e["md5"] for e in listing(repo, second.content_hash)}
    assert len(old - needed) == 2 and len(old & needed) == 3  # a segment and a recipe; 3 shared
    result = ModelCheckpoints(repo).gc(keep_last=1, remote=True)
    assert [r.tag for r in result.collected] == ["model/v0.1"]
    storage = Path(ModelCheckpoints(repo).storage().storage or "")
    stored = {p.parent.name + p.name for p in (storage / "files" / "md5").rglob("*")}
    assert not (old - needed) & stored and needed <= stored
    remote = git(repo, "remote", "get-url", "origin").strip()
    dest, _ = clone(remote, tmp_path / "after-gc", version="v0.2")
    assert (dest / "checkpoints" / "model.safetensors").read_bytes() == kept
    verify = run_cpv("verify", "--all-versions", "--deep", "--json", cwd=dest)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_hostile_recipe_is_refused_and_the_workspace_left_as_it_was(repo: Path) -> None:
    compact_mode(repo)
    save(repo, layers(5))
    record = ModelCheckpoints(repo).tag().records[0]
    save(repo, layers(6))
    ModelCheckpoints(repo).tag()
    entry = next(e for e in listing(repo, record.content_hash) if e["relpath"].endswith(".recipe"))
    recipe_path = cached(repo, entry["md5"])
    body = json.loads(recipe_path.read_text())
    body["segments"][-1]["oid"] = "../../../../etc/passwd"
    recipe_path.chmod(0o644)
    recipe_path.write_text(json.dumps(body))
    state = repo_snapshot(repo)
    with pytest.raises(RecipeError):
        ModelCheckpoints(repo).pull(version="v0.1")
    assert repo_snapshot(repo) == state


@pytest.mark.parametrize("fault", ["after_add", "kill:after_add"])
def test_a_tag_interrupted_mid_way_leaves_nothing_and_the_next_one_is_whole(
    repo: Path, fault: str
) -> None:
    compact_mode(repo)
    save(repo, layers(7))
    ModelCheckpoints(repo).tag()
    body = save(repo, layers(8))
    state = repo_snapshot(repo)
    failed = run_cpv("tag", "-m", "cut short", cwd=repo, env={"CPV_FAULT": fault}, check=False)
    assert failed.returncode != 0
    if not fault.startswith("kill:"):  # rolled back at once; a killed one by the next tag
        assert repo_snapshot(repo) == state
    assert [r.version for r in ModelCheckpoints(repo).list()] == ["v0.1"]
    assert ModelCheckpoints(repo).tag().records[0].version == "v0.2"
    ModelCheckpoints(repo).pull(version="v0.1")
    ModelCheckpoints(repo).pull(version="v0.2")
    assert (repo / "checkpoints" / "model.safetensors").read_bytes() == body


def test_a_revert_interrupted_mid_way_puts_the_files_back_not_the_segments(repo: Path) -> None:
    compact_mode(repo)
    save(repo, layers(9))
    ModelCheckpoints(repo).tag()
    save(repo, layers(10))
    ModelCheckpoints(repo).tag()
    state = repo_snapshot(repo)
    env = {"CPV_FAULT": "after_revert_checkout"}
    failed = run_cpv("revert", "v0.1", cwd=repo, env=env, check=False)
    assert failed.returncode != 0 and "injected fault" in failed.stderr
    assert repo_snapshot(repo) == state
    assert not (repo / "checkpoints" / ".cpv-compact").exists()


@pytest.mark.parametrize("in_memory", [False, True])
def test_a_private_snapshot_is_stored_compact_too(
    repo: Path, tmp_path: Path, in_memory: bool
) -> None:
    """The training callbacks' path: a save's snapshot (a folder, or read into memory)."""
    from cpv.core.repo import ModelRepo
    from cpv.core.snapshots import tag_snapshot
    from cpv.core.versioning import TagRequest
    from cpv.objects.layout import MemorySnapshot

    compact_mode(repo)
    saves = tmp_path / "run"
    bodies = []
    for seed in (11, 12):
        body = save(repo, layers(seed))
        (saves / "model.safetensors").parent.mkdir(exist_ok=True)
        (saves / "model.safetensors").write_bytes(body)
        (saves / "trainer_state.json").write_text(f'{{"seed": {seed}}}')
        if in_memory:
            snap = MemorySnapshot.read(saves)
            tag_snapshot(ModelRepo.open(repo), snap, TagRequest())
        else:
            ModelCheckpoints(repo).tag(source=saves)
        bodies.append(body)
    records = ModelCheckpoints(repo).list()
    assert [r.compact is not None for r in records] == [True, True]
    paths = {e["relpath"] for e in listing(repo, records[-1].content_hash)}
    assert "trainer_state.json" in paths and "model.safetensors" not in paths
    for record, body in zip(records, bodies, strict=True):
        ModelCheckpoints(repo).pull(version=record.version, force=True)
        assert (repo / "checkpoints" / "model.safetensors").read_bytes() == body
    assert not list((cache_dir(repo) / "files" / "md5").glob(".stage-*"))  # nothing left over


@pytest.mark.s3
def test_through_s3_the_storage_holds_each_tensor_once_and_gc_keeps_the_shared_ones(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    import boto3

    from cpv.ops.init import init_repository

    repo = init_repository(team="acme", model="bert", path=tmp_path / "bert")
    compact_mode(repo)
    base = layers(13)
    saved = [save(repo, base)]
    first = ModelCheckpoints(repo).tag().records[0]
    saved.append(save(repo, dict(base, **{"layer1.weight": base["layer1.weight"] * 0.5})))
    second = ModelCheckpoints(repo).tag().records[0]
    push(repo)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    def stored() -> dict[str, int]:
        listed = s3.list_objects_v2(Bucket=s3_user_config, Prefix="acme/bert/files/md5/")
        return {
            o["Key"].split("/")[-2] + o["Key"].split("/")[-1]: o["Size"] for o in listed["Contents"]
        }

    old = {e["md5"] for e in listing(repo, first.content_hash)}
    new = {e["md5"] for e in listing(repo, second.content_hash)}
    assert set(stored()) == old | new | {first.content_hash, second.content_hash}
    catalog = json.loads(run_cpv("models", "--json").stdout)["models"][0]
    assert catalog["objects"] == len(stored()) and catalog["size_bytes"] == sum(stored().values())
    dest, _ = clone(
        git(repo, "remote", "get-url", "origin").strip(), tmp_path / "c", version="v0.1"
    )
    assert (dest / "checkpoints" / "model.safetensors").read_bytes() == saved[0]
    verify = run_cpv("verify", "--all-versions", "--remote", "--deep", cwd=dest, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    ModelCheckpoints(repo).gc(keep_last=1, remote=True)
    assert set(stored()) == new | {second.content_hash}  # v0.1's own segment and recipe gone


def test_plain_dvc_gets_recipes_and_segments_and_cpv_pull_rebuilds_the_files(
    repo: Path, tmp_path: Path
) -> None:
    compact_mode(repo)
    body = save(repo, layers(14))
    ModelCheckpoints(repo).tag()
    push(repo)
    plain = tmp_path / "plain"
    subprocess.run(
        ["git", "clone", "-q", git(repo, "remote", "get-url", "origin").strip(), str(plain)],
        check=True,
    )
    subprocess.run(["dvc", "pull", "-q"], cwd=plain, check=True, capture_output=True)
    got = sorted(
        p.relative_to(plain / "checkpoints").as_posix()
        for p in (plain / "checkpoints").rglob("*")
        if p.is_file()
    )
    assert got[0] == ".cpv-compact/model.safetensors.recipe" and len(got) == 1 + 4
    assert all(p.startswith(".cpv-compact/segments/") for p in got[1:])
    run_cpv("pull", cwd=plain)
    assert [p.name for p in (plain / "checkpoints").iterdir()] == ["model.safetensors"]
    assert (plain / "checkpoints" / "model.safetensors").read_bytes() == body
