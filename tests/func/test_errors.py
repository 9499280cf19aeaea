"""Typed errors, mapped once: every failure is one ``Error:`` line and one ``Hint:`` line naming
the fix, exit 1, no traceback, and the repository unchanged. S3 is the session's moto server
over HTTP (with IAM authentication switched on where keys must be refused); DVC's own console
output never reaches the terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cpv import ModelCheckpoints
from cpv.domain import errors
from cpv.ops.init import init_repository
from cpv.settings.config import StorageSettings, UserConfig, save_user_config
from tests.conftest import git, run_cpv, write_checkpoint

#: Lines DVC draws or logs when it is allowed to reach the terminal.
DVC_CHATTER = (
    "Adding...",
    "Checking cache",
    "Checking graph",
    "Building workspace index",
    "Collecting",
    "DEBUG",
    "WARNING",
    "ERROR",
)


def state(repo: Path) -> dict[str, str]:
    """What a refused command must leave as it was, here and on a local git remote."""
    remote = git(repo, "remote", "get-url", "origin").strip()
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "tags": git(repo, "tag"),
        "status": git(repo, "status", "--porcelain"),
        "remote": git(repo, "ls-remote", remote) if Path(remote).is_dir() else "",
    }


def assert_one_error(proc: subprocess.CompletedProcess[str], *in_error: str, hint: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out, out
    error_lines = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    hint_lines = [line for line in proc.stderr.splitlines() if line.startswith("Hint:")]
    assert len(error_lines) == 1 and len(hint_lines) == 1, out
    assert proc.stderr.strip().splitlines() == [error_lines[0], hint_lines[0]], out
    for text in in_error:
        assert text in error_lines[0], out
    assert hint in hint_lines[0], out


def _post(url: str, body: bytes = b"") -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request).read()


@pytest.fixture
def s3_model(tmp_path: Path, s3_user_config: str) -> Path:
    """A model on the moto bucket with one version tagged and not pushed yet."""
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"weights " * 100)
    ModelCheckpoints(repo).tag(message="first")
    return repo


@pytest.fixture
def iam_keys(s3_endpoint: str, s3_bucket: str) -> Iterator[dict[str, dict[str, str]]]:
    """Switch moto's authentication on: only these IAM keys work, ``writer`` may use S3 and
    ``nobody`` may not. Switched off again afterwards (the server is shared)."""
    iam = boto3.client("iam", endpoint_url=s3_endpoint, region_name="us-east-1")
    keys = {}
    for user, policy in (("writer", True), ("nobody", False)):
        iam.create_user(UserName=user)
        if policy:
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
            iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(document))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
    _post(f"{s3_endpoint}/moto-api/reset-auth", b"0")
    try:
        yield keys
    finally:
        _post(f"{s3_endpoint}/moto-api/reset-auth", b"inf")


# --- storage failures on `cpv push` --------------------------------------------------------
@pytest.mark.s3
@pytest.mark.moto_only  # users and policies through moto's IAM
@pytest.mark.parametrize(
    ("who", "code", "hint"),
    [
        ("unknown key id", "InvalidAccessKeyId", "access key id and secret"),
        ("wrong secret", "SignatureDoesNotMatch", "access key id and secret"),
        ("no permission", None, "Grant these keys"),
    ],
)
def test_push_with_refused_keys(
    s3_model: Path, iam_keys: dict[str, dict[str, str]], who: str, code: str | None, hint: str
) -> None:
    env = {
        "unknown key id": {**iam_keys["writer"], "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNUNKNOWN00"},
        "wrong secret": {**iam_keys["writer"], "AWS_SECRET_ACCESS_KEY": "not-the-secret"},
        "no permission": iam_keys["nobody"],
    }[who]
    before = state(s3_model)
    proc = run_cpv("-C", str(s3_model), "push", env=env, check=False)
    expected = f"({code})" if code else "access denied to bucket 'cpv-test'"
    assert_one_error(proc, expected, hint=hint)
    assert "not-the-secret" not in proc.stderr
    assert state(s3_model) == before
    # The right keys then push the same version.
    run_cpv("-C", str(s3_model), "push", env=iam_keys["writer"])
    assert "model/v0.1" in git(s3_model, "ls-remote", "--tags", "origin")


@pytest.mark.s3
def test_push_with_a_missing_aws_profile(s3_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    before = state(s3_model)
    proc = run_cpv("-C", str(s3_model), "push", env={"AWS_PROFILE": "nope"}, check=False)
    assert_one_error(proc, "AWS profile 'nope' is not defined", hint="aws configure --profile nope")
    assert state(s3_model) == before


@pytest.mark.s3
def test_push_to_a_missing_bucket(s3_model: Path, s3_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").delete_bucket(
        Bucket="cpv-test"
    )
    before = state(s3_model)
    proc = run_cpv("-C", str(s3_model), "push", check=False)
    assert_one_error(
        proc, f"bucket 'cpv-test' does not exist at {s3_endpoint}", hint="Create the bucket"
    )
    assert state(s3_model) == before


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_push_to_a_stopped_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    save_user_config(
        UserConfig(
            storage=StorageSettings(
                provider="minio", bucket="cpv-test", endpoint_url=endpoint, region="us-east-1"
            )
        )
    )
    repo = init_repository(team="acme", model="m", path=tmp_path / "m")
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    before = state(repo)
    proc = run_cpv("-C", str(repo), "push", check=False)
    assert_one_error(proc, f"cannot reach the storage endpoint {endpoint}", hint="endpoint URL")
    assert state(repo) == before


def test_storage_errors_are_typed_with_their_data() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError, ProfileNotFound

    from cpv._s3 import client as _s3

    def client_error(code: str, status: int, operation: str = "PutObject") -> ClientError:
        response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return ClientError(response, operation)  # type: ignore[arg-type]

    def wrapped(cause: BaseException) -> BaseException:
        try:
            try:
                raise cause
            except BaseException as exc:
                raise PermissionError("Forbidden") from exc  # how s3fs re-raises
        except PermissionError as outer:
            return outer

    where = {"bucket": "b", "endpoint": "http://e"}
    bad = _s3.translate(wrapped(client_error("InvalidAccessKeyId", 403)), **where)
    assert isinstance(bad, errors.StorageCredentialsError) and isinstance(bad, PermissionError)
    assert bad.code == "InvalidAccessKeyId" and bad.bucket == "b"
    missing = _s3.translate(client_error("NoSuchBucket", 404), **where)
    assert isinstance(missing, errors.BucketNotFoundError) and isinstance(missing, LookupError)
    down = _s3.translate(EndpointConnectionError(endpoint_url="http://e"), **where)
    assert isinstance(down, errors.StorageUnreachableError) and isinstance(down, ConnectionError)
    profile = _s3.translate(ProfileNotFound(profile="p"), **where)
    assert isinstance(profile, errors.ProfileNotFoundError) and profile.profile == "p"

    # A bare 403 from a HEAD request says nothing: one listing call learns the real code.
    def list_bucket() -> None:
        raise client_error("SignatureDoesNotMatch", 403, "ListObjectsV2")

    learned = _s3.translate(client_error("403", 403, "HeadObject"), **where, diagnose=list_bucket)
    assert isinstance(learned, errors.StorageCredentialsError)
    assert learned.code == "SignatureDoesNotMatch"
    assert _s3.translate(RuntimeError("not botocore"), **where) is None


# --- local files ------------------------------------------------------------------------------
def _unwritable_homes(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    homes = [a_file / "cpv"]  # root cannot create a directory under a regular file either
    try:
        os.mkdir("/sys/cpv-probe")  # read-only sysfs refuses even root, where mounted so
        os.rmdir("/sys/cpv-probe")
    except OSError:
        homes.append(Path("/sys/cpv-home"))
    return homes


def test_init_with_an_unwritable_cpv_home(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for home in _unwritable_homes(tmp_path):
        proc = run_cpv("init", "acme/m", cwd=work, env={"CPV_HOME": str(home)}, check=False)
        assert_one_error(proc, "cannot", str(home), hint="Set CPV_HOME to a writable directory")
        assert list(work.iterdir()) == []  # no half-made repository


def test_full_disk_and_read_only_paths_are_os_errors() -> None:
    import errno

    from cpv.domain.os_errors import os_error

    full = os_error(OSError(errno.ENOSPC, "No space left on device", "/data/x"))
    assert isinstance(full, errors.DiskFullError) and isinstance(full, OSError)
    assert full.errno == errno.ENOSPC and full.path == "/data/x"
    read_only = os_error(OSError(errno.EROFS, "Read-only file system", "/ro/x"))
    assert isinstance(read_only, errors.PathNotWritableError)
    assert isinstance(read_only, PermissionError) and read_only.path == "/ro/x"
    assert os_error(OSError(errno.ENOENT, "No such file")) is None


# --- git remotes ------------------------------------------------------------------------------
def test_push_refused_by_a_server_hook_shows_the_hooks_words(repo: Path) -> None:
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    bare = Path(git(repo, "remote", "get-url", "origin").strip())
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'POLICY: pushes need a ticket number' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = state(repo)
    proc = run_cpv("-C", str(repo), "push", check=False)
    assert_one_error(proc, "refused the push: POLICY: pushes need a ticket number", hint="rules")
    assert state(repo) == before
    from cpv.ops.push import push

    with pytest.raises(errors.HookRejectedError) as info:
        push(repo)
    assert info.value.hook_output == "POLICY: pushes need a ticket number"
    # the refused refs: the branch, the version, and the deletion protocol's fence token
    assert sorted(info.value.refs) == ["refs/cpv/fence", "refs/heads/main", "refs/tags/model/v0.1"]


@pytest.mark.parametrize(
    ("ssh_says", "error_type", "in_error", "hint"),
    [
        (
            "No ED25519 host key is known for git.example.com and you have requested strict "
            "checking.\nHost key verification failed.",
            errors.HostKeyError,
            "SSH host key of git.example.com",
            "ssh-keyscan git.example.com",
        ),
        (
            "git@git.example.com: Permission denied (publickey).",
            errors.RemoteAccessDeniedError,
            "Permission denied",
            "SSH public key",
        ),
        (
            "ERROR: Repository not found.",
            errors.RemoteNotFoundError,
            "does not exist",
            "Create the repository",
        ),
    ],
)
def test_git_remote_failures_are_typed(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ssh_says: str,
    error_type: type[errors.RemoteError],
    in_error: str,
    hint: str,
) -> None:
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{ssh_says}\nEOF\nexit 255\n")
    fake_ssh.chmod(0o755)
    url = "ssh://git@git.example.com/acme/m.git"
    git(repo, "remote", "set-url", "origin", url)
    write_checkpoint(repo, b"weights")
    ModelCheckpoints(repo).tag()
    before = state(repo)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    proc = run_cpv("-C", str(repo), "push", check=False)
    assert_one_error(proc, in_error, hint=hint)
    assert state(repo) == before
    from cpv.ops.push import push

    with pytest.raises(error_type) as info:
        push(repo)
    assert info.value.url == url


# --- the CLI's last resort ---------------------------------------------------------------------
def test_an_unexpected_exception_is_one_line_without_traceback(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cpv.cli.main import main
    from cpv.core.repo import ModelRepo

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the bug\nspans lines")

    monkeypatch.setattr(ModelRepo, "open", broken)
    with pytest.raises(SystemExit) as exit_info:
        main(["-C", str(repo), "list"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "Error: unexpected RuntimeError: the bug spans lines",
        "Hint: Rerun with CPV_DEBUG=1 to see the traceback, and report it.",
    ]
    monkeypatch.setenv("CPV_DEBUG", "1")
    with pytest.raises(RuntimeError, match="the bug"):
        main(["-C", str(repo), "list"])


def test_markup_like_text_in_an_error_is_printed_as_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cpv.cli.render import base as render

    render.error("refs/heads/main [remote rejected] (hook declined)", "see [bold]x[/]")
    assert capsys.readouterr().err.splitlines() == [
        "Error: refs/heads/main [remote rejected] (hook declined)",
        "Hint: see [bold]x[/]",
    ]


def test_a_closed_pipe_ends_quietly(repo: Path) -> None:
    for i in range(3):
        write_checkpoint(repo, f"weights {i}".encode())
        ModelCheckpoints(repo).tag()
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before cpv writes a byte (`cpv list | head -0`)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "cpv", "-C", str(repo), "list"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 1


# --- DVC stays quiet ---------------------------------------------------------------------------
def _run_on_a_terminal(*args: str, cwd: Path) -> str:
    """Run ``cpv ARGS`` with stdout and stderr on a pseudo-terminal; all it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cpv", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={k: v for k, v in os.environ.items() if k != "CI"},
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.s3
def test_dvc_never_writes_to_the_terminal(tmp_path: Path, s3_user_config: str) -> None:
    run_cpv("init", "acme/m", cwd=tmp_path)
    repo = tmp_path / "m"
    write_checkpoint(repo, os.urandom(2 << 20))
    (repo / "data" / "train" / "rows.txt").write_text("a\nb\n")
    output = _run_on_a_terminal("tag", "--kind", "all", "-m", "first", cwd=repo)
    output += _run_on_a_terminal("push", cwd=repo)
    write_checkpoint(repo, os.urandom(2 << 20))
    output += _run_on_a_terminal("tag", "-m", "second", cwd=repo)
    output += _run_on_a_terminal("push", cwd=repo)
    for chatter in DVC_CHATTER:
        assert chatter not in output, output
    lines = [line.strip() for line in output.replace("\r", "\n").splitlines()]
    assert "!" not in lines and not any(line.startswith("0%") for line in lines), output
    assert "created model/v0.1" in output and "pushed" in output
