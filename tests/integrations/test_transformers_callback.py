"""CpvCallback against a real Trainer on a tiny BERT (built from a config, CPU)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import BertForSequenceClassification, Trainer, TrainerCallback  # noqa: E402

from cpv.api.managers import ModelCheckpoints  # noqa: E402
from cpv.core.repo import ModelRepo  # noqa: E402
from cpv.domain.errors import UsageError  # noqa: E402
from cpv.integrations.grouped import regroup  # noqa: E402
from cpv.integrations.transformers import CpvCallback  # noqa: E402

from ._tiny_bert import TinyDataset, tiny_args, tiny_model  # noqa: E402
from .conftest import dvc_file_md5s, md5, metrics_log, step_lines  # noqa: E402


def _trainer(repo: Path, tmp_path: Path, callbacks: list, **overrides) -> Trainer:  # noqa: ANN001
    return Trainer(
        model=tiny_model(),
        args=tiny_args(tmp_path / "out", **overrides),
        train_dataset=TinyDataset(48, seed=1),
        eval_dataset=TinyDataset(32, seed=2),
        callbacks=callbacks,
    )


def _eval_losses(trainer: Trainer) -> dict[int, float]:
    return {e["step"]: e["eval_loss"] for e in trainer.state.log_history if "eval_loss" in e}


def test_every_save_versions_each_checkpoint_with_its_metrics(
    integ_repo: Path, tmp_path: Path
) -> None:
    callback = CpvCallback(repo=integ_repo, metric_for_best_model="loss", params={"note": "t"})
    trainer = _trainer(integ_repo, tmp_path, [callback])
    trainer.train()

    records = ModelCheckpoints(integ_repo).list()
    losses = _eval_losses(trainer)
    assert [r.metrics["step"] for r in records] == [2, 4, 6]
    best = float("inf")
    for record in records:
        step = record.metrics["step"]
        assert record.metrics["eval_loss"] == pytest.approx(losses[step])
        assert "eval_runtime" not in record.metrics
        expected_best = losses[step] < best
        best = min(best, losses[step])
        assert record.metrics["is_best"] == int(expected_best)
        assert ("best eval_loss so far" in record.message) == expected_best
        assert record.params["note"] == "t" and record.params["learning_rate"] == 5e-3
        files = dvc_file_md5s(integ_repo, record.content_hash)
        assert "model.safetensors.index.json" in files and "config.json" in files
        assert "model-classifier.safetensors" in files  # grouped, the default layout
        assert "optimizer.pt" not in files and not any(f.startswith("rng_state") for f in files)
    assert callback.best_tag == [r.tag for r in records if r.metrics["is_best"]][-1]
    assert [e["version"] for e in metrics_log(integ_repo)] == ["v0.1", "v0.2", "v0.3"]
    # The Trainer's logs, step by step, went with the versions (cpv compare's curves).
    steps = step_lines(integ_repo)
    assert {s["run"] for s in steps} == {e["run"] for e in metrics_log(integ_repo)}
    assert [s["step"] for s in steps if "loss" in s["metrics"]] == [1, 2, 3, 4, 5, 6]
    assert [s["step"] for s in steps if "eval_loss" in s["metrics"]] == [2, 4, 6]
    assert not any(k.endswith("_runtime") or k == "epoch" for s in steps for k in s["metrics"])


def test_best_only_versions_only_improvements(integ_repo: Path, tmp_path: Path) -> None:
    callback = CpvCallback(repo=integ_repo, strategy="best_only", metric_for_best_model="eval_loss")
    trainer = _trainer(integ_repo, tmp_path, [callback])
    trainer.train()

    improving, best = [], float("inf")
    for step, loss in sorted(_eval_losses(trainer).items()):
        if loss < best:
            improving.append(step)
            best = loss
    records = ModelCheckpoints(integ_repo).list()
    assert [r.metrics["step"] for r in records] == improving
    assert all(r.metrics["is_best"] == 1 for r in records)
    assert callback.best_tag == records[-1].tag


def test_best_so_far_counts_earlier_versions_of_the_repository(
    integ_repo: Path, tmp_path: Path
) -> None:
    ckpt = tmp_path / "old.bin"
    ckpt.write_bytes(b"an earlier, better model")
    ModelCheckpoints(integ_repo).tag(metrics={"eval_loss": 0.0001}, source=_dir_with(ckpt))

    callback = CpvCallback(repo=integ_repo, strategy="best_only", metric_for_best_model="eval_loss")
    _trainer(integ_repo, tmp_path, [callback]).train()

    assert len(ModelCheckpoints(integ_repo).list()) == 1
    assert callback.best_tag is None


def _dir_with(file: Path) -> Path:
    d = file.parent / f"{file.stem}-dir"
    d.mkdir()
    (d / file.name).write_bytes(file.read_bytes())
    return d


def test_end_versions_the_final_model_once(integ_repo: Path, tmp_path: Path) -> None:
    callback = CpvCallback(repo=integ_repo, strategy="end", metric_for_best_model="eval_loss")
    trainer = _trainer(integ_repo, tmp_path, [callback], save_strategy="no")
    trainer.train()

    (record,) = ModelCheckpoints(integ_repo).list()
    assert record.metrics["step"] == 6
    assert record.metrics["eval_loss"] == pytest.approx(_eval_losses(trainer)[6])
    assert record.metrics["is_best"] == 1
    assert (integ_repo / "checkpoints" / "model.safetensors.index.json").is_file()  # grouped
    assert not (integ_repo / "checkpoints" / "model.safetensors").exists()
    restored = BertForSequenceClassification.from_pretrained(str(integ_repo / "checkpoints"))
    for name, tensor in trainer.model.state_dict().items():
        assert (restored.state_dict()[name] == tensor).all(), name


@pytest.mark.parametrize("layout", ["as_saved", "grouped"])
def test_saves_deleted_by_rotation_are_still_versioned(
    integ_repo: Path, tmp_path: Path, layout: str
) -> None:
    """save_total_limit=1 deletes checkpoint-2 and -4 while the worker is blocked."""
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with ModelRepo.open(integ_repo).locked():
            locked.set()
            release.wait(timeout=120)

    class Release(TrainerCallback):
        def on_train_end(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            release.set()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    assert locked.wait(timeout=30)
    seen: dict[int, str] = {}

    class Record(TrainerCallback):  # what each checkpoint held when it was saved
        def on_save(self, args, state, control, **kwargs) -> None:  # noqa: ANN001, ANN003
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if layout == "grouped":  # the shards of this save's weights
                path = regroup(path, into=tmp_path / f"seen-{state.global_step}").folder
                path = Path(path) / "model-classifier.safetensors"
            else:
                path = path / "model.safetensors"
            seen[state.global_step] = md5(Path(path).read_bytes())

    callback = CpvCallback(repo=integ_repo, layout=layout)  # type: ignore[arg-type]
    trainer = _trainer(integ_repo, tmp_path, [Record(), Release(), callback], save_total_limit=1)
    trainer.train()
    holder.join()

    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["checkpoint-6"]
    records = ModelCheckpoints(integ_repo).list()
    name = "model-classifier.safetensors" if layout == "grouped" else "model.safetensors"
    got = [dvc_file_md5s(integ_repo, r.content_hash)[name] for r in records]
    assert got == [seen[2], seen[4], seen[6]]
    assert len(set(got)) == 3


def test_best_only_needs_a_metric(integ_repo: Path, tmp_path: Path) -> None:
    trainer = _trainer(integ_repo, tmp_path, [CpvCallback(repo=integ_repo, strategy="best_only")])
    with pytest.raises(UsageError, match="needs a metric"):
        trainer.train()


def test_unknown_strategy_is_rejected(integ_repo: Path) -> None:
    with pytest.raises(UsageError, match="unknown versioning strategy"):
        CpvCallback(repo=integ_repo, strategy="sometimes")  # type: ignore[arg-type]


def test_other_ranks_do_not_version(
    integ_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    callback = CpvCallback(repo=integ_repo)
    _trainer(integ_repo, tmp_path, [callback]).train()
    assert ModelCheckpoints(integ_repo).list() == []
    assert callback.outcomes == []


def test_keep_last_collects_older_versions_while_training(integ_repo: Path, tmp_path: Path) -> None:
    callback = CpvCallback(repo=integ_repo, keep_last=1)
    _trainer(integ_repo, tmp_path, [callback]).train()
    records = ModelCheckpoints(integ_repo).list()
    assert [r.version for r in records] == ["v0.1", "v0.2", "v0.3"]  # tags and metadata stay
    from cpv.objects.layout import cache_dir, object_path

    cache = cache_dir(integ_repo)
    held = [r.version for r in records if object_path(cache, r.content_hash).exists()]
    assert held == ["v0.3"]  # only the last one's bytes are left (it is also latest)
