from __future__ import annotations

from cpv.metadata import VersionRecord, decode_tag_message, encode_tag_message
from cpv.versions import Kind


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
