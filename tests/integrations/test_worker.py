"""The background versioning worker against a real repository (git + DVC), no torch."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cpv.api.managers import DataCheckpoints, ModelCheckpoints
from cpv.core.repo import ModelRepo
from cpv.integrations import VersioningError, log_checkpoint, versioning
from cpv.integrations._outcomes import VersionRequest, clean_metrics
from cpv.integrations._worker import VersionWorker

from .conftest import dvc_file_md5s, md5, metrics_log


def test_each_version_keeps_the_bytes_of_its_own_save(integ_repo: Path, tmp_path: Path) -> None:
    """The loop overwrites the file while the worker is blocked: no version sees later bytes."""
    out = tmp_path / "run"
    out.mkdir()
    saves = [bytes([i]) * 4096 for i in range(4)]
    repo = ModelRepo.open(integ_repo)
    with versioning(repo=integ_repo) as v:
        with repo.locked():  # the worker cannot tag until every save has been overwritten
            for i, data in enumerate(saves):
                (out / "model.bin").write_bytes(data)
                v.log_checkpoint(out, metrics={"step": i})
            assert v._worker is not None and v._worker.pending == len(saves)

    records = ModelCheckpoints(integ_repo).list()
    assert [r.version for r in records] == ["v0.1", "v0.2", "v0.3", "v0.4"]
    for record, data in zip(records, saves, strict=True):
        assert record.metrics == {"step": records.index(record)}
        assert dvc_file_md5s(integ_repo, record.content_hash) == {"model.bin": md5(data)}


def test_no_save_is_dropped_and_order_is_kept(integ_repo: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.bin"
    with versioning(repo=integ_repo, params={"lr": 0.1}) as v:
        for i in range(6):
            ckpt.write_bytes(f"weights {i}".encode())
            v.log_checkpoint(ckpt, metrics={"loss": 1 / (i + 1)}, message=f"epoch {i}")

    records = ModelCheckpoints(integ_repo).list()
    assert [r.message for r in records] == [f"epoch {i}" for i in range(6)]
    assert [r.metrics["loss"] for r in records] == [1 / (i + 1) for i in range(6)]
    assert all(r.params == {"lr": 0.1} for r in records)
    log = metrics_log(integ_repo)
    assert [(e["kind"], e["version"]) for e in log] == [("model", f"v0.{i}") for i in range(1, 7)]
    assert not any((integ_repo / ".git" / "cpv-staging").iterdir())


def test_checkpoint_dir_is_taken_over_without_copy(integ_repo: Path) -> None:
    with versioning(repo=integ_repo) as v:
        target = v.checkpoint_dir()
        assert target is not None and target.is_relative_to(integ_repo / ".git")
        (target / "weights.bin").write_bytes(b"abc")
        v.log_checkpoint(target, metrics={"acc": 0.5})
    assert not target.exists()
    (record,) = ModelCheckpoints(integ_repo).list()
    assert dvc_file_md5s(integ_repo, record.content_hash) == {"weights.bin": md5(b"abc")}


def test_unchanged_content_makes_no_new_version(integ_repo: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"same")
    with versioning(repo=integ_repo) as v:
        v.log_checkpoint(ckpt)
        v.log_checkpoint(ckpt)
    assert [o.created for o in v.outcomes] == [True, False]
    assert len(ModelCheckpoints(integ_repo).list()) == 1


def test_data_is_versioned_only_when_it_changed(integ_repo: Path, tmp_path: Path) -> None:
    (integ_repo / "data" / "train" / "rows.csv").write_text("x,y\n1,2\n")
    ckpt = tmp_path / "model.bin"
    with versioning(repo=integ_repo, with_data=True) as v:
        for i in range(2):
            ckpt.write_bytes(f"w{i}".encode())
            v.log_checkpoint(ckpt)
    assert [o.data_tag for o in v.outcomes] == ["data/v0.1", None]
    assert [r.version for r in DataCheckpoints(integ_repo).list()] == ["v0.1"]
    assert [r.data_version for r in ModelCheckpoints(integ_repo).list()] == ["data/v0.1"] * 2


def test_a_failed_version_is_reported_at_the_end_and_earlier_ones_stay(
    integ_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = tmp_path / "model.bin"
    v = versioning(repo=integ_repo)
    ckpt.write_bytes(b"first")
    v.log_checkpoint(ckpt, message="ok")
    v.wait()
    monkeypatch.setenv("CPV_FAULT", "after_add")  # the next tag fails half-way (rolled back)
    ckpt.write_bytes(b"second")
    v.log_checkpoint(ckpt, message="fails")

    with pytest.raises(VersioningError) as info:
        v.close()

    err = info.value
    assert "1 checkpoint(s) could not be versioned" in str(err)
    assert "injected fault" in str(err)
    assert "1 version(s) are tagged locally" in err.hint
    (failed,) = err.failures
    assert failed.status == "failed"
    # the bytes were moved into the cache before the fault: kept there, under their hash
    cached = integ_repo / ".dvc" / "cache" / "files" / "md5" / md5(b"second")[:2]
    assert (cached / md5(b"second")[2:]).read_bytes() == b"second"
    assert failed.kept is None  # nothing else kept: the cache has it
    assert not any((integ_repo / ".git" / "cpv-staging").iterdir())  # no snapshot left behind
    assert [r.message for r in ModelCheckpoints(integ_repo).list()] == ["ok"]


def test_other_ranks_do_nothing(
    integ_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"w")
    with versioning(repo=integ_repo) as v:
        assert v.enabled is False
        assert v.log_checkpoint(ckpt) is None
        assert v.checkpoint_dir() is None
    assert log_checkpoint(ckpt, repo=integ_repo) is None
    assert ModelCheckpoints(integ_repo).list() == []
    assert not (integ_repo / ".git" / "cpv-staging").exists()


def test_log_checkpoint_versions_synchronously(integ_repo: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "a.bin").write_bytes(b"a")
    outcome = log_checkpoint(ckpt, repo=integ_repo, metrics={"acc": 0.9}, params={"lr": 1e-3})
    assert outcome is not None and outcome.tag == "model/v0.1" and outcome.created
    (record,) = ModelCheckpoints(integ_repo).list()
    assert record.metrics == {"acc": 0.9} and record.params == {"lr": 1e-3}


def test_log_checkpoint_raises_at_once_when_tagging_fails(
    integ_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"w")
    monkeypatch.setenv("CPV_FAULT", "after_commit")
    with pytest.raises(VersioningError, match="injected fault"):
        log_checkpoint(ckpt, repo=integ_repo)
    assert ModelCheckpoints(integ_repo).list() == []


def test_outside_a_repository_fails_before_training(tmp_path: Path) -> None:
    from cpv.domain.errors import NotARepositoryError

    with pytest.raises(NotARepositoryError):
        versioning(repo=tmp_path)


def test_missing_checkpoint_is_an_error_at_log_time(integ_repo: Path, tmp_path: Path) -> None:
    from cpv.domain.errors import CpvError

    with versioning(repo=integ_repo) as v, pytest.raises(CpvError, match="no checkpoint at"):
        v.log_checkpoint(tmp_path / "missing.pt")


def test_bounded_queue_waits_instead_of_dropping(integ_repo: Path, tmp_path: Path) -> None:
    worker = VersionWorker(repo=integ_repo, max_pending=1)
    repo = ModelRepo.open(integ_repo)
    submitted = []

    def submit_three() -> None:
        for i in range(3):
            staged = worker.new_staging_dir()
            (staged / "w.bin").write_bytes(bytes([i]))
            worker.submit(VersionRequest(source=staged, message=str(i)))
            submitted.append(i)

    with repo.locked():
        thread = threading.Thread(target=submit_three)
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive() and len(submitted) < 3  # blocked, not dropped
    thread.join(timeout=60)
    worker.close()
    assert [r.message for r in ModelCheckpoints(integ_repo).list()] == ["0", "1", "2"]


def test_clean_metrics_unwraps_scalars() -> None:
    class Scalar:
        def item(self) -> float:
            return 0.25

    assert clean_metrics({"a": Scalar(), "b": True, "c": None, "d": "x", "e": [1]}) == {
        "a": 0.25,
        "b": 1,
        "d": "x",
        "e": "[1]",
    }


def test_metrics_of_a_diverged_run_are_kept_as_text(integ_repo: Path, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.bin"
    ckpt.write_bytes(b"w")
    outcome = log_checkpoint(ckpt, repo=integ_repo, metrics={"loss": float("nan"), "acc": 0.5})
    assert outcome is not None and outcome.tag == "model/v0.1"
    (record,) = ModelCheckpoints(integ_repo).list()
    assert record.metrics == {"loss": "nan", "acc": 0.5}


def test_tag_from_a_source_honours_version_and_bump_and_leaves_the_workspace(
    integ_repo: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "w.bin").write_bytes(b"one")
    (integ_repo / "checkpoints" / "mine.bin").write_bytes(b"the user's file")
    manager = ModelCheckpoints(integ_repo)
    assert manager.tag(source=src, version="v2.0").tag == "model/v2.0"
    (src / "w.bin").write_bytes(b"two")
    assert manager.tag(source=src, bump="major").tag == "model/v3.0"
    (src / "w.bin").write_bytes(b"three")
    assert manager.tag(source=src, dry_run=True).records[0].version == "v3.1"
    assert [r.version for r in manager.list()] == ["v2.0", "v3.0"]
    assert (src / "w.bin").read_bytes() == b"three"  # the source is copied, never moved
    # the workspace folder is not the source: it is left as the user had it
    assert [p.name for p in (integ_repo / "checkpoints").iterdir()] == ["mine.bin"]


def test_the_model_path_shown_at_the_end_keeps_unsaved_files(
    integ_repo: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop saves elsewhere, so at the end the model path shows the newest version; what
    it held that is no version is kept first (issue 19: a forced overwrite keeps a backup)."""
    import hashlib
    import subprocess

    from cpv.objects.layout import cache_dir, object_path

    notes = integ_repo / "checkpoints" / "notes.txt"
    notes.parent.mkdir(exist_ok=True)
    notes.write_text("never versioned")
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.bin").write_bytes(b"trained")
    with caplog.at_level("WARNING", logger="cpv"), versioning(repo=integ_repo) as v:
        v.log_checkpoint(out)
    assert (integ_repo / "checkpoints" / "model.bin").read_bytes() == b"trained"
    assert not notes.exists()
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", "refs/cpv/backups/"],
        cwd=integ_repo, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(refs) == 1 and refs[0] in caplog.text
    assert object_path(cache_dir(integ_repo), hashlib.md5(b"never versioned").hexdigest()).is_file()
