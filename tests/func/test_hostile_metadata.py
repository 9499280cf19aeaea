"""Hostile or odd metadata is data, not control (issue 19, family 7): what a teammate can put
in a tag message, an alias move, an index or the catalog digest with plain git or a bucket client
never crashes a command, never reaches the terminal as escape sequences or markup, and one
bad model never hides the others from ``cpv models``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from tests.conftest import git, run_cpv, write_checkpoint

#: OSC 52 (write the clipboard), clear screen, a cursor move, C1 CSI, a bidi override, BEL
HOSTILE = "ok \x1b]52;c;ZXZpbA==\x07 \x1b[2J\x1b[1A \x9b31m \u202etxt.exe [red]red[/] :fire:"


def rewrite_tag(repo: Path, tag: str, change: dict[str, object], raw: str = "") -> None:
    """Re-make ``tag`` at its commit with plain git, its cpv JSON changed as a teammate could
    (``raw``: text put in place of the JSON string ``"@RAW@"``, for what JSON cannot say)."""
    message = git(repo, "for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    summary, _, rest = message.partition("\n\n")
    marker, _, body = rest.strip().partition(" ")
    data = {**json.loads(body), **change}
    text = json.dumps(data).replace('"@RAW@"', raw)
    commit = git(repo, "rev-list", "-n1", tag).strip()
    note = repo.parent / "message.txt"
    note.write_text(f"{summary}\n\n{marker} {text}\n")
    git(repo, "tag", "-f", "-a", tag, "-F", str(note), commit)


def assert_inert(text: str) -> None:
    """No byte that a terminal reads as control (tab and newline aside)."""
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) < 0xA0]
    assert not bad, f"control characters reach the terminal: {bad!r} in {text[:300]!r}"
    assert "\u202e" not in text


def test_escape_sequences_in_messages_and_reasons_never_reach_the_terminal(repo: Path) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag(message=HOSTILE, metrics={"note": HOSTILE})
    ModelCheckpoints(repo).promote("v0.1", "prod", message=HOSTILE)

    for args in (("list",), ("show", "v0.1"), ("aliases",), ("aliases", "--history")):
        out = run_cpv(*args, cwd=repo, env={"COLUMNS": "400"})
        assert_inert(out.stdout + out.stderr)
        assert "␛]52;c;ZXZpbA==" in out.stdout, args  # shown, as visible characters
        assert "[red]red[/]" in out.stdout and ":fire:" in out.stdout  # no markup, no emoji
    # JSON stays the data, exactly (JSON escapes control characters itself)
    shown = json.loads(run_cpv("show", "v0.1", "--json", cwd=repo).stdout)
    assert shown["message"] == HOSTILE and shown["metrics"]["note"] == HOSTILE


def test_an_error_quoting_what_a_teammate_wrote_is_inert(repo: Path) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    ModelCheckpoints(repo).promote("v0.1", "prod")
    ModelCheckpoints(repo).demote("prod")
    rewrite_tag(repo, "alias/prod/2", {"by": HOSTILE})

    bad = run_cpv("show", "prod", cwd=repo, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: alias 'prod' points at nothing")
    assert_inert(bad.stdout + bad.stderr)
    assert "␛[2J" in bad.stderr and "[red]red[/]" in bad.stderr


def _declare_best(repo: Path) -> None:
    with (repo / "cpv.yaml").open("a") as fh:
        fh.write("best: {metric: loss, mode: min}\n")
    git(repo, "commit", "-qam", "best: loss")


def test_a_metric_no_number_can_hold_is_shown_but_never_compared(repo: Path) -> None:
    """A 401-digit integer and -Infinity (which would win ``best:min`` if compared) written
    with plain git: best, compare, gc and the catalog skip them instead of crashing."""
    from cpv.ops.models import models
    from cpv.ops.push import push

    _declare_best(repo)
    for i, loss in enumerate([0.5, 0.3, 0.4]):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag(metrics={"loss": loss})
    rewrite_tag(repo, "model/v0.2", {"metrics": {"loss": "@RAW@"}}, raw="9" * 401)
    rewrite_tag(repo, "model/v0.3", {"metrics": {"loss": "@RAW@"}}, raw="-Infinity")

    manager = ModelCheckpoints(repo)
    assert manager.show("best").tag == "model/v0.1"
    assert manager.show("best:loss:max").tag == "model/v0.1"
    listed = {r.tag: r.metrics["loss"] for r in manager.list()}
    assert listed == {"model/v0.1": 0.5, "model/v0.2": "9" * 401, "model/v0.3": "-inf"}
    [row] = manager.compare(["v0.1", "v0.2", "v0.3"]).metrics
    assert row.best == "model/v0.1" and row.deltas[1:] == [None, None]
    gc = manager.gc(keep_last=1, dry_run=True)
    assert "best" in next(k.reasons for k in gc.kept if k.tag == "model/v0.1")
    assert push(repo).index_warning is None
    [entry] = models().models
    assert entry.best is not None and entry.best.tag == "model/v0.1" and not entry.note

    for args in (("show", "best"), ("compare", "v0.1", "v0.2", "v0.3"), ("list", "--json")):
        done = run_cpv(*args, cwd=repo)  # exit 0, no "unexpected OverflowError"
        assert "Error" not in done.stderr
    assert json.loads(run_cpv("list", "--json", cwd=repo).stdout)[2]["metrics"] == {
        "loss": "-inf"  # valid JSON: no bare -Infinity
    }


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("9" * 401, "out of range (401 digits)"),
        ("nan", "is nan"),
        ("-1e999", "is -inf"),
        ("x" * 1001, "a text of 1001 characters"),
    ],
)
def test_tag_refuses_a_metric_no_reader_can_use(repo: Path, value: str, why: str) -> None:
    write_checkpoint(repo, b"weights")
    bad = run_cpv("tag", "--kind", "model", "--metric", f"loss={value}", cwd=repo, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("Error: ") and why in bad.stderr
    assert "Traceback" not in bad.stderr
    assert git(repo, "tag", "--list") == ""


def test_a_record_with_an_impossible_size_or_date_reads_as_no_version(repo: Path) -> None:
    """Sizes and times are bounded where read: such a tag is skipped like any tag cpv did
    not make (and named by nothing), never an overflow in `cpv list`."""
    for i in range(3):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag()
    rewrite_tag(repo, "model/v0.2", {"size_bytes": "@RAW@"}, raw="1" + "0" * 400)
    rewrite_tag(repo, "model/v0.3", {"created_at": "9999-12-31T23:59:59-14:00"})

    out = run_cpv("list", cwd=repo)
    assert [line.split()[0] for line in out.stdout.splitlines()[1:]] == ["model/v0.1"]


def _published(tmp_path: Path, name: str) -> Path:
    from cpv.ops.init import init_repository
    from cpv.ops.push import push

    repo = init_repository(team="acme", model=name, path=tmp_path / name)
    write_checkpoint(repo, f"{name} weights".encode())
    ModelCheckpoints(repo).tag(metrics={"loss": 0.5})
    assert push(repo).index_warning is None
    return repo


def _hostile_index(good: bytes) -> bytes:
    """A model's index as a teammate with bucket access could write it."""
    data = json.loads(good)
    data.update(updated_at="9999-12-31T23:59:59-14:00", git_remote=HOSTILE, size_bytes="@RAW@")
    return json.dumps(data).replace('"@RAW@"', "1" + "0" * 400).encode()


@pytest.mark.s3
@pytest.mark.parametrize(
    "digest",
    [
        {"schema": 1, "models": []},
        {"schema": 1, "models": {"acme/a": "x", "acme/b": {"etag": 1, "index": []}}},
        [1, 2],
    ],
)
def test_one_bad_index_or_digest_never_hides_the_other_models(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str, digest: object
) -> None:
    import boto3

    from cpv.catalog.cache import COPIES, DIGEST
    from cpv.catalog.index import INDEX_NAME
    from cpv.ops.models import models

    _published(tmp_path, "a")
    _published(tmp_path, "b")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    good = s3.get_object(Bucket=s3_user_config, Key=f"acme/b/{INDEX_NAME}")["Body"].read()
    for key in (f"acme/b/{INDEX_NAME}", f"{COPIES}acme/b.json"):
        s3.put_object(Bucket=s3_user_config, Key=key, Body=_hostile_index(good))
    s3.put_object(Bucket=s3_user_config, Key=DIGEST, Body=json.dumps(digest).encode())

    result = models()
    listed = {f"{m.team}/{m.model}": m for m in result.models}
    unreadable = not isinstance(digest, dict) or not isinstance(digest["models"], dict)
    assert any("rebuilt" in n for n in result.notes) == unreadable
    assert listed["acme/a"].model_version == "v0.1" and not listed["acme/a"].note
    assert not listed["acme/b"].indexed and "does not read as a cpv index" in listed["acme/b"].note
    rebuilt = json.loads(s3.get_object(Bucket=s3_user_config, Key=DIGEST)["Body"].read())
    assert rebuilt["models"]["acme/a"]["index"]["model_version"] == "v0.1"  # the digest healed

    s3.put_object(Bucket=s3_user_config, Key=DIGEST, Body=json.dumps(digest).encode())
    out = run_cpv("models")
    assert "acme/a" in out.stdout and "acme/b *" in out.stdout
    assert_inert(out.stdout + out.stderr)
    assert json.loads(run_cpv("models", "--json").stdout)["models"][0]["model_version"] == "v0.1"


def test_a_local_index_out_of_range_is_named_and_the_rest_listed(tmp_path: Path) -> None:
    from cpv.catalog.index import INDEX_NAME
    from cpv.domain.paths import cpv_home

    _published(tmp_path, "a")
    _published(tmp_path, "b")
    index = cpv_home() / "storage" / "acme" / "b" / INDEX_NAME
    index.write_bytes(_hostile_index(index.read_bytes()))

    odd = cpv_home() / "storage" / "acme" / "Evil\x1b[2J"
    odd.mkdir()
    (odd / INDEX_NAME).write_bytes((index.parent.parent / "a" / INDEX_NAME).read_bytes())

    out = run_cpv("models")
    assert "* acme/b: its cpv-index.json does not read as a cpv index" in out.stdout
    assert "* acme/Evil␛[2J: not a valid team/model name" in out.stdout
    assert ["acme/a", "v0.1"] in [line.split()[:2] for line in out.stdout.splitlines()]
    assert_inert(out.stdout + out.stderr)


def test_a_git_remote_with_markup_is_printed_as_typed(repo: Path) -> None:
    git(
        repo,
        "remote",
        "set-url",
        "origin",
        "https://example.com/[bold]x[/bold]/[link=https://e.x]y",
    )
    out = run_cpv("remote", "show", cwd=repo)
    assert "https://example.com/[bold]x[/bold]/[link=https://e.x]y" in out.stdout


@pytest.mark.parametrize("columns", ["²", "99999999999999999999", " 80 "])
def test_an_odd_columns_setting_never_breaks_output(repo: Path, columns: str) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag(message="a message")
    out = run_cpv("list", cwd=repo, env={"COLUMNS": columns})
    assert "model/v0.1" in out.stdout and not out.stderr


def test_an_index_too_large_or_with_an_infinite_best_is_named(tmp_path: Path) -> None:
    from cpv.catalog.index import INDEX_NAME
    from cpv.domain.paths import cpv_home

    for name in ("a", "b", "c"):
        _published(tmp_path, name)
    root = cpv_home() / "storage" / "acme"
    big = root / "b" / INDEX_NAME
    big.write_bytes(big.read_bytes().rstrip() + b" " * (2 << 20))  # valid JSON, 2 MiB
    inf = root / "c" / INDEX_NAME
    data = json.loads(inf.read_bytes())
    data["best"] = {"metric": "loss", "mode": "min", "tag": "model/v0.1", "value": "@RAW@"}
    inf.write_text(json.dumps(data).replace('"@RAW@"', "1e999"))

    out = json.loads(run_cpv("models", "--json").stdout)  # valid JSON: no Infinity
    notes = {m["model"]: m["note"] for m in out["models"]}
    assert notes["a"] == "" and "does not read" in notes["b"] and "does not read" in notes["c"]


def test_best_over_values_that_are_no_numbers_says_so(repo: Path) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag(metrics={"loss": 0.5})
    rewrite_tag(repo, "model/v0.1", {"metrics": {"loss": "@RAW@"}}, raw="NaN")

    bad = run_cpv("show", "best:loss:min", cwd=repo, check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith(
        "Error: no version has a number for the metric 'loss' (in model/v0.1: not a number)"
    )


def test_json_no_parser_can_hold_is_no_version_and_no_crash(repo: Path) -> None:
    """An integer of 5000 digits (past Python's int limit) or nesting 600 or 100000 deep (past
    the recursion limit of checks, or of the parser) in a tag or in metrics.log: the tag reads as no version, the line as no
    step, and every command carries on."""
    from cpv.core.repo import METRICS_LOG

    for i in range(4):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag(metrics={"loss": 0.5})
    rewrite_tag(repo, "model/v0.2", {"metrics": {"loss": "@RAW@"}}, raw="9" * 5000)
    rewrite_tag(repo, "model/v0.3", {"params": "@RAW@"}, raw="[" * 100000 + "]" * 100000)
    deep = '{"a": ' + "[" * 600 + "]" * 600 + "}"  # parses, but deeper than any check recurses
    rewrite_tag(repo, "model/v0.4", {"params": "@RAW@"}, raw=deep)
    with (repo / METRICS_LOG).open("a") as fh:
        fh.write(
            '{"run": "r", "kind": "step", "step": 1, "metrics": '
            + "[" * 100000
            + "]" * 100000
            + "}\n"
        )
        fh.write('{"run": "r", "kind": "step", "step": ' + "9" * 5000 + ', "metrics": {}}\n')

    listed = run_cpv("list", "--json", cwd=repo)
    assert [r["tag"] for r in json.loads(listed.stdout)] == ["model/v0.1"]
    assert "model/v0.1" in run_cpv("compare", "v0.1", cwd=repo).stdout
    tmp = repo.parent / "metrics.json"
    tmp.write_text('{"loss": ' + "[" * 100000 + "]" * 100000 + "}")
    bad = run_cpv("tag", "--kind", "model", "--metrics-file", str(tmp), cwd=repo, check=False)
    assert bad.returncode == 2 and "nested too deep" in bad.stderr


@pytest.mark.parametrize("days", ["36501", "99999999999"])
def test_a_keep_days_no_date_can_hold_is_a_usage_error(repo: Path, days: str) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    bad = run_cpv("gc", "--keep-days", days, "--dry-run", cwd=repo, check=False)
    assert bad.returncode == 2 and "--keep-days from 0 to 36500" in bad.stderr


@pytest.mark.parametrize("timeout", ["nan", "inf", "-1"])
def test_doctor_refuses_a_timeout_that_is_no_wait(timeout: str) -> None:
    bad = run_cpv("doctor", "--timeout", timeout, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith(f"Error: --timeout {timeout}")
    assert "not a number of seconds above 0 and at most 600" in bad.stderr
