"""Every public parameter that names a file or folder takes a ``str``, a ``pathlib.Path`` or
any other ``os.PathLike`` (issue 20: ``init(path="x")`` crashed on ``.expanduser``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cpv
from cpv import DataCheckpoints, ModelCheckpoints, ModelRepo, manager_for
from cpv.core.templating import render_template
from cpv.integrations import log_checkpoint
from tests.conftest import write_checkpoint


class _FsPath:
    """An os.PathLike that is not a pathlib.Path (as a user's own path type would be)."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path


Convert = Callable[[Path], Any]
KINDS: dict[str, Convert] = {"str": str, "Path": lambda p: p, "PathLike": _FsPath}


@pytest.fixture(params=sorted(KINDS))
def as_kind(request: pytest.FixtureRequest) -> Convert:
    return KINDS[request.param]


def test_init_tag_push_clone_take_any_path_type(tmp_path: Path, as_kind: Convert) -> None:
    """One journey through every path parameter of the managers and the top-level API."""
    made, result = ModelCheckpoints.init(team="acme", model="m1", path=as_kind(tmp_path / "m1"))
    assert made.root == (tmp_path / "m1").resolve() and Path(result.path) == made.root

    root = cpv.init_repository(team="acme", model="m2", path=as_kind(tmp_path / "m2"))
    assert root == (tmp_path / "m2").resolve() and (root / "cpv.yaml").is_file()

    saved = tmp_path / "saved.bin"
    saved.write_bytes(b"weights one")
    tagged = ModelCheckpoints(as_kind(root)).tag(source=as_kind(saved), message="one")
    assert tagged.created and tagged.tag == "model/v0.1"
    assert manager_for("model", as_kind(root)).latest().tag == "model/v0.1"
    assert ModelRepo.open(as_kind(root / "checkpoints")).root == root
    assert cpv.push(as_kind(root)).pushed_tags == ["model/v0.1"]

    bare = Path(os.environ["CPV_HOME"]) / "git" / "acme" / "m2.git"
    here, _ = cpv.clone(as_kind(bare), as_kind(tmp_path / "c1"))
    assert (here / "checkpoints" / "saved.bin").read_bytes() == b"weights one"
    again, _ = ModelCheckpoints.clone("acme/m2", as_kind(tmp_path / "c2"))
    assert again.root == (tmp_path / "c2").resolve() and again.latest().tag == "model/v0.1"
    data, _ = DataCheckpoints.clone(as_kind(bare), as_kind(tmp_path / "c3"))
    assert data.root == (tmp_path / "c3").resolve()
    got = cpv.get("acme/m2", as_kind(tmp_path / "got"))
    assert (got / "saved.bin").read_bytes() == b"weights one"


def test_a_home_relative_path_is_expanded(tmp_path: Path, isolated_env: Path) -> None:
    root = cpv.init_repository(team="acme", model="m", path="~/models/m")
    assert root == (isolated_env / "models" / "m").resolve()
    assert ModelCheckpoints("~/models/m").root == root
    cpv.push("~/models/m")
    manager, _ = ModelCheckpoints.clone("acme/m", "~/clones/m")
    assert manager.root == (isolated_env / "clones" / "m").resolve()
    write_checkpoint(manager.root, b"w")
    manager.tag()
    manager.push()
    assert cpv.get("acme/m", "~/got/m").resolve() == (isolated_env / "got" / "m").resolve()


def test_training_and_template_paths_take_any_path_type(repo: Path, as_kind: Convert) -> None:
    saved = repo.parent / "step-1"
    saved.mkdir()
    (saved / "model.bin").write_bytes(b"step one")
    outcome = log_checkpoint(as_kind(saved), repo=as_kind(repo), metrics={"loss": 1.0})
    assert outcome is not None and outcome.tag == "model/v0.1"

    written = render_template("pytorch", as_kind(repo.parent / "proj"), team="a", model="b")
    assert (repo.parent / "proj" / "train.py").resolve() in written
