from __future__ import annotations

from pathlib import Path

import pytest

from cpv.domain.errors import ConfigError, InvalidNameError
from cpv.settings.config import (
    RepoConfig,
    load_repo_config,
    model_storage_url,
    parse_model_id,
    save_repo_config,
    user_config_path,
)
from cpv.settings.config_env import load_user_config


def test_defaults_to_embedded_local(isolated_env: Path) -> None:
    cfg = load_user_config()
    assert cfg.storage.root_url() == str(isolated_env / ".cpv" / "storage")
    assert cfg.git.remote_url("acme", "m") == str(isolated_env / ".cpv" / "git" / "acme" / "m.git")
    assert model_storage_url("s3://bucket/", "acme", "m") == "s3://bucket/acme/m"


@pytest.mark.parametrize(
    "bad",
    ["Acme/m", "acme/with space", "acme", "acme/m/x", "-rf/m", "acme/..", "acme/x.lock", "/m"],
)
def test_model_id_validation(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        parse_model_id(bad)


def test_broken_user_config_names_file(isolated_env: Path) -> None:
    path = user_config_path()
    path.parent.mkdir(parents=True)
    path.write_text("storage: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_user_config()
    assert str(path) in str(err.value) and "YAML" in str(err.value)
    path.write_text("storage:\n  bucket: 3\n  colour: blue\n")
    with pytest.raises(ConfigError) as err:
        load_user_config()
    assert "storage.colour" in str(err.value)


def test_broken_repo_config_names_file(tmp_path: Path) -> None:
    save_repo_config(tmp_path, RepoConfig(team="acme", model="m"))
    assert load_repo_config(tmp_path).model_path == "checkpoints"
    (tmp_path / "cpv.yaml").write_text("team: acme\nmodel: Not Valid\n")
    with pytest.raises(ConfigError) as err:
        load_repo_config(tmp_path)
    assert "cpv.yaml" in str(err.value) and "model" in str(err.value)


@pytest.mark.parametrize(
    "storage",
    ["{layout: tensors}", "{layout: compact, compress: lz4}", "{compress: zstd}", "{level: 0}"],
)
def test_a_storage_layout_cpv_cannot_write_is_refused(tmp_path: Path, storage: str) -> None:
    (tmp_path / "cpv.yaml").write_text(f"team: acme\nmodel: m\nstorage: {storage}\n")
    with pytest.raises(ConfigError, match="cpv.yaml"):
        load_repo_config(tmp_path)
    (tmp_path / "cpv.yaml").write_text("team: acme\nmodel: m\nstorage: {layout: compact}\n")
    assert load_repo_config(tmp_path).storage.layout == "compact"
