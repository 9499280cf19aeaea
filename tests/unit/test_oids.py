"""Object ids and listing paths read from git or the storage are checked in one place
(:mod:`cpv.domain.oids`), and the functions turning an id into a path or a key cannot skip it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpv.domain.errors import InvalidObjectIdError
from cpv.domain.oids import check_oid, check_relpath, is_oid, listing_entries
from cpv.objects.layout import object_path
from cpv.objects.store import ObjectStore
from cpv.settings.config import UserConfig

MD5 = "0123456789abcdef0123456789abcdef"
BAD = [
    "",
    "../../../../tmp/victim",
    "//etc/passwd",
    "/etc/passwd",
    MD5.upper(),
    MD5[:-1],
    MD5 + "0",
    MD5 + ".dir/../x",
    MD5 + "\n",
    " " + MD5,
    "..\\..\\" + MD5[6:],
]


@pytest.mark.parametrize("oid", [MD5, MD5 + ".dir"])
def test_an_md5_or_a_listing_id_passes(oid: str) -> None:
    assert check_oid(oid) == oid and is_oid(oid)


@pytest.mark.parametrize("oid", BAD)
def test_anything_else_is_refused_everywhere_it_would_become_a_path(
    oid: str, tmp_path: Path
) -> None:
    assert not is_oid(oid)
    with pytest.raises(InvalidObjectIdError) as caught:
        check_oid(oid, where="model/v0.2 (commit abc): checkpoints.dvc")
    assert caught.value.message.startswith("model/v0.2 (commit abc)")
    with pytest.raises(InvalidObjectIdError):
        object_path(tmp_path, oid)
    with pytest.raises(InvalidObjectIdError):
        ObjectStore(UserConfig(), str(tmp_path)).upload(oid, tmp_path / "x")
    s3 = ObjectStore(UserConfig(), "s3://bucket/acme/m")
    with pytest.raises(InvalidObjectIdError):
        s3.key(oid)


def test_a_listing_id_only_where_a_listing_is_expected() -> None:
    with pytest.raises(InvalidObjectIdError):
        check_oid(MD5 + ".dir", listing=False)
    with pytest.raises(InvalidObjectIdError):
        check_oid(MD5, listing=True)
    with pytest.raises(InvalidObjectIdError):
        listing_entries([{"md5": MD5 + ".dir", "relpath": "a"}], where="v")
    assert listing_entries([{"md5": MD5, "relpath": "a/b.bin"}], where="v") == [(MD5, "a/b.bin")]


@pytest.mark.parametrize(
    "relpath", ["", "/abs", "../up", "a/../../up", "a//b", "./a", "a/.", "a\0b", None, 3]
)
def test_a_listing_path_must_stay_inside_its_folder(relpath: object) -> None:
    with pytest.raises(InvalidObjectIdError):
        check_relpath(relpath)
    with pytest.raises(InvalidObjectIdError):
        listing_entries([{"md5": MD5, "relpath": relpath}], where="v")


@pytest.mark.parametrize("listing", [{"md5": MD5}, "text", [["md5", MD5]], None])
def test_a_listing_that_is_not_a_list_of_files_is_refused(listing: object) -> None:
    with pytest.raises(InvalidObjectIdError):
        listing_entries(listing, where="v")


def test_a_storage_listing_holds_only_object_ids(tmp_path: Path) -> None:
    store = ObjectStore(UserConfig(), str(tmp_path))
    (tmp_path / "files" / "md5" / MD5[:2]).mkdir(parents=True)
    (tmp_path / "files" / "md5" / MD5[:2] / MD5[2:]).write_bytes(b"x")
    (tmp_path / "files" / "md5" / MD5[:2] / "stray.txt").write_bytes(b"xx")
    (tmp_path / "files" / "md5" / "abc").mkdir()
    (tmp_path / "files" / "md5" / "abc" / MD5[3:]).write_bytes(b"xxx")
    assert store.sizes() == {MD5: 1}


@pytest.mark.parametrize(
    "relpaths",
    [["a", "a/b"], ["x/a", "x/a/b/c"], ["same", "same"]],
    ids=["file+folder", "deep", "twice"],
)
def test_a_listing_names_each_path_once_and_no_file_where_a_folder_is(relpaths: list[str]) -> None:
    with pytest.raises(InvalidObjectIdError, match="twice"):
        listing_entries([{"md5": MD5, "relpath": r} for r in relpaths], where="v")
    assert (
        len(listing_entries([{"md5": MD5, "relpath": r} for r in ("a/b", "a/c", "ab")], where="v"))
        == 3
    )
