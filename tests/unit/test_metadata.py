from __future__ import annotations

from cpv.domain.metadata import VersionRecord, decode_tag_message, encode_tag_message
from cpv.domain.versions import Kind


def test_tag_message_round_trip() -> None:
    record = VersionRecord(
        kind=Kind.MODEL,
        version="v0.3",
        tag="model/v0.3",
        created_at="2026-01-01T00:00:00+00:00",
        content_hash="abc.dir",
        metrics={"wer": 0.21},
        message="line one\nline two",
        size_bytes=2_500_000,
    )
    text = encode_tag_message(record)
    assert text.startswith("model v0.3: line one\n")
    back = decode_tag_message(text, commit="deadbeef")
    assert back is not None
    assert (
        back.metrics == {"wer": 0.21}
        and back.commit == "deadbeef"
        and back.message == "line one\nline two"
    )
    assert back.size_mb == 2.5
    assert decode_tag_message("a tag made by hand") is None


def _body(distributed: object) -> str:
    import json

    body = {
        "kind": "model",
        "version": "v0.1",
        "tag": "model/v0.1",
        "created_at": "2026-01-01T00:00:00+00:00",
        "content_hash": "abc.dir",
        "distributed": distributed,
    }
    return f"model v0.1\n\ncpv-metadata: {json.dumps(body)}\n"


def test_a_distributed_layout_round_trips_and_a_plain_tag_does_not_carry_one() -> None:
    layout = {
        "world_size": 2,
        "ranks": [
            {"rank": 0, "file_count": 2, "size_bytes": 10, "files": [".metadata", "__0_0.distcp"]},
            {"rank": 1, "file_count": 1, "size_bytes": 7, "files": ["__1_0.distcp"]},
        ],
    }
    back = decode_tag_message(_body(layout))
    assert back is not None and back.distributed is not None
    assert back.distributed.world_size == 2
    assert [r.files for r in back.distributed.ranks] == [
        [".metadata", "__0_0.distcp"],
        ["__1_0.distcp"],
    ]
    again = decode_tag_message(encode_tag_message(back))
    assert again is not None and again.distributed == back.distributed
    plain = back.model_copy(update={"distributed": None})
    assert "distributed" not in encode_tag_message(plain)


def test_a_hostile_distributed_layout_is_dropped_and_the_version_still_reads() -> None:
    for hostile in (
        {"world_size": -1},
        {"world_size": 10**12, "ranks": []},
        {"world_size": 2, "ranks": [{"rank": "x"}]},
        {"world_size": 2, "ranks": [{"rank": 0, "files": ["a" * 10_000]}]},
        {"world_size": 2, "ranks": [{"rank": 0, "files": [str(i) for i in range(10_000)]}]},
        "not a layout",
        [1, 2, 3],
    ):
        back = decode_tag_message(_body(hostile))
        assert back is not None and back.version == "v0.1", hostile
        assert back.distributed is None, hostile


def test_a_compact_layout_round_trips_and_a_hostile_one_is_dropped() -> None:
    import json

    layout = {"files_hash": "0" * 32 + ".dir", "stored_bytes": 10, "compress": "zstd"}
    text = _body(None).replace('"distributed": null', f'"compact": {json.dumps(layout)}')
    back = decode_tag_message(text)
    assert back is not None and back.compact is not None
    assert back.files_hash == "0" * 32 + ".dir" != back.content_hash
    again = decode_tag_message(encode_tag_message(back))
    assert again is not None and again.compact == back.compact
    assert '"compact"' not in encode_tag_message(back.model_copy(update={"compact": None}))
    for hostile in (
        {"files_hash": "../../x", "stored_bytes": 1},
        {"files_hash": "0" * 32 + ".dir", "compress": "[red]x[/red]"},
        {"files_hash": "0" * 32 + ".dir", "stored_bytes": -(10**30)},
        "compact",
    ):
        body = _body(None).replace('"distributed": null', f'"compact": {json.dumps(hostile)}')
        read = decode_tag_message(body)
        assert read is not None and read.compact is None, hostile
        assert read.files_hash == read.content_hash
