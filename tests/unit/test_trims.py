"""Trim markers (trimmed/<kind>/<vX.Y>) read as untrusted input, and the training-state
rule's schema (cpv.yaml retention: training_state:)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cpv._git.repo import TagRef
from cpv.core.trims import encode_trim, honoured, trimmed_tree, trims_of
from cpv.domain.metadata import VersionRecord
from cpv.domain.training_state import TrimMarker
from cpv.settings.config import RepoConfig
from cpv.settings.training_state import TrainingStateRule

A, B, C = "a" * 32, "b" * 32, "c" * 32
ENTRIES = [(A, "model.bin"), (B, "optimizer.pt"), (C, "checkpoint-1/rng_state_0.pth")]


def _tag(name: str, body: object, commit: str = "1" * 40) -> TagRef:
    text = f"trimmed x\n\ncpv-trimmed: {json.dumps(body)}\n"
    return TagRef(name=name, obj="0" * 40, commit=commit, contents=text)


def _good() -> dict[str, object]:
    return {
        "tag": "model/v0.1",
        "files": ["optimizer.pt"],
        "tree_hash": trimmed_tree(ENTRIES, ["optimizer.pt"]),
        "by": "Ana",
        "at": "2026-01-01T00:00:00+00:00",
    }


def test_a_marker_round_trips_and_its_name_must_match() -> None:
    marker = TrimMarker.model_validate(_good())
    text = encode_trim(marker)
    assert text.startswith("trimmed model/v0.1\n")
    found = trims_of(
        [TagRef(name="trimmed/model/v0.1", obj="0" * 40, commit="1" * 40, contents=text)]
    )
    assert found["model/v0.1"].files == ["optimizer.pt"]
    assert found["model/v0.1"].commit == "1" * 40
    assert (
        trims_of([TagRef(name="trimmed/model/v0.2", obj="0" * 40, commit="1" * 40, contents=text)])
        == {}
    )


@pytest.mark.parametrize(
    "change",
    [
        {"files": ["../optimizer.pt"]},
        {"files": ["/etc/passwd"]},
        {"files": []},
        {"files": ["optimizer.pt", "optimizer.pt"]},
        {"files": "optimizer.pt"},
        {"tree_hash": A},  # a file id where a listing is expected
        {"tree_hash": "../../x.dir"},
        {"why": "x" * 5000},
        {"tag": None},
    ],
)
def test_a_hostile_marker_is_ignored(change: dict[str, object]) -> None:
    assert trims_of([_tag("trimmed/model/v0.1", {**_good(), **change})]) == {}


def test_garbage_messages_are_ignored() -> None:
    for text in ("cpv-trimmed: [1]", "cpv-trimmed: {", "cpv-trimmed: " + "[" * 5000, "hello"):
        assert (
            trims_of(
                [TagRef(name="trimmed/model/v0.1", obj="0" * 40, commit="1" * 40, contents=text)]
            )
            == {}
        )


def _record(commit: str = "1" * 40) -> VersionRecord:
    return VersionRecord.model_validate(
        {
            "kind": "model",
            "version": "v0.1",
            "tag": "model/v0.1",
            "created_at": "2026-01-01T00:00:00+00:00",
            "commit": commit,
            "path": "checkpoints",
            "content_hash": A + ".dir",
        }
    )


def test_a_marker_is_honoured_only_when_it_agrees_with_the_version() -> None:
    marker = TrimMarker.model_validate({**_good(), "commit": "1" * 40})
    assert honoured(marker, _record(), ENTRIES)
    assert not honoured(marker, _record("2" * 40), ENTRIES)  # another commit
    assert not honoured(marker, _record(), ENTRIES[:1] + ENTRIES[2:])  # file not in listing
    lying = marker.model_copy(update={"tree_hash": trimmed_tree(ENTRIES, [])})
    assert not honoured(lying, _record(), ENTRIES)
    wider = marker.model_copy(update={"files": ["optimizer.pt", "model.bin"]})
    assert not honoured(wider, _record(), ENTRIES)  # tree_hash says only optimizer.pt


def test_the_rule_matches_names_anywhere_and_paths_whole() -> None:
    rule = TrainingStateRule(keep_last=2)
    assert rule.matches("optimizer.pt") and rule.matches("checkpoint-500/optimizer.pt")
    assert rule.matches("rng_state_3.pth") and rule.matches("a/b/training_state.ckpt")
    assert not rule.matches("model.safetensors") and not rule.matches("Optimizer.pt")
    pathy = TrainingStateRule(keep_last=1, files=["state/*.bin"])
    assert pathy.matches("state/x.bin") and not pathy.matches("x.bin")
    assert not pathy.matches("other/state/x.bin")


@pytest.mark.parametrize(
    "rule",
    [
        {"keep_last": 0},
        {"keep_last": 10_001},
        {"keep_last": 1, "files": []},
        {"keep_last": 1, "files": ["../x"]},
        {"keep_last": 1, "files": ["/abs"]},
        {"keep_last": 1, "files": ["a\\b"]},
        {"keep_last": 1, "files": ["./x"]},
        {"keep_last": 1, "files": ["x" * 201]},
        {"keep_last": 1, "files": ["a"] * 51},
        {"keep_last": 1, "extra": True},
        {"files": ["x"]},
    ],
)
def test_a_bad_rule_is_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RepoConfig.model_validate(
            {"team": "acme", "model": "m", "retention": {"training_state": rule}}
        )
