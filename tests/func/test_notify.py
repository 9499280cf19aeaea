"""Webhooks against a real HTTP server on loopback: what is sent after tag, push, promote,
demote and gc; a server that answers 500 or never answers does not fail or hold up the
command; the URL (a secret) never shows, nor reaches the repository."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cpv, write_checkpoint

SECRET = "T0SECRET/B0SECRET/xoxbSECRETtoken42"


class HookServer:
    """A webhook receiver: records each POST; answers ``status``, or never (``hang``)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.reply: bytes | None = None  # the body of the answer (default: ok / boom)
        self.hang = False
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                if server.hang:
                    server.release.wait(30)
                    return
                self.send_response(server.status)
                self.end_headers()
                default = b"ok" if server.status < 400 else b"boom"
                self.wfile.write(default if server.reply is None else server.reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = f"/services/{SECRET}") -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"

    def bodies(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests]


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[HookServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("CPV_NO_WEBHOOKS", raising=False)
    monkeypatch.delenv("CPV_WEBHOOK_TIMEOUT", raising=False)
    server = HookServer()
    server.thread.start()
    yield server
    server.release.set()
    server.httpd.shutdown()
    server.httpd.server_close()


def tag(repo: Path, content: bytes, *extra: str) -> subprocess.CompletedProcess[str]:
    write_checkpoint(repo, content)
    return run_cpv("tag", "--kind", "model", *extra, cwd=repo)


def add_hook(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cpv("configure", "--webhook", url, *extra)


def hook(url: str, *, events: tuple[str, ...] = (), fmt: str | None = None) -> None:
    """A webhook added in-process (a child process each costs seconds on a loaded box)."""
    from cpv.notify import webhooks as notify

    notify.add_webhook(url, events=events, fmt=fmt)


def api_tag(repo: Path, content: bytes, **kwargs: Any) -> Any:
    """A version made through the Python API, its deliveries waited for."""
    from cpv import ModelCheckpoints
    from cpv.notify import delivery as notify_delivery

    write_checkpoint(repo, content)
    result = ModelCheckpoints(repo).tag(**kwargs)
    notify_delivery.wait()
    return result


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for part in SECRET.split("/"):
            assert part not in text, f"the webhook's secret leaked: {text[:500]}"


def test_tag_posts_one_json_payload_naming_the_version(repo: Path, hooks: HookServer) -> None:
    add_hook(hooks.url(), "--format", "json")
    tag(repo, b"weights-1", "-m", "lr 3e-4", "--metric", "wer=0.21")

    [request] = hooks.requests  # sent before the command returned, exactly once
    assert request["path"] == f"/services/{SECRET}"
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = request["body"]
    assert {k: body[k] for k in ("event", "team", "model", "model_id", "version", "tag")} == {
        "event": "tag",
        "team": "acme",
        "model": "whisper-small",
        "model_id": "acme/whisper-small",
        "version": "v0.1",
        "tag": "model/v0.1",
    }
    assert body["metrics"] == {"wer": 0.21}
    assert body["author"] == "Test User <test@example.com>"
    assert body["note"] == "lr 3e-4"
    assert body["aliases"] == []
    assert "acme/whisper-small" in body["message"] and "model/v0.1" in body["message"]
    assert "wer=0.21" in body["message"] and "lr 3e-4" in body["message"]
    assert body["time"].endswith("+00:00")


def test_nothing_is_sent_for_a_dry_run_or_an_unchanged_tag(repo: Path, hooks: HookServer) -> None:
    from cpv import ModelCheckpoints
    from cpv.domain.errors import NothingToTagError
    from cpv.notify import delivery as notify_delivery

    hook(hooks.url())
    api_tag(repo, b"weights-1", dry_run=True)
    assert hooks.requests == []
    api_tag(repo, b"weights-1")
    assert len(hooks.requests) == 1
    with contextlib.suppress(NothingToTagError):  # unchanged content: no new version
        api_tag(repo, b"weights-1")
    ModelCheckpoints(repo).gc(keep_last=1, dry_run=True)
    ModelCheckpoints(repo).push(dry_run=True)
    notify_delivery.wait()
    assert len(hooks.requests) == 1


def test_slack_and_teams_payloads(repo: Path, hooks: HookServer) -> None:
    hook(hooks.url("/slack/x"), fmt="slack")
    hook(hooks.url("/teams/y"), fmt="teams")
    tag(repo, b"weights-1", "-m", "<b>bold</b>", "--metric", "wer=0.21")

    by_path = {r["path"]: r["body"] for r in hooks.requests}
    slack, teams = by_path["/slack/x"], by_path["/teams/y"]
    assert "acme/whisper-small: new version model/v0.1" in slack["text"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in slack["text"]  # Slack's mrkdwn escaped
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "section", "context"]
    fields = " ".join(f["text"] for f in slack["blocks"][2]["fields"])
    assert "*Version*\nmodel/v0.1" in fields and "*wer*\n0.21" in fields

    assert teams["type"] == "message"
    [attachment] = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    facts = {
        f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Model"] == "acme/whisper-small"
    assert facts["Version"] == "model/v0.1" and facts["wer"] == "0.21"
    assert any("new version model/v0.1" in b.get("text", "") for b in card["body"])


def test_events_filter_promote_and_demote(repo: Path, hooks: HookServer) -> None:
    from cpv import ModelCheckpoints
    from cpv.notify import delivery as notify_delivery

    hook(hooks.url(), events=("promote,demote",))
    api_tag(repo, b"weights-1", metrics={"wer": 0.3})
    api_tag(repo, b"weights-2", metrics={"wer": 0.2})
    assert hooks.requests == []  # tag is not among its events

    run_cpv("promote", "v0.2", "prod", "-m", "best wer", cwd=repo)
    ModelCheckpoints(repo).promote("v0.2", "prod")  # already there: nothing recorded nor sent
    notify_delivery.wait()
    run_cpv("demote", "prod", cwd=repo)
    promote, demote = hooks.bodies()
    assert promote["event"] == "promote" and promote["tag"] == "model/v0.2"
    assert promote["aliases"] == ["prod"] and promote["metrics"] == {"wer": 0.2}
    assert promote["details"]["alias"] == "prod" and promote["note"] == "best wer"
    assert "prod -> model/v0.2" in promote["message"]
    assert demote["event"] == "demote" and demote["tag"] == "model/v0.2"
    assert demote["aliases"] == [] and "prod demoted" in demote["message"]


def test_push_and_gc_events(repo: Path, hooks: HookServer) -> None:
    from cpv import ModelCheckpoints
    from cpv.notify import delivery as notify_delivery

    hook(hooks.url(), events=("push", "gc"))
    for n in range(3):
        api_tag(repo, f"weights-{n}".encode(), metrics={"wer": float(f"0.{n + 1}")})
    run_cpv("push", cwd=repo)
    ModelCheckpoints(repo).push()  # up to date: nothing to announce
    notify_delivery.wait()
    run_cpv("gc", "--keep-last", "1", cwd=repo)

    push, gc = hooks.bodies()
    assert push["event"] == "push"
    assert push["tags"] == ["model/v0.1", "model/v0.2", "model/v0.3"]
    assert push["tag"] == "model/v0.3" and push["metrics"] == {"wer": 0.3}
    assert push["author"] == "Test User <test@example.com>"
    assert gc["event"] == "gc" and gc["tags"] == ["model/v0.1", "model/v0.2"]
    assert gc["details"]["freed_local"] > 0 and "gc removed" in gc["message"]


def test_a_webhook_answering_500_is_retried_then_warned_and_shown_by_status(
    repo: Path, hooks: HookServer
) -> None:
    hooks.status = 500
    hook(hooks.url())
    done = tag(repo, b"weights-1")

    assert done.returncode == 0 and "created model/v0.1" in done.stdout
    assert len(hooks.requests) == 3  # bounded retries
    assert "warning: webhook json-" in done.stderr and "HTTP 500" in done.stderr
    assert "/services/***" in done.stderr
    status = run_cpv("status", "--no-remote", cwd=repo)
    assert "/services/***" in status.stdout and "HTTP 500" in status.stdout
    [failure] = json.loads(run_cpv("status", "--no-remote", "--json", cwd=repo).stdout)[
        "webhook_failures"
    ]
    assert failure["event"] == "tag" and failure["model"] == "acme/whisper-small"
    assert failure["url"].endswith("/services/***") and failure["attempts"] == 3
    failures = Path(os.environ["CPV_HOME"]) / "webhook-failures.json"
    assert stat.S_IMODE(failures.stat().st_mode) == 0o600
    assert_no_secret(done.stdout, done.stderr, status.stdout, status.stderr, failures.read_text())

    hooks.status = 200  # the next delivery succeeds: the failure is cleared
    api_tag(repo, b"weights-2")
    assert webhook_failures(repo) == []


def webhook_failures(repo: Path) -> list[Any]:
    from cpv import ModelCheckpoints

    return ModelCheckpoints(repo).status(remote=False).webhook_failures


def test_removing_a_failing_webhook_forgets_its_failure(repo: Path, hooks: HookServer) -> None:
    hooks.status = 404  # a revoked URL: not retried
    hook(hooks.url())
    done = tag(repo, b"weights-1")
    assert len(hooks.requests) == 1 and "HTTP 404" in done.stderr
    [failure] = webhook_failures(repo)
    run_cpv("configure", "--remove-webhook", failure.id)
    assert webhook_failures(repo) == []


def test_an_unreadable_webhooks_file_is_a_warning_not_a_failure(repo: Path) -> None:
    store = Path(os.environ["CPV_HOME"]) / "webhooks.json"
    store.parent.mkdir(mode=0o700, exist_ok=True)
    store.write_text("{not json")
    done = tag(repo, b"weights-1")
    assert done.returncode == 0 and "created model/v0.1" in done.stdout
    assert "warning: the tag could not be announced" in done.stderr
    assert str(store) in done.stderr


def test_a_webhook_that_never_answers_holds_the_command_no_longer_than_its_budget(
    repo: Path, hooks: HookServer
) -> None:
    start = time.monotonic()
    tag(repo, b"weights-0")
    baseline = time.monotonic() - start

    hooks.hang = True
    hook(hooks.url())
    start = time.monotonic()
    done = tag(repo, b"weights-1")
    elapsed = time.monotonic() - start

    assert done.returncode == 0 and "created model/v0.2" in done.stdout
    assert hooks.requests, "the payload was sent before the command ended"
    # the default budget is 5 s (+0.5 s for the thread to record its outcome)
    assert elapsed < baseline + 5.5 + 2.0, (elapsed, baseline)
    assert "no answer" in done.stderr
    status = run_cpv("status", "--no-remote", cwd=repo)
    assert "no answer" in status.stdout
    assert_no_secret(done.stdout, done.stderr, status.stdout)


def test_a_short_budget_is_kept_too(repo: Path, hooks: HookServer) -> None:
    hooks.hang = True
    hook(hooks.url())
    start = time.monotonic()
    write_checkpoint(repo, b"weights-1")
    done = run_cpv("tag", "--kind", "model", cwd=repo, env={"CPV_WEBHOOK_TIMEOUT": "1"})
    elapsed = time.monotonic() - start
    assert done.returncode == 0 and "no answer" in done.stderr
    assert elapsed < 1.5 + 3.0, elapsed


def test_verbose_says_what_the_command_waits_for_after_its_work(
    repo: Path, hooks: HookServer
) -> None:
    hooks.hang = True
    hook(hooks.url())
    write_checkpoint(repo, b"weights-1")
    env = {"CPV_WEBHOOK_TIMEOUT": "1"}
    done = run_cpv("-v", "tag", cwd=repo, env=env)
    assert re.search(r"^\[\s*[\d.]+s\] waiting for 1 webhook\(s\) to answer$", done.stderr, re.M)
    assert_no_secret(done.stderr)
    write_checkpoint(repo, b"weights-2")
    quiet = run_cpv("tag", cwd=repo, env=env)  # off a terminal, without -v: only the warning
    assert "waiting for" not in quiet.stderr and "no answer" in quiet.stderr


def test_configure_show_masks_the_url_and_the_store_is_private(hooks: HookServer) -> None:
    added = add_hook(hooks.url(), "--events", "tag", "--events", "push")
    assert "/services/***" in added.stdout and "mode 0600" in added.stdout
    shown = run_cpv("configure", "--show")
    as_json = run_cpv("configure", "--show", "--json")
    assert_no_secret(added.stdout, added.stderr, shown.stdout, as_json.stdout)
    [hook] = json.loads(as_json.stdout)["webhooks"]
    assert hook["url"] == hooks.url("/services/***")
    assert hook["events"] == ["tag", "push"] and hook["format"] == "json"
    assert hook["id"] in shown.stdout

    home = Path(os.environ["CPV_HOME"])
    store = home / "webhooks.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert SECRET in store.read_text()  # stored in full, only there

    add_hook(hooks.url(), "--format", "slack")  # the same URL again: replaced, not doubled
    assert len(json.loads(run_cpv("configure", "--show", "--json").stdout)["webhooks"]) == 1
    gone = run_cpv("configure", "--remove-webhook", hook["id"])
    assert f"Removed webhook {hook['id']}" in gone.stdout
    assert json.loads(run_cpv("configure", "--show", "--json").stdout)["webhooks"] == []
    missing = run_cpv("configure", "--remove-webhook", hooks.url(), check=False)
    assert missing.returncode == 2 and "Error: no webhook" in missing.stderr
    assert_no_secret(gone.stdout, missing.stderr)


def test_test_webhook_sends_a_test_message_and_fails_when_one_is_refused(
    hooks: HookServer,
) -> None:
    added = run_cpv("configure", "--webhook", hooks.url(), "--format", "slack", "--test-webhook")
    assert "Test message to slack-" in added.stdout and "delivered" in added.stdout
    [body] = hooks.bodies()
    assert body["text"].startswith("cpv test message: this webhook will be told of tag, push")

    hooks.status = 404
    refused = run_cpv("configure", "--test-webhook", check=False)
    assert refused.returncode == 1 and "FAILED: HTTP 404" in refused.stdout
    assert "Error: 1 webhook(s) did not take the test message" in refused.stderr
    assert_no_secret(added.stdout, added.stderr, refused.stdout, refused.stderr)


def test_invalid_webhook_settings_are_refused_in_one_line(hooks: HookServer) -> None:
    for args in (
        ("--webhook", f"ftp://example.com/{SECRET}"),
        ("--webhook", f"https://user:pw@example.com/{SECRET}"),
        ("--webhook", hooks.url(), "--events", "tag,deploy"),
        ("--events", "tag"),
        ("--webhook", hooks.url(), "--provider", "aws"),
        ("--test-webhook",),  # none configured
    ):
        done = run_cpv("configure", *args, check=False)
        assert done.returncode == 2, args
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("Error:") and len(lines) <= 2, done.stderr
        assert_no_secret(done.stderr)
    assert not (Path(os.environ["CPV_HOME"]) / "webhooks.json").exists()


def test_a_url_read_from_stdin_never_reaches_the_command_line(hooks: HookServer) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cpv", "configure", "--webhook", "-", "--format", "teams"],
        input=hooks.url() + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [hook] = json.loads(run_cpv("configure", "--show", "--json").stdout)["webhooks"]
    assert hook["format"] == "teams" and hook["id"].startswith("teams-")


def test_the_secret_never_reaches_the_repository(repo: Path, hooks: HookServer) -> None:
    add_hook(hooks.url())
    tag(repo, b"weights-1", "-m", "first")
    run_cpv("promote", "v0.1", "prod", cwd=repo)
    run_cpv("push", cwd=repo)

    def git(*args: str, cwd: Path = repo) -> str:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout

    bare = Path(git("remote", "get-url", "origin").strip())
    for where in (repo, bare):
        assert_no_secret(
            git("log", "--all", "-p", cwd=where),
            git("for-each-ref", "--format=%(refname) %(contents)", cwd=where),
        )
    for path in repo.rglob("*"):
        if path.is_file():
            assert SECRET.split("/")[-1].encode() not in path.read_bytes(), path
    assert len(hooks.requests) == 3  # tag, promote and push were announced


def test_python_api_sends_in_the_background_and_can_be_turned_off(
    repo: Path, hooks: HookServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cpv import ModelCheckpoints
    from cpv.notify import delivery as notify_delivery
    from cpv.notify import webhooks as notify

    notify.add_webhook(hooks.url(), events=["tag"])
    models = ModelCheckpoints(repo)
    write_checkpoint(repo, b"weights-1")
    models.tag(metrics={"wer": 0.4})
    assert notify_delivery.wait() == []
    assert [b["version"] for b in hooks.bodies()] == ["v0.1"]

    monkeypatch.setenv("CPV_NO_WEBHOOKS", "1")
    write_checkpoint(repo, b"weights-2")
    models.tag()
    assert notify_delivery.wait() == [] and len(hooks.requests) == 1


def test_a_version_made_by_the_training_callbacks_is_announced(
    repo: Path, hooks: HookServer
) -> None:
    from cpv.integrations.plain import versioning
    from cpv.notify import delivery as notify_delivery
    from cpv.notify import webhooks as notify

    notify.add_webhook(hooks.url(), events=["tag"])
    write_checkpoint(repo, b"epoch-1")
    with versioning(repo=repo) as v:
        v.log_checkpoint(repo / "checkpoints", metrics={"wer": 0.5}, message="epoch 1")
    assert notify_delivery.wait() == []
    [body] = hooks.bodies()
    assert body["tag"] == "model/v0.1" and body["metrics"] == {"wer": 0.5}
    assert body["note"] == "epoch 1"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
            "https://hooks.slack.com/services/***",
        ),
        ("https://example.com/abcdef123456", "https://example.com/***"),
        ("https://example.com/Xy9SECRETtokenValue/more", "https://example.com/***"),
        (
            "https://prod-1.westus.logic.azure.com:443/workflows/abc/triggers?sig=SECRET",
            "https://prod-1.westus.logic.azure.com:443/workflows/***",
        ),
        ("http://127.0.0.1:8080/hook?token=SECRET", "http://127.0.0.1:8080/***"),
        ("http://[::1]:8080/hooks/SECRET", "http://[::1]:8080/hooks/***"),
    ],
)
def test_mask_url_keeps_only_scheme_host_and_a_plain_first_word(url: str, masked: str) -> None:
    from cpv.notify.webhooks import mask_url, scrub

    assert mask_url(url) == masked
    assert "SECRET" not in scrub(f"failed to reach {url}", url)


def test_the_format_is_guessed_from_the_host() -> None:
    from cpv.notify.webhooks import detect_format

    assert detect_format("https://hooks.slack.com/services/T/B/X") == "slack"
    assert detect_format("https://acme.webhook.office.com/webhookb2/x") == "teams"
    assert detect_format("https://prod-1.westus.logic.azure.com/workflows/x") == "teams"
    assert detect_format("https://ci.example.com/hook") == "json"
