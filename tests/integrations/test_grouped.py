"""Weights as one safetensors shard per module group (cpv.integrations.grouped): the bytes,
the loaders that read them, and what a new version stores."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import (  # noqa: E402
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    Trainer,
)

from cpv.api.managers import ModelCheckpoints  # noqa: E402
from cpv.domain.errors import UsageError  # noqa: E402
from cpv.integrations import Versioning, load_grouped, save_grouped  # noqa: E402
from cpv.integrations.grouped import group_of, regroup  # noqa: E402
from cpv.integrations.transformers import CpvCallback  # noqa: E402
from cpv.ops.init import init_repository  # noqa: E402
from cpv.ops.push import push  # noqa: E402

from ._tiny_bert import TinyDataset, tiny_args, tiny_model  # noqa: E402
from .conftest import dvc_file_md5s  # noqa: E402

FROZEN = ("model-bert.embeddings.safetensors", "model-bert.encoder.layer.0.safetensors")
TRAINED = (
    "model-bert.encoder.layer.1.safetensors",
    "model-bert.pooler.safetensors",
    "model-classifier.safetensors",
)


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _freeze(model: BertForSequenceClassification) -> BertForSequenceClassification:
    """The fine-tune of the issue: embeddings and the first layer frozen."""
    for module in (model.bert.embeddings, model.bert.encoder.layer[0]):
        module.requires_grad_(False)
    return model


def _epoch(model: BertForSequenceClassification, opt: torch.optim.Optimizer) -> None:
    data = torch.utils.data.DataLoader(TinyDataset(32, seed=1), batch_size=8)
    model.train()
    for batch in data:
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()


def test_groups_are_modules_up_to_the_numbered_one() -> None:
    assert group_of("bert.encoder.layer.3.attention.self.query.weight") == "bert.encoder.layer.3"
    assert group_of("bert.embeddings.word_embeddings.weight") == "bert.embeddings"
    assert group_of("classifier.weight") == "classifier"
    assert group_of("logit_scale") == "logit_scale"
    assert group_of("a.b.c.weight", depth=3) == "a.b.c"


def test_same_tensors_give_the_same_bytes_and_a_change_touches_only_its_group(
    tmp_path: Path,
) -> None:
    model = tiny_model()
    state = model.state_dict()
    save_grouped(model, tmp_path / "a")
    reordered = dict(reversed(list(state.items())))  # insertion order does not matter
    result = save_grouped(reordered, tmp_path / "b")
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    assert sorted(result.shards.values()) == sorted([*FROZEN, *TRAINED])
    assert result.total_parameters == sum(t.numel() for t in state.values())

    with torch.no_grad():
        model.bert.encoder.layer[1].output.dense.weight.add_(1.0)
    save_grouped(model, tmp_path / "b")
    before, after = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"model-bert.encoder.layer.1.safetensors"}  # the index is unchanged too


def test_from_pretrained_and_load_grouped_read_the_folder(tmp_path: Path) -> None:
    config = BertConfig(
        vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64,
    )  # fmt: skip
    model = BertForMaskedLM(config)  # the decoder is tied to the word embeddings
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.safetensors").write_bytes(b"stale")  # would win over the index
    save_grouped(model, tmp_path / "m")
    config.save_pretrained(tmp_path / "m")
    assert not (tmp_path / "m" / "model.safetensors").exists()
    loaded = BertForMaskedLM.from_pretrained(tmp_path / "m")
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    tensors = load_grouped(tmp_path / "m")
    assert "cls.predictions.decoder.weight" not in tensors  # tied: saved once
    assert torch.equal(
        tensors["bert.embeddings.word_embeddings.weight"],
        model.bert.embeddings.word_embeddings.weight,
    )
    # save_pretrained's single file, regrouped, is byte for byte what save_grouped writes.
    model.save_pretrained(tmp_path / "sp")
    regroup(tmp_path / "sp")
    ours = {k: v for k, v in _hashes(tmp_path / "m").items() if k.startswith("model")}
    theirs = {k: v for k, v in _hashes(tmp_path / "sp").items() if k.startswith("model")}
    assert ours == theirs


def test_bad_input_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="'step' is a int"):
        save_grouped({"w": torch.ones(2), "step": 3}, tmp_path / "x")
    with pytest.raises(UsageError, match="group_by"):
        save_grouped({"w": torch.ones(2)}, tmp_path / "x", group_by=0)
    with pytest.raises(UsageError, match="no safetensors weights"):
        load_grouped(tmp_path)
    save_grouped({"a.w": torch.ones(2)}, tmp_path / "y")
    index = tmp_path / "y" / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": {"a.w": "../../etc/passwd"}}))
    with pytest.raises(UsageError, match="not a safetensors index"):
        load_grouped(tmp_path / "y")


@pytest.mark.s3
@pytest.mark.slow
def test_a_fine_tune_version_stores_only_the_changed_groups_and_plain_dvc_loads_it(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    import boto3

    repo = init_repository(team="acme", model="tiny", path=tmp_path / "tiny")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    def stored() -> set[str]:  # the object ids in the storage
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=s3_user_config)
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        return {k.split("/files/md5/")[1].replace("/", "") for k in keys if "/files/md5/" in k}

    model = _freeze(tiny_model())
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    saved: list[dict[str, torch.Tensor]] = []
    added: list[set[str]] = []
    with Versioning(repo=repo, background=False) as v:
        for _epoch_no in range(2):
            _epoch(model, opt)
            saved.append({k: t.clone() for k, t in model.state_dict().items()})
            before = stored()
            v.log_model(model, metrics={"epoch": _epoch_no})
            push(repo)
            added.append(stored() - before)
    first, second = ModelCheckpoints(repo).list()
    files1 = dvc_file_md5s(repo, first.content_hash)
    files2 = dvc_file_md5s(repo, second.content_hash)
    assert {"config.json", "model.safetensors.index.json", *FROZEN, *TRAINED} == set(files2)
    assert all(files1[f] == files2[f] for f in FROZEN)  # frozen: the same bytes
    assert all(files1[f] != files2[f] for f in TRAINED)
    # The second version put in the storage its listing and its trained groups, nothing else.
    assert added[1] == {second.content_hash, *(files2[f] for f in TRAINED)}
    assert added[0] == {first.content_hash, *files1.values()}  # the first: everything

    # Without cpv: git clone + dvc pull + from_pretrained gives the second version's tensors.
    bare = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    plain = tmp_path / "plain"
    subprocess.run(["git", "clone", "-q", bare, str(plain)], check=True)
    subprocess.run(["git", "checkout", "-q", second.tag], cwd=plain, check=True)
    subprocess.run(["dvc", "pull", "-q"], cwd=plain, check=True, capture_output=True)
    loaded = BertForSequenceClassification.from_pretrained(plain / "checkpoints")
    for name, tensor in saved[1].items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_trainer_versions_are_grouped_by_default(integ_repo: Path, tmp_path: Path) -> None:
    model = _freeze(tiny_model())
    trainer = Trainer(
        model=model,
        args=tiny_args(tmp_path / "out", max_steps=-1, num_train_epochs=2, save_strategy="epoch",
                       eval_strategy="no"),
        train_dataset=TinyDataset(32, seed=1),
        callbacks=[CpvCallback(repo=integ_repo)],
    )  # fmt: skip
    trainer.train()
    first, second = ModelCheckpoints(integ_repo).list()
    files1 = dvc_file_md5s(integ_repo, first.content_hash)
    files2 = dvc_file_md5s(integ_repo, second.content_hash)
    assert "model.safetensors" not in files2 and "optimizer.pt" not in files2
    assert {"config.json", "model.safetensors.index.json", *FROZEN, *TRAINED} <= set(files2)
    assert [f for f in files2 if files1.get(f) == files2[f] and f.endswith(".safetensors")] == list(
        FROZEN
    )
    # The Trainer's own save, read back through the index, equals the versioned shards.
    ckpt = tmp_path / "out" / f"checkpoint-{trainer.state.global_step}"
    pulled = tmp_path / "pulled"
    from safetensors.torch import load_file

    theirs = load_file(ckpt / "model.safetensors")
    ours = load_grouped(_checkout(integ_repo, second.tag, pulled))
    assert theirs.keys() == ours.keys() and all(torch.equal(theirs[k], ours[k]) for k in theirs)


def _checkout(repo: Path, tag: str, into: Path) -> Path:
    """The version's files, rebuilt from the cache by their listing."""
    record = next(r for r in ModelCheckpoints(repo).list() if r.tag == tag)
    into.mkdir()
    for rel, md5 in dvc_file_md5s(repo, record.content_hash).items():
        obj = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        (into / rel).write_bytes(obj.read_bytes())
    return into
