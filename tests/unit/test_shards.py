"""A save by many ranks: which files are a rank's, what a rank's report may say (it crosses
processes: validated), and the one tree every rank's files make."""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

import pytest

from cpv.domain.errors import DistributedSaveError
from cpv.objects.shards import (
    RankReport,
    ShardEntry,
    combine,
    foreign_names,
    owner_of,
)

MD5 = "0" * 32


def test_dcp_files_belong_to_the_rank_they_name_and_the_rest_to_rank_0(tmp_path: Path) -> None:
    assert [owner_of(n) for n in ("__0_0.distcp", "__12_3.distcp", "__4.metadata")] == [0, 12, 4]
    assert [owner_of(n) for n in (".metadata", "train_state.json", "__x_0.distcp")] == [0, 0, 0]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in (".metadata", "__0_0.distcp", "__1_0.distcp", "__1_1.distcp", "odd[1]*.txt"):
        (folder / name).write_bytes(b"x")
    patterns = foreign_names(folder, 1)
    assert patterns == [".metadata", "__0_0.distcp", "odd[[]1][*].txt"]
    assert fnmatch.fnmatch("odd[1]*.txt", patterns[2])  # the name itself, escaped
    assert not fnmatch.fnmatch("odd1x.txt", patterns[2])
    assert foreign_names(folder, 0) == ["__1_0.distcp", "__1_1.distcp"]
    assert foreign_names(tmp_path / "absent", 0) == []


@pytest.mark.parametrize(
    "entry",
    [
        {"relpath": "../escape", "md5": MD5, "size": 1},
        {"relpath": "/abs", "md5": MD5, "size": 1},
        {"relpath": "a/../../b", "md5": MD5, "size": 1},
        {"relpath": "a\\b", "md5": MD5, "size": 1},
        {"relpath": "a//b", "md5": MD5, "size": 1},
        {"relpath": "", "md5": MD5, "size": 1},
        {"relpath": "ok", "md5": "../../etc", "size": 1},
        {"relpath": "ok", "md5": MD5 + ".dir", "size": 1},
        {"relpath": "ok", "md5": MD5, "size": -1},
        {"relpath": "ok", "md5": MD5, "size": 1, "extra": True},
    ],
)
def test_a_report_naming_a_path_out_of_the_checkpoint_or_no_object_is_refused(entry: dict) -> None:
    with pytest.raises(ValueError):
        RankReport.model_validate({"rank": 1, "entries": [entry]})


def _report(rank: int, *names: str) -> RankReport:
    return RankReport(
        rank=rank,
        entries=[
            ShardEntry(relpath=n, md5=hashlib.md5(n.encode()).hexdigest(), size=3) for n in names
        ],
    )


def test_every_ranks_files_make_one_tree_and_the_layout_says_whose() -> None:
    tree, layout = combine(
        [_report(1, "__1_0.distcp"), _report(0, "__0_0.distcp", ".metadata")], world_size=2
    )
    assert [e.relpath for e in tree.entries] == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    assert layout.world_size == 2
    assert [(r.rank, r.file_count, r.size_bytes, r.files) for r in layout.ranks] == [
        (0, 2, 6, [".metadata", "__0_0.distcp"]),
        (1, 1, 3, ["__1_0.distcp"]),
    ]


def test_two_ranks_with_one_file_name_or_a_missing_rank_fail_the_save() -> None:
    with pytest.raises(DistributedSaveError, match="ranks 0 and 1 both saved a.bin") as err:
        combine([_report(0, "a.bin"), _report(1, "a.bin")], world_size=2)
    assert list(err.value.failed) == [1]
    with pytest.raises(DistributedSaveError) as err:
        combine([_report(0, "a.bin"), _report(2, "c.bin")], world_size=3)
    assert err.value.failed == {1: "did not report"}
