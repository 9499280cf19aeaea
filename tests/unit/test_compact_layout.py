"""A compact version in DVC's layout (:mod:`cpv.objects.compact`): what its listing names, and the
listings and recipes a checkout refuses (read from git or the storage: untrusted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpv.domain.errors import InvalidObjectIdError, RecipeError
from cpv.objects.compact import check_rebuilt, compact, files_of, plan_checkout
from cpv.objects.layout import FileEntry, Tree, hash_tree, place_object
from cpv.tensors.compose import md5_of
from tests.unit.test_tensors import _weights, save_safetensors

pytest.importorskip("zstandard")


def _stored(tmp_path: Path) -> tuple[Path, Tree, Tree]:
    """A folder with a safetensors file and a config, made compact into a cache: (cache,
    the compact tree, the files' tree)."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    save_safetensors(folder / "model.safetensors", _weights(7))
    (folder / "config.json").write_text("{}")
    cache = tmp_path / "cache"
    files = hash_tree(folder)
    copies: dict[str, Path] = {}
    done = compact(files, folder=folder, cache=cache, copies=copies, zstd=1)
    for oid, tmp in copies.items():
        place_object(cache, oid, move_from=tmp, durable=False)
    return cache, done.tree, files


def test_the_listing_names_the_recipe_and_segments_never_the_whole_file(tmp_path: Path) -> None:
    cache, tree, files = _stored(tmp_path)
    paths = [e.relpath for e in tree.entries]
    assert "model.safetensors" not in paths and "config.json" in paths
    assert ".cpv-compact/model.safetensors.recipe" in paths
    assert sum(p.startswith(".cpv-compact/segments/") for p in paths) == 4
    whole = next(e.md5 for e in files.entries if e.relpath == "model.safetensors")
    assert not (cache / "files" / "md5" / whole[:2] / whole[2:]).exists()
    assert files_of(cache, tree, where="v0.1") == files
    assert check_rebuilt(cache, tree, where="v0.1") == 1


def _with(cache: Path, tree: Tree, *, recipe: dict[str, object] | None = None, extra=()) -> Tree:  # type: ignore[no-untyped-def]
    entries = list(tree.entries) + list(extra)
    if recipe is not None:
        body = json.dumps(recipe).encode()
        place_object(cache, md5_of(body), data=body, durable=False)
        entries = [
            FileEntry(e.relpath, md5_of(body), len(body)) if e.relpath.endswith(".recipe") else e
            for e in entries
        ]
    return Tree(tuple(entries))


def _recipe(cache: Path, tree: Tree) -> dict[str, object]:
    entry = next(e for e in tree.entries if e.relpath.endswith(".recipe"))
    return json.loads((cache / "files" / "md5" / entry.md5[:2] / entry.md5[2:]).read_bytes())


def test_a_recipe_that_lies_about_its_segments_order_never_passes(tmp_path: Path) -> None:
    cache, tree, _ = _stored(tmp_path)
    body = _recipe(cache, tree)
    segments = body["segments"]
    assert isinstance(segments, list)
    segments[2], segments[3] = segments[3], segments[2]  # same sizes, ids all valid
    with pytest.raises(RecipeError, match="not the one saved"):
        check_rebuilt(cache, _with(cache, tree, recipe=body), where="v0.2")


def test_a_recipe_naming_a_segment_its_listing_lacks_is_refused(tmp_path: Path) -> None:
    cache, tree, _ = _stored(tmp_path)
    body = _recipe(cache, tree)
    body["segments"][2]["oid"] = "f" * 32  # type: ignore[index]
    with pytest.raises(RecipeError, match="does not list"):
        plan_checkout(cache, _with(cache, tree, recipe=body), where="v0.2")


@pytest.mark.parametrize(
    "extra",
    [
        FileEntry("model.safetensors", "a" * 32, 1),  # the file twice: whole and rebuilt
        FileEntry("model.safetensors/x", "a" * 32, 1),  # a folder where the file goes
        FileEntry(".cpv-compact/notes.txt", "a" * 32, 1),  # no recipe
        FileEntry(".cpv-compact/.recipe", "a" * 32, 1),  # a recipe of no file
    ],
)
def test_a_listing_cpv_never_writes_is_refused(tmp_path: Path, extra: FileEntry) -> None:
    cache, tree, _ = _stored(tmp_path)
    with pytest.raises((RecipeError, InvalidObjectIdError)):
        plan_checkout(cache, _with(cache, tree, extra=[extra]), where="v0.2")


def test_a_folder_holding_cpvs_own_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    (folder / ".cpv-compact").mkdir(parents=True)
    (folder / ".cpv-compact" / "x.recipe").write_text("{}")
    with pytest.raises(RecipeError, match="is where cpv keeps"):
        compact(hash_tree(folder), folder=folder, cache=tmp_path / "c", copies={}, zstd=None)
