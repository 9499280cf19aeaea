"""cpv's own writing of DVC's layout is byte-for-byte what DVC writes (checked against DVC)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cpv.domain.errors import UsageError
from cpv.objects import checkout
from cpv.objects import layout as objects


def _folder(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "model.pt").write_bytes(b"\x00\x01weights" * 1000)
    (root / "sub" / "config.json").write_text('{"a": 1}\r\n')  # text with CRLF: no dos2unix
    (root / "sub" / "deeper" / "émoji ✓.txt").write_text("unicode names")
    (root / "empty.bin").write_bytes(b"")
    return root


def _dvc(cwd: Path, *args: str) -> None:
    subprocess.run(["dvc", *args], cwd=cwd, check=True, capture_output=True)


def test_tree_hash_pointer_and_cache_match_dvc_add(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    _folder(repo / "ckpt")
    _dvc(repo, "add", "-q", "ckpt")

    tree = objects.hash_tree(repo / "ckpt")
    assert (repo / "ckpt.dvc").read_text() == objects.pointer_text("ckpt", tree)
    cache = objects.cache_dir(repo)
    assert objects.object_path(cache, tree.hash).read_bytes() == tree.manifest
    assert checkout.load_tree(cache, tree.hash) == tree

    # Storing the same content again (moved from a snapshot) leaves DVC's objects alone and
    # adds nothing: the layout is the same.
    before = sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())
    snap = tmp_path / "snap"
    snap.mkdir()
    objects.snapshot(repo / "ckpt", snap)
    objects.store_snapshot(cache, snap, objects.hash_tree(snap))
    assert sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()) == before
    assert not any(p.is_file() for p in snap.rglob("*"))  # moved (or already cached)


def test_plain_dvc_checks_out_what_cpv_stored(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    _dvc(repo, "init", "-q")
    snap = _folder(tmp_path / "snap")
    tree = objects.hash_tree(snap)
    objects.store_snapshot(objects.cache_dir(repo), snap, tree)
    (repo / "ckpt.dvc").write_text(objects.pointer_text("ckpt", tree))
    _dvc(repo, "checkout", "-q", "ckpt.dvc")
    assert objects.hash_tree(repo / "ckpt") == tree
    for entry in tree.entries:
        stored = objects.object_path(objects.cache_dir(repo), entry.md5)
        assert stored.stat().st_mode & 0o777 == 0o444  # read-only, as DVC protects its cache


def test_snapshot_refuses_a_symlink_out_of_the_checkpoint(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.pt").write_bytes(b"w")
    (tmp_path / "credentials").write_text("secret")
    (src / "creds").symlink_to(tmp_path / "credentials")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UsageError, match="outside src/"):
        objects.snapshot(src, dest)
    assert not (dest / "creds").exists()


def test_snapshot_follows_a_symlink_that_stays_inside(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "model-00001.bin").write_bytes(b"w")
    (src / "latest.bin").symlink_to("model-00001.bin")
    dest = tmp_path / "dest"
    dest.mkdir()
    objects.snapshot(src, dest)
    assert (dest / "latest.bin").read_bytes() == b"w" and not (dest / "latest.bin").is_symlink()


def test_checkout_tree_replaces_the_folder_exactly(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    snap = _folder(tmp_path / "snap")
    tree = objects.hash_tree(snap)
    objects.store_snapshot(cache, snap, tree)
    dest = tmp_path / "dest"
    (dest / "stale" / "x").mkdir(parents=True)
    (dest / "stale" / "x" / "old.bin").write_bytes(b"old")
    (dest / "model.pt").write_bytes(b"other bytes")
    checkout.checkout_tree(cache, tree.hash, dest)
    assert objects.hash_tree(dest) == tree
    assert not (dest / "stale").exists()


def test_checkout_of_a_corrupt_cache_object_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    from cpv.domain.errors import IntegrityError

    cache = tmp_path / "cache"
    snap = _folder(tmp_path / "snap")
    tree = objects.hash_tree(snap)
    objects.store_snapshot(cache, snap, tree)
    bad = objects.object_path(cache, tree.entries[-1].md5)
    bad.chmod(0o644)
    bad.write_bytes(b"X" * bad.stat().st_size)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.bin").write_bytes(b"unsaved")
    with pytest.raises(IntegrityError, match=tree.entries[-1].relpath):
        checkout.checkout_tree(cache, tree.hash, dest)
    assert [p.name for p in dest.rglob("*")] == ["mine.bin"]  # nothing written, nothing removed


def test_cache_dir_follows_dvc_config(tmp_path: Path) -> None:
    (tmp_path / ".dvc").mkdir()
    assert objects.cache_dir(tmp_path) == tmp_path / ".dvc" / "cache"
    (tmp_path / ".dvc" / "config").write_text(
        "[core]\n    remote = s\n[cache]\n    dir = ../elsewhere\n"
    )
    assert objects.cache_dir(tmp_path) == (tmp_path / "elsewhere").resolve()
