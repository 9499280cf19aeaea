"""Compact storage's pure half (:mod:`cpv.tensors`): a checkpoint file cut at its tensors,
stored as segments and a recipe, rebuilt bit-exact; hostile recipes refused."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest

from cpv.domain.errors import RecipeError
from cpv.tensors import codec
from cpv.tensors.compose import decompose, md5_of, rebuild, rebuild_file
from cpv.tensors.formats import spans_of
from cpv.tensors.recipe import Recipe, parse

np = pytest.importorskip("numpy")
pytest.importorskip("zstandard")

DTYPES = {"F32": np.float32, "F16": np.float16}


def _weights(seed: int, n: int = 4, size: int = 64 * 64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {f"layer{i}.weight": (rng.standard_normal(size) * 0.02) for i in range(n)}


def _bf16(values: np.ndarray) -> bytes:
    """bfloat16 bytes (the upper half of each float32, as torch truncates)."""
    return (values.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


def save_safetensors(path: Path, tensors: dict[str, np.ndarray], dtype: str = "F32") -> None:
    """A safetensors file as the format defines it (what ``safetensors.save_file`` writes)."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, at = [], 0
    for name, values in tensors.items():
        data = _bf16(values) if dtype == "BF16" else values.astype(DTYPES[dtype]).tobytes()
        header[name] = {
            "dtype": dtype,
            "shape": [len(values)],
            "data_offsets": [at, at + len(data)],
        }
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def save_zip(path: Path, storages: list[bytes], *, zip64: bool = False) -> None:
    """A ``torch.save``-shaped archive: a pickle, then one stored entry per storage."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02pickled state" * 20)
        for i, data in enumerate(storages):
            with zf.open(f"archive/data/{i}", "w", force_zip64=zip64) as fh:
                fh.write(data)
        zf.writestr("archive/version", b"3\n")


def _round_trip(path: Path, *, compress: bool) -> tuple[Recipe, dict[str, bytes]]:
    store: dict[str, bytes] = {}
    recipe = decompose(path, put=store.__setitem__, compress=compress)
    out = io.BytesIO()
    rebuild(recipe, read=store.__getitem__, out=out, where=path.name)
    assert out.getvalue() == path.read_bytes()
    assert set(recipe.oids) == set(store) and all(md5_of(b) == o for o, b in store.items())
    return recipe, store


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", ["F32", "BF16", "F16"])
def test_safetensors_round_trips_bit_exact_one_object_per_tensor(
    tmp_path: Path, dtype: str, compress: bool
) -> None:
    path = tmp_path / "model.safetensors"
    save_safetensors(path, _weights(1), dtype)
    recipe, store = _round_trip(path, compress=compress)
    assert recipe.format == "safetensors"
    assert [s.tensor for s in recipe.segments if s.oid] == [True] * 4
    assert len(store) == 4
    if compress:  # trained-like weights: the exponent plane compresses
        assert {s.codec for s in recipe.segments if s.oid} == {"bp4" if dtype == "F32" else "bp2"}
        assert recipe.stored < 0.95 * recipe.size
    else:
        assert recipe.stored == 4 * len(_weights(1)["layer0.weight"]) * (4 if dtype == "F32" else 2)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("zip64", [False, True])
def test_a_torch_save_zip_is_cut_at_its_storages(
    tmp_path: Path, compress: bool, zip64: bool
) -> None:
    weights = _weights(2)
    storages = [v.astype(np.float32).tobytes() for v in weights.values()]
    storages.append(np.arange(5000, dtype=np.int64).tobytes())  # a step counter, say
    path = tmp_path / "ckpt.pt"
    save_zip(path, storages, zip64=zip64)
    recipe, store = _round_trip(path, compress=compress)
    assert recipe.format == "torch-zip"
    tensors = [s for s in recipe.segments if s.tensor]
    with open(path, "rb") as fh:
        _, spans = spans_of(fh, path.stat().st_size)
        got = []
        for span in (s for s in spans if s.tensor):
            fh.seek(span.offset)
            got.append(fh.read(span.size))
    assert got == storages and len(tensors) == len(storages)


def test_the_torch_save_of_torch_itself_is_understood(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(64, 64)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.randn(2, 64)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    recipe, _ = _round_trip(path, compress=True)
    assert recipe.format == "torch-zip"
    assert sum(s.size for s in recipe.segments if s.tensor) >= 3 * 64 * 64 * 4


def test_a_new_version_stores_only_the_tensors_that_changed(tmp_path: Path) -> None:
    first, second = _weights(3), _weights(3)
    second["layer2.weight"] = second["layer2.weight"] + 1e-3  # one layer trained, rest frozen
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_safetensors(a, first)
    save_safetensors(b, second)
    ra, _ = _round_trip(a, compress=True)
    rb, _ = _round_trip(b, compress=True)
    assert len(set(rb.oids) - set(ra.oids)) == 1 and len(rb.oids) == 4


def test_a_large_tensor_is_cut_into_pieces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cpv.tensors import formats

    monkeypatch.setattr(formats, "MAX_PIECE", 4096)
    path = tmp_path / "model.safetensors"
    save_safetensors(path, _weights(4, n=1, size=5000))  # 20000 bytes: 5 pieces
    recipe, _ = _round_trip(path, compress=False)
    assert [s.size for s in recipe.segments if s.tensor] == [4096] * 4 + [20000 - 4 * 4096]
    raw = tmp_path / "noise.bin"
    raw.write_bytes(np.random.default_rng(0).bytes(10_000))
    recipe, _ = _round_trip(raw, compress=True)
    assert recipe.format == "raw" and [s.size for s in recipe.segments] == [4096, 4096, 1808]


@pytest.mark.parametrize("cut", [7, 100, 5000, -1])
def test_a_save_cut_short_is_stored_whole_and_still_bit_exact(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "model.safetensors"
    save_safetensors(path, _weights(5))
    path.write_bytes(path.read_bytes()[:cut])
    recipe, _ = _round_trip(path, compress=True)
    assert recipe.format == "raw" and not any(s.tensor for s in recipe.segments)


@pytest.mark.parametrize(
    "header",
    [
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 40]}},  # past the end
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 0]}},  # backwards
        {
            "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
            "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},  # overlapping
        },
        {"w": {"dtype": "F32", "shape": [4], "data_offsets": ["0", 16]}},
        ["not", "a", "header"],
    ],
)
def test_a_header_contradicting_its_file_makes_it_one_raw_segment(
    tmp_path: Path, header: object
) -> None:
    text = json.dumps(header).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(range(256)) * 8)
    recipe, _ = _round_trip(path, compress=False)
    assert recipe.format == "raw"


def test_noise_is_stored_raw_compression_never_grows_a_segment(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(0).bytes(200_000))
    recipe, store = _round_trip(path, compress=True)
    assert [s.codec for s in recipe.segments] == ["raw"] and recipe.stored == 200_000


def _recipe_of(
    tmp_path: Path, *, compress: bool = True
) -> tuple[dict[str, object], dict[str, bytes]]:
    path = tmp_path / "model.safetensors"
    save_safetensors(path, _weights(6))
    store: dict[str, bytes] = {}
    recipe = decompose(path, put=store.__setitem__, compress=compress)
    return json.loads(recipe.dump()), store


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["segments"][2].update(oid="../../../../etc/passwd"),
        lambda r: r["segments"][2].update(oid="0" * 32 + ".dir"),
        lambda r: r["segments"][2].update(size=r["segments"][2]["size"] + 1),
        lambda r: r["segments"][2].update(codec="pickle"),
        lambda r: r["segments"][2].update(size=1 << 40),
        lambda r: r["segments"][0].update(inline="AAAA"),
        lambda r: r["segments"][0].update(oid="0" * 32),
        lambda r: r.update(size=-1),
        lambda r: r.update(md5="x" * 32),
        lambda r: r.update(schema="cpv-recipe/9"),
        lambda r: r.update(extra="field"),
    ],
)
def test_a_hostile_recipe_is_refused_before_anything_is_read(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    body, _ = _recipe_of(tmp_path)
    change(body)
    with pytest.raises(RecipeError, match="not a recipe cpv writes"):
        parse(json.dumps(body).encode(), where="model/v0.2")


def test_an_oversized_or_broken_recipe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="over"):
        parse(b" " * (33 << 20), where="x")
    with pytest.raises(RecipeError, match="not a recipe"):
        parse(b"\xff{", where="x")


@pytest.mark.parametrize("compress", [False, True])
def test_a_wrong_object_never_becomes_the_file(tmp_path: Path, compress: bool) -> None:
    body, store = _recipe_of(tmp_path, compress=compress)
    recipe = parse(json.dumps(body).encode(), where="x")
    victim = recipe.oids[1]
    blob = bytearray(store[victim])
    blob[-1] ^= 1  # a damaged copy of the same size
    store[victim] = bytes(blob)
    (tmp_path / "out").mkdir()
    dest = tmp_path / "out" / "model.safetensors"
    dest.write_bytes(b"what was there")
    with pytest.raises(RecipeError, match="not the one saved" if not compress else None):
        rebuild_file(recipe, read=store.__getitem__, dest=dest, where="x")
    assert dest.read_bytes() == b"what was there"
    assert [p.name for p in dest.parent.iterdir()] == ["model.safetensors"]


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    import zstandard

    bomb = zstandard.ZstdCompressor().compress(bytes(16 << 20))
    with pytest.raises(RecipeError):
        codec.decode("zstd", bomb, size=4096, where="x")
    planes = b"CPB1\x02" + struct.pack("<BQ", 1, len(bomb)) + struct.pack("<BQ", 0, 0) + bomb
    with pytest.raises(RecipeError):
        codec.decode("bp2", planes, size=4096, where="x")
    with pytest.raises(RecipeError):
        codec.decode("bp4", b"CPB1\x04", size=4096, where="x")
