"""Weights saved as one safetensors shard per module group, with an index.

::

    from cpv.integrations import save_grouped, load_grouped

    save_grouped(model, "checkpoints")      # model-bert.encoder.layer.3.safetensors, …
    state = load_grouped("checkpoints")     # or AutoModel.from_pretrained("checkpoints")

The folder holds ``model-<group>.safetensors`` files and ``model.safetensors.index.json``
in the format ``save_pretrained`` writes for a sharded checkpoint (``{"metadata":
{"total_size", "total_parameters"}, "weight_map": {tensor: file}}``), so
``from_pretrained``, Trainer's ``resume_from_checkpoint`` and ``safetensors`` read it.

Why: cpv (and DVC) store each file once by its content hash. A group whose tensors did
not change (frozen layers in a fine-tune) writes the same bytes again (the header and
metadata are fixed, tensors sorted by name), so a new version stores only the shards
of the groups that changed, and plain ``git clone`` + ``dvc pull`` still gives files
that load as they are.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel
from safetensors import safe_open
from safetensors.torch import save_file

from cpv.domain.errors import UsageError
from cpv.domain.paths import StrPath

#: The index ``from_pretrained`` looks for when there is no ``model.safetensors``.
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
SHARD_PREFIX = "model-"
#: The only metadata a shard carries: anything that varies (a time) would make an
#: unchanged group hash differently.
METADATA = {"format": "pt"}
#: Without a numbered part (``layer.3``), a group is this many module names deep.
DEFAULT_DEPTH = 2

GroupBy = int | Callable[[str], str] | None
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SHARD = re.compile(r"model-.+\.safetensors")


class GroupedSave(BaseModel):
    """What :func:`save_grouped` wrote: group -> shard file, and the totals."""

    folder: str
    shards: dict[str, str]
    total_size: int
    total_parameters: int


def group_of(name: str, *, depth: int = DEFAULT_DEPTH) -> str:
    """The default group of tensor ``name``: its module path up to the first numbered
    module (``bert.encoder.layer.3``), else its first ``depth`` module names
    (``bert.embeddings``, ``classifier``); a top-level parameter is its own group."""
    modules = name.split(".")[:-1]
    for i, part in enumerate(modules):
        if part.isdigit():
            return ".".join(modules[: i + 1])
    return ".".join(modules[:depth]) or name


def grouper(group_by: GroupBy) -> Callable[[str], str]:
    """``None``: :func:`group_of`; an int: that many module names (and numbered modules
    always end a group); a callable: used as it is."""
    if group_by is None:
        return group_of
    if isinstance(group_by, bool) or (isinstance(group_by, int) and group_by < 1):
        raise UsageError(
            f"group_by must be a depth of at least 1 or a function, not {group_by!r}",
            hint="e.g. group_by=2 (bert.embeddings) or group_by=lambda name: ...",
        )
    if isinstance(group_by, int):
        depth = group_by
        return lambda name: group_of(name, depth=depth)
    return group_by


def save_grouped(weights: Any, folder: StrPath, *, group_by: GroupBy = None) -> GroupedSave:
    """Save a model's ``state_dict()`` (or a state dict of tensors) under ``folder`` as one
    safetensors file per group of tensors, plus ``model.safetensors.index.json``.

    Identical tensors give identical files (byte for byte). Tensors that share memory (tied
    weights) are saved once, under the first name (as ``save_pretrained`` does). A
    ``model.safetensors`` or ``model-*.safetensors`` file from an earlier save is removed,
    so the folder holds exactly these weights.

    Raises:
        UsageError: ``weights`` is neither a module nor a mapping of names to tensors.
    """
    state = _state_dict(weights)
    tensors = _untied(state)
    groups = _grouped(tensors, group_by)
    shards = _file_names(groups)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale(out, keep=set(shards.values()))
    for key, names in groups.items():
        part = _independent({n: tensors[n] for n in names})
        save_file(part, str(out / shards[key]), metadata=METADATA)
    counts = {n: (t.numel(), t.numel() * t.element_size()) for n, t in tensors.items()}
    return _write_index(out, counts, groups, shards)


def load_grouped(folder: StrPath) -> dict[str, torch.Tensor]:
    """Every tensor of a folder saved by :func:`save_grouped` (or by ``save_pretrained``:
    an index and its shards, or one ``model.safetensors``), on the CPU.

    Raises:
        UsageError: the folder holds no safetensors weights, or its index is malformed.
    """
    tensors: dict[str, torch.Tensor] = {}
    for path, names in weight_files(Path(folder)).items():
        with safe_open(str(path), framework="pt") as fh:
            for name in names or fh.keys():
                tensors[name] = fh.get_tensor(name)
    return tensors


def weight_files(folder: Path) -> dict[Path, list[str]]:
    """Shard path -> the tensor names the index puts in it (``[]``: every tensor of a
    single ``model.safetensors``). The index is untrusted: a shard naming a path outside
    ``folder`` is refused."""
    index = folder / INDEX_NAME
    if not index.is_file():
        if (folder / SINGLE_NAME).is_file():
            return {folder / SINGLE_NAME: []}
        raise UsageError(
            f"no safetensors weights in {folder}",
            hint=f"Expected {SINGLE_NAME} or {INDEX_NAME} (save_grouped or save_pretrained).",
        )
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        files: dict[Path, list[str]] = {}
        for name, shard in weight_map.items():
            if not isinstance(name, str) or not isinstance(shard, str):
                raise TypeError(name)
            if Path(shard).name != shard or shard in ("", ".", ".."):
                raise ValueError(shard)
            files.setdefault(folder / shard, []).append(name)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UsageError(
            f"{index} is not a safetensors index ({exc.__class__.__name__}: {exc})",
            hint="It must map each tensor name to a shard file in the same folder.",
        ) from None
    return files


def regroup(
    folder: StrPath, *, into: StrPath | None = None, group_by: GroupBy = None
) -> GroupedSave:
    """Re-save the safetensors weights ``save_pretrained`` wrote in ``folder`` as
    :func:`save_grouped` shards, in ``into`` (default: in place, the original files then
    removed). One group is held in memory at a time; names and values are unchanged."""
    src = Path(folder)
    out = Path(into) if into is not None else src
    sources = weight_files(src)
    where: dict[str, Path] = {}
    for path, names in sources.items():
        if not names:
            with safe_open(str(path), framework="pt") as fh:
                names = list(fh.keys())
        where.update(dict.fromkeys(names, path))
    groups = _grouped(where, group_by)
    shards = _file_names(groups)
    out.mkdir(parents=True, exist_ok=True)
    originals = {*sources, src / INDEX_NAME}
    _remove_stale(out, keep={p.name for p in originals if p.parent == out})
    counts: dict[str, tuple[int, int]] = {}
    for key, names in groups.items():
        part = {n: _read(where[n], n) for n in names}
        save_file(part, str(out / (shards[key] + ".part")), metadata=METADATA)
        counts.update({n: (t.numel(), t.numel() * t.element_size()) for n, t in part.items()})
    written = set(shards.values())
    for name in written:
        (out / (name + ".part")).replace(out / name)
    saved = _write_index(out, counts, groups, shards)
    # The originals go last, once the new shards and their index are in place: a save cut
    # short in between leaves both layouts, never neither.
    for path in originals:
        if path.parent == out and path.name not in written | {INDEX_NAME} and path.exists():
            path.unlink()
    return saved


def has_weights(folder: StrPath) -> bool:
    """True when ``folder`` holds safetensors weights :func:`regroup` can read."""
    return (Path(folder) / INDEX_NAME).is_file() or (Path(folder) / SINGLE_NAME).is_file()


def copy_regrouped(
    folder: StrPath, into: StrPath, *, ignore: Iterable[str] = (), group_by: GroupBy = None
) -> GroupedSave:
    """Copy a ``save_pretrained`` checkpoint folder into ``into`` with its weights
    regrouped (:func:`regroup`); other files are copied as they are, except those whose
    name matches a glob of ``ignore``."""
    src, out = Path(folder), Path(into)
    patterns = tuple(ignore)

    def skipped(where: str, names: list[str]) -> list[str]:
        top = Path(where) == src
        return [
            n
            for n in names
            if any(fnmatch.fnmatch(n, p) for p in patterns) or (top and _is_weights(n))
        ]

    shutil.copytree(src, out, ignore=skipped, dirs_exist_ok=True)
    return regroup(src, into=out, group_by=group_by)


# -- helpers ----------------------------------------------------------------------------
def _state_dict(weights: Any) -> Mapping[str, Any]:
    if isinstance(weights, torch.nn.Module):
        return weights.state_dict()
    if isinstance(weights, Mapping):
        bad = [k for k, v in weights.items() if not isinstance(k, str) or not torch.is_tensor(v)]
        if not bad:
            return weights
        raise UsageError(
            f"save_grouped saves tensors only; {str(bad[0])!r} is a {type(weights[bad[0]]).__name__}",
            hint="Pass model.state_dict() (or the module); save other state with torch.save.",
        )
    raise UsageError(
        f"save_grouped needs a torch module or a state dict, not a {type(weights).__name__}",
        hint="e.g. save_grouped(model, 'checkpoints') or save_grouped(model.state_dict(), ...)",
    )


def _untied(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors on the CPU, each shared one (tied weights) kept under its first name."""
    seen: set[tuple[Any, ...]] = set()
    kept: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        t = tensor.detach()
        if t.device.type != "meta" and t.numel():
            key = (
                t.device,
                t.untyped_storage().data_ptr(),
                t.storage_offset(),
                t.shape,
                t.stride(),
                t.dtype,
            )
            if key in seen:
                continue
            seen.add(key)
        kept[name] = t.to("cpu").contiguous()
    return kept


def _independent(part: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Views of one storage (a fused weight split in two) copied apart: safetensors
    refuses tensors that share memory."""
    owners: dict[int, int] = {}
    for t in part.values():
        ptr = t.untyped_storage().data_ptr()
        owners[ptr] = owners.get(ptr, 0) + 1
    return {
        n: t.clone() if t.numel() and owners[t.untyped_storage().data_ptr()] > 1 else t
        for n, t in part.items()
    }


def _file_names(groups: Iterable[str]) -> dict[str, str]:
    """Group -> ``model-<group>.safetensors``, distinct even when two groups only differ
    by characters a file name cannot hold."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for g in sorted(groups):
        stem = _UNSAFE.sub("_", g)[:120] or "_"
        name, n = f"{SHARD_PREFIX}{stem}.safetensors", 1
        while name.lower() in used:
            n += 1
            name = f"{SHARD_PREFIX}{stem}~{n}.safetensors"
        used.add(name.lower())
        names[g] = name
    return names


def _is_weights(name: str) -> bool:
    return name in (SINGLE_NAME, INDEX_NAME) or bool(_SHARD.fullmatch(name))


def _remove_stale(folder: Path, *, keep: set[str]) -> None:
    for path in folder.iterdir():
        if path.name not in keep and path.is_file() and _is_weights(path.name):
            path.unlink()


def _read(path: Path, name: str) -> torch.Tensor:
    with safe_open(str(path), framework="pt") as fh:
        return fh.get_tensor(name)


def _grouped(names: Iterable[str], group_by: GroupBy) -> dict[str, list[str]]:
    group = grouper(group_by)
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        groups.setdefault(str(group(name)), []).append(name)
    return groups


def _write_index(
    folder: Path,
    counts: Mapping[str, tuple[int, int]],
    groups: Mapping[str, list[str]],
    shards: Mapping[str, str],
) -> GroupedSave:
    """``counts``: tensor -> (elements, bytes)."""
    total_parameters = sum(n for n, _ in counts.values())
    total_size = sum(b for _, b in counts.values())
    index = {
        "metadata": {"total_parameters": total_parameters, "total_size": total_size},
        "weight_map": {n: shards[g] for g, names in groups.items() for n in names},
    }
    text = json.dumps(index, indent=2, sort_keys=True) + "\n"  # as save_pretrained writes it
    tmp = folder / (INDEX_NAME + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(folder / INDEX_NAME)
    return GroupedSave(
        folder=str(folder),
        shards=dict(shards),
        total_size=total_size,
        total_parameters=total_parameters,
    )


__all__ = [
    "GroupedSave",
    "copy_regrouped",
    "group_of",
    "has_weights",
    "load_grouped",
    "regroup",
    "save_grouped",
    "weight_files",
]
