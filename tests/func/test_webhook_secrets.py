"""Webhook secrets and payloads (issue 19, family 8), against a real HTTP server on loopback:
a reply that quotes the URL's token in any form never shows it (stderr, ``cpv status``, the
failures file); a token in the host is masked; Teams and Slack payloads show users' text as
typed; numeric environment settings are checked before any work."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import repo_snapshot, run_cpv, write_checkpoint
from tests.func.test_hostile_metadata import assert_inert
from tests.func.test_notify import SECRET, HookServer, api_tag, hook, hooks, tag

__all__ = ["hooks"]  # the fixture, shared with test_notify


def assert_no_secret_nor_its_start(*texts: str) -> None:
    """No part of the token in any case, nor the first 4 characters of one (a cut left
    behind)."""
    for text in texts:
        for part in SECRET.split("/"):
            assert part[:4].lower() not in text.lower(), f"the secret leaked: {text[:500]}"


def _failures_file() -> str:
    return (Path(os.environ["CPV_HOME"]) / "webhook-failures.json").read_text()


@pytest.mark.parametrize(
    "reply",
    [
        '{"error": "invalid_token", "url": "@URL_JSON@"}',
        "no such hook: @URL_PERCENT@",
        "token xoxbSECRETtoken42 revoked \x1b]52;c;ZXZpbA==\x07\x1b[2J",
        "x" * 75 + " T0SECRET/B0SECRET/xoxbSECRETtoken42 is not a hook",  # cut at 80 columns
        "invalid path @PATH_LOWER_PERCENT@",
    ],
)
def test_a_reply_quoting_the_token_never_shows_it(
    repo: Path, hooks: HookServer, reply: str
) -> None:
    url = hooks.url()
    path = f"/services/{SECRET}"
    hooks.status = 403
    hooks.reply = (
        reply.replace("@URL_JSON@", json.dumps(url)[1:-1].replace("/", "\\/"))
        .replace("@URL_PERCENT@", quote(url, safe=""))
        .replace("@PATH_LOWER_PERCENT@", quote(path, safe="").lower())
        .encode()
    )
    hook(url)

    done = tag(repo, b"weights-1")
    status = run_cpv("status", "--no-remote", cwd=repo)
    shown = json.loads(run_cpv("status", "--no-remote", "--json", cwd=repo).stdout)

    assert done.returncode == 0 and "HTTP 403" in done.stderr and "HTTP 403" in status.stdout
    assert_no_secret_nor_its_start(
        done.stdout, done.stderr, status.stdout, json.dumps(shown), _failures_file()
    )
    assert_inert(done.stderr + status.stdout)


def test_a_failure_an_older_cpv_recorded_is_scrubbed_when_shown(
    repo: Path, hooks: HookServer
) -> None:
    hooks.status = 403
    hook(hooks.url())
    tag(repo, b"weights-1")
    failures = Path(os.environ["CPV_HOME"]) / "webhook-failures.json"
    data = json.loads(failures.read_text())
    for failure in data.values():
        failure["reason"] = f"HTTP 403 ({SECRET})"  # as written before the scrubbing
    failures.write_text(json.dumps(data))

    status = run_cpv("status", "--no-remote", cwd=repo)
    assert "HTTP 403 (***" in status.stdout
    assert_no_secret_nor_its_start(status.stdout)


def test_a_token_in_the_host_is_masked(repo: Path, hooks: HookServer) -> None:
    """Pipedream-style ``https://<token>.m.pipedream.net``: the host label is the secret."""
    url = "http://eo1a2b3c4d5e6f7a8b.invalid/hook"
    hook(url)
    write_checkpoint(repo, b"weights-1")
    done = run_cpv("tag", "--kind", "model", cwd=repo, env={"CPV_WEBHOOK_TIMEOUT": "1"})
    show = run_cpv("configure", "--show")
    status = run_cpv("status", "--no-remote", cwd=repo)

    assert "http://***.invalid/***" in done.stderr and "http://***.invalid/***" in show.stdout
    for text in (done.stdout, done.stderr, show.stdout, status.stdout, _failures_file()):
        assert "eo1a2b" not in text


def test_teams_and_slack_show_what_users_wrote_as_typed(repo: Path, hooks: HookServer) -> None:
    hostile = "see [docs](https://evil.example) <at>all</at> <!channel> {{DATE(2017-02-14T06:00:00Z)}} **now**"
    hook(hooks.url("/teams/T0SECRET"), fmt="teams")
    hook(hooks.url("/slack/T0SECRET"), fmt="slack")
    api_tag(repo, b"weights-1", message=hostile, metrics={"[x](https://evil.example)": 1})

    bodies = {r["path"].split("/")[1]: r["body"] for r in hooks.requests}
    card = bodies["teams"]["attachments"][0]["content"]
    text = card["body"][1]["text"]
    assert "\\[docs\\](https://evil.example)" in text and "[docs](" not in text
    assert "\\<at\\>all\\</at\\>" in text and "\\{\\{DATE" in text and "\\*\\*now\\*\\*" in text
    [metric] = [f for f in card["body"][2]["facts"] if "evil" in f["title"]]
    assert metric["title"] == "\\[x\\](https://evil.example)"
    slack = json.dumps(bodies["slack"])
    assert "&lt;!channel&gt;" in slack and "&lt;at&gt;" in slack and "<!channel>" not in slack


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CPV_WEBHOOK_TIMEOUT", "nan"),
        ("CPV_WEBHOOK_TIMEOUT", "inf"),
        ("CPV_WEBHOOK_TIMEOUT", "600"),
        ("CPV_LOCK_TIMEOUT", "-1"),
        ("CPV_LOCK_TIMEOUT", "soon"),
    ],
)
def test_a_numeric_setting_out_of_bounds_is_an_error_naming_it(
    repo: Path, name: str, value: str
) -> None:
    write_checkpoint(repo, b"weights-1")
    before = repo_snapshot(repo)
    bad = run_cpv("tag", "--kind", "model", cwd=repo, env={name: value}, check=False)
    assert bad.returncode == 1 and bad.stderr.startswith(f"Error: {name}={value!r} is not a")
    assert "Hint: Set " in bad.stderr and "Traceback" not in bad.stderr
    assert repo_snapshot(repo) == before


def test_a_healthy_webhook_is_told_with_any_valid_budget(repo: Path, hooks: HookServer) -> None:
    hook(hooks.url())
    write_checkpoint(repo, b"weights-1")
    done = run_cpv(
        "tag", "--kind", "model", cwd=repo, env={"CPV_WEBHOOK_TIMEOUT": " 2.5 "}, check=False
    )
    assert done.returncode == 0 and "webhook" not in done.stderr
    assert len(hooks.requests) == 1
