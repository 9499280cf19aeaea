"""Issue 19, families 3-5: deletion decided from the remote's refs at the moment it acts,
under the lease on the git remote (cpv/core/fence.py), staged across two clones on moto S3.

Every race is staged deterministically: in-process by wrapping the step between planning and
taking the lease, or in a child process stopped at a named pause point (``CPV_PAUSE``) or
killed at a fault point (``CPV_FAULT=kill:…``). Outcomes are checked the way a user would:
a fresh clone pulls every version that should survive, byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.core.removal import removed_markers
from cpv.core.repo import ModelRepo
from cpv.domain.errors import UsageError, VersionRemovedError
from cpv.ops.gc import gc
from cpv.ops.init import init_repository
from cpv.ops.pull import clone, pull
from cpv.ops.push import push
from tests.conftest import git as _git
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint

W = {1: b"weights one " * 50, 2: b"weights two " * 50, 3: b"weights three " * 50}

pytestmark = pytest.mark.s3


def _three_versions_and_a_clone(tmp_path: Path) -> tuple[Path, Path]:
    """``a`` made and pushed v0.1..v0.3 (W[1..3]); ``b`` is a clone of it."""
    a = init_repository(team="acme", model="m", path=tmp_path / "a")
    for i in (1, 2, 3):
        write_checkpoint(a, W[i])
        ModelCheckpoints(a).tag(metrics={"loss": float(i)})
    push(a)
    b, _ = clone("acme/m", tmp_path / "b")
    return a, b


def _fresh(tmp_path: Path, name: str) -> Path:
    path, _ = clone("acme/m", tmp_path / name)
    return path


def _pulled(repo: Path, ref: str) -> bytes:
    pull(repo, version=ref)
    return (repo / "checkpoints" / "model.bin").read_bytes()


def _stored_keys(endpoint: str) -> set[str]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="cpv-test", Prefix="acme/m/")
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def _gc_killed_after_taking_the_lease(repo: Path) -> None:
    """``gc --keep-last 1 --remote`` in ``repo``, SIGKILLed right after it published its
    markers and journal (a 1 s lease, so another clone soon finds it abandoned)."""
    killed = run_cpv(
        "gc",
        "--keep-last",
        "1",
        "--remote",
        cwd=repo,
        check=False,
        env={"CPV_FAULT": "kill:gc_delete", "CPV_GC_LEASE": "1"},
    )
    assert killed.returncode == -9


def _remote_refs(repo: Path) -> dict[str, str]:
    url = _git(repo, "remote", "get-url", "origin").strip()
    out = _git(repo, "ls-remote", url)
    return {ref: sha for sha, _, ref in (line.partition("\t") for line in out.splitlines())}


def test_gc_plans_again_when_another_clone_promotes_before_it_takes_the_lease(
    s3_user_config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cpv.core.removal_run as removal_run

    a, b = _three_versions_and_a_clone(tmp_path)
    real, staged = removal_run.acquire, []

    def acquire(repo: ModelRepo, **kw: object):  # type: ignore[no-untyped-def]
        if not staged:  # a's plan is made: now b promotes v0.1 and publishes
            staged.append(ModelCheckpoints(b).promote("v0.1", "prod"))
            push(b)
        return real(repo, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(removal_run, "acquire", acquire)
    result = gc(a, keep_last=1, remote=True)
    assert [c.tag for c in result.collected] == ["model/v0.2"]
    assert "alias prod" in {r for k in result.kept if k.tag == "model/v0.1" for r in k.reasons}
    fresh = _fresh(tmp_path, "fresh")
    assert _pulled(fresh, "prod") == W[1]
    assert _pulled(fresh, "v0.3") == W[3]
    with pytest.raises(VersionRemovedError):
        pull(fresh, version="v0.2")


def test_a_push_during_the_deletion_waits_and_uploads_what_was_deleted(
    s3_user_config: str, tmp_path: Path
) -> None:
    """b's new version reuses v0.1's weights, which the running gc deletes: b's push waits
    for the lease, then finds them gone and uploads them again before publishing."""
    a, b = _three_versions_and_a_clone(tmp_path)
    pause = tmp_path / "pause"
    pause.mkdir()
    gc_proc = subprocess.Popen(
        [sys.executable, "-m", "cpv", "gc", "--keep-last", "1", "--remote"],
        cwd=a,
        env={**os.environ, "CPV_PAUSE": f"gc_delete@{pause}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (pause / "gc_delete.reached").exists():
        assert gc_proc.poll() is None and time.monotonic() < deadline, gc_proc.communicate()
        time.sleep(0.05)
    write_checkpoint(b, W[1])
    ModelCheckpoints(b).tag()
    outcome: list[object] = []
    pusher = threading.Thread(target=lambda: outcome.append(push(b)))
    pusher.start()
    time.sleep(1.5)
    assert pusher.is_alive(), "the push published while a deletion held the lease"
    (pause / "gc_delete.go").touch()
    out, err = gc_proc.communicate(timeout=60)
    assert gc_proc.returncode == 0, err
    pusher.join(60)
    assert outcome and outcome[0].pushed_tags == ["model/v0.4"]  # type: ignore[attr-defined]
    fresh = _fresh(tmp_path, "fresh")
    assert _pulled(fresh, "v0.4") == W[1]
    assert _pulled(fresh, "v0.3") == W[3]


def test_a_branch_this_clone_never_fetched_keeps_its_bytes(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    _git(b, "checkout", "-q", "-b", "exp")
    ModelCheckpoints(b).revert("v0.1")  # exp's tip holds v0.1's weights
    push(b)
    result = gc(a, keep_last=1, remote=True)
    kept = {k.tag: k.reasons for k in result.kept}
    assert "remote branch exp" in kept["model/v0.1"]
    assert [c.tag for c in result.collected] == ["model/v0.2"]
    fresh = _fresh(tmp_path, "fresh")
    _git(fresh, "checkout", "-q", "exp")
    pull(fresh)
    assert (fresh / "checkpoints" / "model.bin").read_bytes() == W[1]


def test_a_killed_deletion_left_markers_and_the_next_push_finishes_it(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    before = _stored_keys(s3_endpoint)
    _gc_killed_after_taking_the_lease(a)
    remote = _remote_refs(a)
    assert "refs/cpv/gc" in remote  # the journal says what was under way
    # never a version without bytes and without a marker: the markers went first
    assert {"refs/tags/removed/model/v0.1", "refs/tags/removed/model/v0.2"} <= set(remote)
    assert _stored_keys(s3_endpoint) == before  # nothing deleted yet
    time.sleep(1.2)  # the lease (1 s) has run out: its holder is gone
    write_checkpoint(b, b"weights four")
    ModelCheckpoints(b).tag()
    res = push(b)
    assert res.pushed_tags == ["model/v0.4"]
    assert res.lease_notes and "finished an interrupted `cpv gc --remote`" in res.lease_notes[0]
    assert "refs/cpv/gc" not in _remote_refs(a)
    assert len(_stored_keys(s3_endpoint)) < len(before) + 2  # v0.1/v0.2's weights are gone
    fresh = _fresh(tmp_path, "fresh")
    assert _pulled(fresh, "v0.3") == W[3]
    assert (fresh / "checkpoints").exists()
    with pytest.raises(VersionRemovedError):
        pull(fresh, version="v0.1")


def test_a_live_deletion_makes_a_push_wait_then_fail_clearly(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    pause = tmp_path / "pause"
    pause.mkdir()
    gc_proc = subprocess.Popen(
        [sys.executable, "-m", "cpv", "delete", "v0.1", "--remote"],
        cwd=a,
        env={**os.environ, "CPV_PAUSE": f"gc_delete@{pause}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not (pause / "gc_delete.reached").exists():
        assert gc_proc.poll() is None, gc_proc.communicate()
        time.sleep(0.05)
    ModelCheckpoints(b).promote("v0.2", "prod")
    proc = run_cpv("push", cwd=b, check=False, env={"CPV_LOCK_TIMEOUT": "1"})
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "is deleting from the storage of this model" in proc.stderr
    (pause / "gc_delete.go").touch()
    assert gc_proc.wait(60) == 0
    push(b)  # the deletion is over: the move publishes
    assert _pulled(_fresh(tmp_path, "fresh"), "prod") == W[2]


def test_local_delete_refuses_a_version_the_remotes_alias_names(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    ModelCheckpoints(b).promote("v0.1", "prod")
    push(b)
    state = repo_snapshot(a)
    proc = run_cpv("delete", "v0.1", cwd=a, check=False)  # a never fetched prod
    assert proc.returncode == 2 and "aliased as prod" in proc.stderr
    assert repo_snapshot(a) == state


def test_push_withdraws_a_local_removal_the_remotes_new_alias_contradicts(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    assert ModelCheckpoints(a).delete("v0.1").marker == "removed/model/v0.1"  # local only
    ModelCheckpoints(b).promote("v0.1", "prod")
    push(b)
    res = push(a)
    assert res.withdrawn and "removed/model/v0.1" not in res.records_pushed
    assert "refs/tags/removed/model/v0.1" not in _remote_refs(a)
    assert "model/v0.1" not in removed_markers(ModelRepo.open(a))
    for name in ("fresh", "fresh2"):
        assert _pulled(_fresh(tmp_path, name), "prod") == W[1]


def test_references_skip_removed_versions_and_promote_refuses_them(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, _ = _three_versions_and_a_clone(tmp_path)
    ModelCheckpoints(a).delete("v0.1", remote=True)
    proc = run_cpv("promote", "v0.1", "prod", cwd=a, check=False)
    assert proc.returncode == 1 and "was removed" in proc.stderr
    assert ModelCheckpoints(a).show("best:loss:min").tag == "model/v0.2"
    with pytest.raises(VersionRemovedError):
        ModelCheckpoints(a).promote("v0.1", "prod")


def test_an_unpushed_version_is_refused_then_removed_and_push_still_works(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, _ = _three_versions_and_a_clone(tmp_path)
    for content in (b"four", b"five"):
        write_checkpoint(a, content)
        ModelCheckpoints(a).tag()
    state = repo_snapshot(a)
    proc = run_cpv("delete", "v0.4", cwd=a, check=False)
    assert proc.returncode == 2 and "never published" in proc.stderr and "--force" in proc.stderr
    assert repo_snapshot(a) == state
    res = ModelCheckpoints(a).delete("v0.4", force=True)
    assert res.unpushed and res.marker == "removed/model/v0.4"
    pushed = push(a)  # the removed version's bytes are gone: it publishes with its marker
    assert pushed.pushed_tags == ["model/v0.4", "model/v0.5"]
    assert "removed/model/v0.4" in pushed.records_pushed
    fresh = _fresh(tmp_path, "fresh")
    assert _pulled(fresh, "v0.5") == b"five"
    with pytest.raises(VersionRemovedError, match="never pushed"):
        pull(fresh, version="v0.4")


def test_gc_remote_dry_run_changes_nothing_anywhere(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    ModelCheckpoints(b).promote("v0.1", "prod")
    push(b)  # a has not fetched this

    def everything() -> tuple[object, ...]:
        cache = sorted(
            (str(p.relative_to(a)), p.stat().st_size)
            for p in (a / ".dvc" / "cache").rglob("*")
            if p.is_file()
        )
        return repo_snapshot(a), cache, _stored_keys(s3_endpoint), _remote_refs(a)

    before = everything()
    result = gc(a, keep_last=1, remote=True, dry_run=True)
    assert [c.tag for c in result.collected] == ["model/v0.2"] and result.freed_remote > 0
    assert everything() == before


def test_alias_history_cannot_be_rolled_back_by_deleting_a_tag_on_the_server(
    s3_user_config: str, tmp_path: Path
) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    for version in ("v0.1", "v0.2", "v0.3"):
        ModelCheckpoints(a).promote(version, "prod")
        push(a)
    pull(b)
    bare = _git(a, "remote", "get-url", "origin").strip()
    _git(bare, "tag", "-d", "alias/prod/1")  # someone with server access
    for clone_ in (a, b):
        push(clone_)
        pull(clone_)
    remote = _remote_refs(a)
    assert "refs/tags/alias/prod/4" not in remote  # never re-published as a newer move
    assert "refs/tags/alias/prod/1" in remote  # the history heals under its own name
    assert ModelCheckpoints(_fresh(tmp_path, "fresh")).show("prod").tag == "model/v0.3"


def test_delete_refuses_with_usage_error_from_python(s3_user_config: str, tmp_path: Path) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    _git(b, "checkout", "-q", "-b", "exp")
    ModelCheckpoints(b).revert("v0.2")
    push(b)
    with pytest.raises(UsageError, match="remote branch exp"):
        ModelCheckpoints(a).delete("v0.2", remote=True)


def test_a_journal_planted_with_plain_git_never_deletes_what_versions_need(
    s3_user_config: str, s3_endpoint: str, tmp_path: Path
) -> None:
    """The journal is read from the remote: untrusted. One that lists every object (a
    hostile or broken teammate's, dated long ago) is finished without deleting any object a
    version still needs."""
    from cpv.objects.store import store_for

    a, b = _three_versions_and_a_clone(tmp_path)
    before = _stored_keys(s3_endpoint)
    objects = sorted(
        k.split("/files/md5/")[1].replace("/", "", 1) for k in before if "/files/md5/" in k
    )
    journal = {
        "action": "gc",
        "by": "mallory",
        "at": "2020-01-01T00:00:00+00:00",
        "lease_seconds": 1,
        "storage": store_for(a).url,
        "objects": objects,
        "markers": [],
    }
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=a,
        input=json.dumps(journal),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = subprocess.run(
        ["git", "mktree"],
        cwd=a,
        input=f"100644 blob {blob}\tjournal.json\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    commit = _git(a, "commit-tree", tree, "-m", "planted").strip()
    _git(a, "push", "-q", "origin", f"{commit}:refs/cpv/gc")
    write_checkpoint(b, b"weights four")
    ModelCheckpoints(b).tag()
    res = push(b)
    assert res.pushed_tags == ["model/v0.4"] and res.lease_notes
    assert "refs/cpv/gc" not in _remote_refs(a)
    assert before <= _stored_keys(s3_endpoint)  # nothing a version needs was deleted
    fresh = _fresh(tmp_path, "fresh")
    for version, content in (("v0.1", W[1]), ("v0.2", W[2]), ("v0.3", W[3])):
        assert _pulled(fresh, version) == content


def test_status_says_who_holds_the_deletion_lease(s3_user_config: str, tmp_path: Path) -> None:
    a, b = _three_versions_and_a_clone(tmp_path)
    _gc_killed_after_taking_the_lease(a)
    time.sleep(1.2)
    out = json.loads(run_cpv("status", "--json", cwd=b).stdout)
    assert "`cpv gc --remote` by Test User" in out["deletion"]
    assert "was interrupted: the next push, pull, gc or delete finishes it" in out["deletion"]
    assert "was interrupted" in run_cpv("status", cwd=b).stdout
