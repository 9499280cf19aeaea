"""CpvLightningCallback against a real Lightning Trainer on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from cpv.api.managers import ModelCheckpoints  # noqa: E402
from cpv.domain.errors import UsageError  # noqa: E402
from cpv.integrations.grouped import load_grouped  # noqa: E402
from cpv.integrations.lightning import CpvLightningCallback  # noqa: E402

from .conftest import dvc_file_md5s, metrics_log, step_lines  # noqa: E402


class Regression(pl.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):  # noqa: ANN001, ANN201
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, _):  # noqa: ANN001, ANN201
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):  # noqa: ANN201
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loader(seed: int) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=gen)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def _fit(tmp_path: Path, callback: CpvLightningCallback, *, epochs: int = 3) -> pl.Trainer:
    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path / "pl"),
        callbacks=[callback],
    )
    trainer.fit(Regression(), _loader(1), _loader(2))
    return trainer


def test_every_save_versions_each_epoch_with_its_val_loss(integ_repo: Path, tmp_path: Path) -> None:
    callback = CpvLightningCallback(repo=integ_repo, monitor="val_loss")
    _fit(tmp_path, callback)

    records = ModelCheckpoints(integ_repo).list()
    assert [r.metrics["epoch"] for r in records] == [0, 1, 2]
    losses = [r.metrics["val_loss"] for r in records]
    assert losses == sorted(losses, reverse=True)  # this regression improves every epoch
    assert [r.metrics["is_best"] for r in records] == [1, 1, 1]
    assert all(r.params["lr"] == 0.05 and r.params["max_epochs"] == 3 for r in records)
    for record in records:
        assert set(dvc_file_md5s(integ_repo, record.content_hash)) == {"model.ckpt"}
    assert len({r.content_hash for r in records}) == 3
    saved = torch.load(integ_repo / "checkpoints" / "model.ckpt", weights_only=False)
    assert saved["global_step"] == records[-1].metrics["step"]
    assert callback.best_tag == records[-1].tag
    assert len(metrics_log(integ_repo)) == 3
    # Each validation's val_loss, at its step, went with the next version (compare's curves).
    steps = step_lines(integ_repo)
    assert [(s["step"], list(s["metrics"])) for s in steps] == [
        (r.metrics["step"], ["val_loss"]) for r in records
    ]
    assert [s["metrics"]["val_loss"] for s in steps] == pytest.approx(losses)
    assert {s["run"] for s in steps} == {e["run"] for e in metrics_log(integ_repo)}


def test_end_versions_the_final_weights_once(integ_repo: Path, tmp_path: Path) -> None:
    trainer = _fit(tmp_path, CpvLightningCallback(repo=integ_repo, strategy="end"))
    (record,) = ModelCheckpoints(integ_repo).list()
    assert record.metrics["epoch"] == trainer.current_epoch
    saved = torch.load(integ_repo / "checkpoints" / "model.ckpt", weights_only=False)
    live = trainer.lightning_module.state_dict()
    assert all((saved["state_dict"][k] == live[k]).all() for k in live)


def test_grouped_layout_versions_safetensors_shards_and_the_rest_apart(
    integ_repo: Path, tmp_path: Path
) -> None:
    trainer = _fit(tmp_path, CpvLightningCallback(repo=integ_repo, layout="grouped"), epochs=2)
    records = ModelCheckpoints(integ_repo).list()
    assert len(records) == 2
    for record in records:
        assert set(dvc_file_md5s(integ_repo, record.content_hash)) == {
            "model-layer.safetensors",
            "model.safetensors.index.json",
            "training_state.ckpt",
        }
    folder = integ_repo / "checkpoints"  # the newest version, checked out at the end
    weights = load_grouped(folder)
    live = trainer.lightning_module.state_dict()
    assert weights.keys() == live.keys() and all(torch.equal(weights[k], live[k]) for k in live)
    rest = torch.load(folder / "training_state.ckpt", weights_only=False)
    assert "state_dict" not in rest and rest["optimizer_states"]
    assert rest["global_step"] == records[-1].metrics["step"]
    with pytest.raises(UsageError, match="layout"):
        CpvLightningCallback(repo=integ_repo, layout="flat")


def test_best_only_skips_saves_that_do_not_improve(integ_repo: Path, tmp_path: Path) -> None:
    ModelCheckpoints(integ_repo).tag(metrics={"val_loss": 0.0}, source=_dir(tmp_path))
    callback = CpvLightningCallback(repo=integ_repo, strategy="best_only", monitor="val_loss")
    _fit(tmp_path, callback, epochs=2)
    assert len(ModelCheckpoints(integ_repo).list()) == 1  # nothing beat val_loss 0.0
    assert callback.best_tag is None


def _dir(tmp_path: Path) -> Path:
    d = tmp_path / "earlier"
    d.mkdir()
    (d / "model.ckpt").write_bytes(b"an earlier model")
    return d


def test_best_only_needs_a_monitor(integ_repo: Path) -> None:
    with pytest.raises(UsageError, match="needs a metric"):
        CpvLightningCallback(repo=integ_repo, strategy="best_only")
