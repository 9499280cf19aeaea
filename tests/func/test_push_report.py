"""`cpv push` says "up to date" only when nothing at all was sent (issue 9)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def _cpv(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cpv", "-C", str(repo), *args], capture_output=True, text=True)


def test_a_pushed_branch_commit_is_not_reported_as_up_to_date(repo: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"w")
    assert _cpv(repo, "tag", "--kind", "model").returncode == 0
    first = json.loads(_cpv(repo, "push", "--json").stdout)
    assert first["pushed_tags"] == ["model/v0.1"] and first["branch_pushed"]

    (repo / "README.md").write_text("notes on the model\n")
    subprocess.run(["git", "commit", "-qam", "docs"], cwd=repo, check=True)
    text = _cpv(repo, "push")
    assert text.returncode == 0, text.stderr
    assert "up to date" not in text.stdout and "branch main" in text.stdout
    assert "unchanged" not in text.stdout

    again = json.loads(_cpv(repo, "push", "--json").stdout)
    assert again["up_to_date"] and not again["branch_pushed"] and again["pushed_tags"] == []
    assert "everything up to date" in _cpv(repo, "push").stdout


def test_status_counts_ahead_and_behind_after_a_teammate_pushed(repo: Path, tmp_path: Path) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"one")
    assert _cpv(repo, "tag", "--kind", "model").returncode == 0
    assert _cpv(repo, "push").returncode == 0
    other = tmp_path / "teammate"
    cloned = _cpv(repo, "clone", "acme/whisper-small", str(other))
    assert cloned.returncode == 0, cloned.stderr
    (repo / "checkpoints" / "w.bin").write_bytes(b"two")
    assert _cpv(repo, "tag", "--kind", "model").returncode == 0
    assert _cpv(repo, "push").returncode == 0  # the teammate's clone is now one commit behind

    status = json.loads(_cpv(other, "status", "--json").stdout)
    assert (status["unpushed_commits"], status["behind_commits"]) == (0, 1)
    assert status["unpushed_tags"] == []
    assert "1 behind" in _cpv(other, "status").stdout

    (other / "README.md").write_text("local notes\n")
    subprocess.run(["git", "commit", "-qam", "notes"], cwd=other, check=True)
    status = json.loads(_cpv(other, "status", "--json").stdout)
    assert (status["unpushed_commits"], status["behind_commits"]) == (1, 1)


def test_clone_of_a_remote_with_no_commits_says_so(repo: Path, tmp_path: Path) -> None:
    """`cpv init` made the remote, nothing was pushed yet: not 'not a cpv repository'."""
    proc = subprocess.run(
        ["cpv", "clone", "acme/whisper-small", str(tmp_path / "copy")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "has no commits yet" in proc.stderr and "cpv push" in proc.stderr
    assert not (tmp_path / "copy").exists()


def test_push_dry_run_shows_the_number_a_colliding_version_will_get(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "checkpoints" / "w.bin").write_bytes(b"one")
    assert _cpv(repo, "tag", "--kind", "model").returncode == 0
    assert _cpv(repo, "push").returncode == 0
    other = tmp_path / "teammate"
    assert _cpv(repo, "clone", "acme/whisper-small", str(other)).returncode == 0
    (repo / "checkpoints" / "w.bin").write_bytes(b"ours")
    (other / "checkpoints" / "w.bin").write_bytes(b"theirs")
    assert _cpv(repo, "tag", "--kind", "model").returncode == 0  # model/v0.2 here …
    assert _cpv(other, "tag", "--kind", "model").returncode == 0  # … and there, other bytes
    assert _cpv(other, "push").returncode == 0  # theirs is published first

    dry = json.loads(_cpv(repo, "push", "--dry-run", "--json").stdout)
    assert dry["renamed"] == {"model/v0.2": "model/v0.3"}
    assert dry["pushed_tags"] == ["model/v0.3"]
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout
    assert tags.split() == ["model/v0.1", "model/v0.2"]  # the dry run renamed nothing

    real = json.loads(_cpv(repo, "push", "--json").stdout)
    assert real["renamed"] == dry["renamed"] and real["pushed_tags"] == ["model/v0.3"]


def test_push_dry_run_counts_the_objects_and_checks_the_storage(
    tmp_path: Path, s3_user_config: str, s3_endpoint: str
) -> None:
    import boto3

    from cpv.ops.init import init_repository

    model = init_repository(team="acme", model="dry", path=tmp_path / "dry")
    (model / "checkpoints" / "w.bin").write_bytes(b"weights")
    assert _cpv(model, "tag", "--kind", "model").returncode == 0
    plan = json.loads(_cpv(model, "push", "--dry-run", "--json").stdout)
    assert plan["dry_run"] and plan["objects_pushed"] == 2  # the file and its folder listing
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    assert "Contents" not in s3.list_objects_v2(Bucket="cpv-test")  # nothing sent
    s3.delete_bucket(Bucket="cpv-test")  # the storage is gone: the dry run must say so
    gone = _cpv(model, "push", "--dry-run")
    assert gone.returncode != 0 and "Traceback" not in gone.stderr
    assert "cpv-test" in gone.stderr and "would push" not in gone.stdout


def test_a_clone_that_never_pulled_head_can_still_push(repo: Path, tmp_path: Path) -> None:
    """HEAD's bytes are in the storage, not here: nothing of them needs to be local."""
    for content in (b"one", b"two"):
        (repo / "checkpoints" / "w.bin").write_bytes(content)
        assert _cpv(repo, "tag", "--kind", "model").returncode == 0
    assert _cpv(repo, "push").returncode == 0
    other = tmp_path / "teammate"
    cloned = _cpv(repo, "clone", "acme/whisper-small", str(other), "--ref", "v0.1")
    assert cloned.returncode == 0, cloned.stderr
    assert _cpv(other, "promote", "v0.1", "prod").returncode == 0
    pushed = _cpv(other, "push", "--json")
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["records_pushed"] == ["alias/prod/1"]
