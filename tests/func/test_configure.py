"""`cpv configure`: non-interactive and interactive flows against a real (moto) S3 endpoint."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from cpv.cli.commands.setup import run_wizard
from cpv.domain.errors import CpvError
from cpv.settings import credentials, ssh
from cpv.settings.config import user_config_path
from cpv.settings.config_env import load_user_config
from tests.conftest import run_cpv

SECRET = "SENTINEL-cfg-secret-5d1e0b7a"
KEY_ID = "AKIACONFIGTEST0001"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- non-interactive ----------------------------------------------------------------------


@pytest.mark.moto_only  # moto accepts any key; a real gateway checks them
def test_non_interactive_verifies_and_saves(s3_endpoint: str, s3_bucket: str) -> None:
    proc = run_cpv(
        "configure", "--non-interactive", "--provider", "minio", "--bucket", s3_bucket,
        "--endpoint-url", s3_endpoint, "--access-key-id", KEY_ID, "--json",
        env={"CPV_SECRET_ACCESS_KEY": SECRET},
    )  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["saved"] is True
    assert {c["name"]: c["status"] for c in out["report"]["checks"]}["storage"] == "ok"
    cfg = load_user_config()
    assert (cfg.storage.provider, cfg.storage.bucket, cfg.storage.endpoint_url) == (
        "minio",
        s3_bucket,
        s3_endpoint,
    )
    assert cfg.storage.checksum_when_required is True
    assert SECRET not in user_config_path().read_text() and SECRET not in proc.stdout + proc.stderr
    cred_file = credentials.credentials_path()
    assert _mode(cred_file) == 0o600 and _mode(cred_file.parent) == 0o700
    assert SECRET in cred_file.read_text()

    shown = run_cpv("configure", "--show", "--json")
    view = json.loads(shown.stdout)
    assert SECRET not in shown.stdout
    assert view["stored_secret_access_key"] == "****" + SECRET[-4:]
    assert view["stored_access_key_id"] == "****" + KEY_ID[-4:]
    # AWS_* in the environment (test isolation sets them) win over stored keys, and doctor says so.
    assert view["credentials_source"].startswith("env:")


def test_wrong_bucket_is_one_clear_line_and_saves_nothing(s3_endpoint: str, s3_bucket: str) -> None:
    proc = run_cpv(
        "configure", "--non-interactive", "--provider", "minio", "--bucket", "no-such-bucket",
        "--endpoint-url", s3_endpoint, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        f"Error: storage: bucket 'no-such-bucket' does not exist at {s3_endpoint}; nothing was saved"
    ]
    assert not user_config_path().exists()


def test_dead_endpoint_fails_but_no_verify_saves(s3_bucket: str) -> None:
    args = ["configure", "--non-interactive", "--provider", "custom", "--bucket", s3_bucket,
            "--endpoint-url", "http://127.0.0.1:9", "--timeout", "2"]  # fmt: skip
    proc = run_cpv(*args, check=False)
    assert proc.returncode == 1
    assert "cannot reach the storage endpoint http://127.0.0.1:9" in proc.stderr
    assert not user_config_path().exists()
    run_cpv(*args, "--no-verify")
    assert load_user_config().storage.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--git-remote-template", "git@host:acme/{team}-{name}.git"],
            "unknown placeholder {name}",
        ),
        (["--git-remote-template", "git@host:acme/{team}.git"], "no {model} placeholder"),
        (
            ["--git-remote-template", "https://me:tok3n@host/{team}/{model}.git"],
            "contains a password",
        ),
        (["--provider", "gcs"], "unknown storage provider 'gcs'"),
        (["--access-key-id", "AKIAONLY"], "give both"),
    ],
)
def test_bad_values_are_usage_errors(extra: list[str], message: str) -> None:
    proc = run_cpv(
        "configure",
        "--non-interactive",
        "--provider",
        "aws",
        "--bucket",
        "b-1",
        "--no-verify",
        *extra,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "tok3n" not in proc.stderr
    assert not user_config_path().exists()


@pytest.mark.moto_only  # moto accepts any key; a real gateway checks them
def test_rerun_keeps_git_settings_and_profile_replaces_stored_keys(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    base = ["configure", "--non-interactive", "--provider", "minio", "--bucket", s3_bucket,
            "--endpoint-url", s3_endpoint]  # fmt: skip
    template = f"{tmp_path}/git/{{team}}-{{model}}.git"
    run_cpv(*base, "--git-remote-template", template,
            "--access-key-id", KEY_ID, "--secret-access-key", SECRET, "--no-verify")  # fmt: skip
    assert credentials.load_stored() is not None
    aws = credentials.aws_credentials_path()
    aws.parent.mkdir(parents=True, exist_ok=True)
    aws.write_text("[ml]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    out = json.loads(
        run_cpv(
            *base,
            "--profile",
            "ml",
            "--json",
            env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
        ).stdout
    )
    assert out["removed_stored_credentials"] is True
    assert credentials.load_stored() is None
    cfg = load_user_config()
    assert cfg.git.remote_template == template
    assert cfg.storage.profile == "ml"
    assert out["report"]["credentials_source"] == "flag: AWS profile 'ml'"


def test_show_masks_and_reports_loose_modes() -> None:
    credentials.store_credentials(access_key_id=KEY_ID, secret_access_key=SECRET)
    credentials.credentials_path().chmod(0o644)
    proc = run_cpv("configure", "--show")
    assert SECRET not in proc.stdout
    assert "****" + SECRET[-4:] in proc.stdout
    assert "mode 0644" in proc.stdout and "chmod 600" in proc.stdout


def test_interactive_without_a_terminal_is_refused() -> None:
    proc = run_cpv("configure", check=False)
    assert proc.returncode == 2 and "--non-interactive" in proc.stderr


# --- interactive (scripted prompter) ------------------------------------------------------


class Scripted:
    """A Prompter answering from a list; records each question's default and runs validators."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, Any]] = []

    def _next(
        self, message: str, default: Any, validate: Callable[[str], str | None] | None = None
    ) -> Any:
        self.asked.append((message, default))
        answer = self.answers.pop(0)
        if answer is None:  # "press enter": take the default
            answer = default
        if validate is not None:
            error = validate(str(answer))
            if error:
                raise AssertionError(f"{message}: {error}")
        return answer

    def select(self, message: str, *, choices: list[tuple[str, str]], default: str | None) -> str:
        answer = self._next(message, default)
        assert answer in [value for value, _ in choices], (message, answer, choices)
        return str(answer)

    def text(self, message: str, *, default: str = "", validate: Any = None) -> str:
        return str(self._next(message, default, validate))

    def secret(self, message: str, *, validate: Any = None) -> str:
        return str(self._next(message, None, validate))

    def confirm(self, message: str, *, default: bool) -> bool:
        return bool(self._next(message, default))


@pytest.mark.moto_only  # moto accepts any key; a real gateway checks them
def test_wizard_saves_and_rerun_offers_current_values(
    s3_endpoint: str, s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = Scripted(
        [
            "minio",
            s3_bucket,
            None,
            s3_endpoint,
            "keys",
            KEY_ID,
            SECRET,
            "",
        ]
    )
    run_wizard(first)
    cfg = load_user_config()
    assert (cfg.storage.provider, cfg.storage.bucket, cfg.storage.region) == (
        "minio",
        s3_bucket,
        "us-east-1",
    )
    assert credentials.load_stored() is not None
    out = capsys.readouterr().out
    assert "Saved" in out and SECRET not in out
    assert not first.answers

    second = Scripted([None, None, None, None, None, None])  # enter, enter, ...: keep everything
    run_wizard(second)
    defaults = dict(second.asked)
    assert defaults["Storage provider"] == "minio"
    assert defaults["Bucket"] == s3_bucket
    assert defaults["Endpoint URL"] == s3_endpoint
    assert defaults["Credentials"] == "keep"
    assert load_user_config() == cfg
    assert credentials.load_stored().access_key_id == KEY_ID  # type: ignore[union-attr]


def test_wizard_validation_rejects_bad_bucket() -> None:
    with pytest.raises(AssertionError, match="invalid bucket name"):
        run_wizard(Scripted(["aws", "Not_A_Bucket"]))


def test_wizard_failed_verification_asks_before_saving(s3_endpoint: str) -> None:
    answers = ["minio", "missing-bucket", None, s3_endpoint, "env", ""]
    with pytest.raises(CpvError, match="does not exist"):
        run_wizard(Scripted([*answers, False]))
    assert not user_config_path().exists()
    run_wizard(Scripted([*answers, True]))
    assert load_user_config().storage.bucket == "missing-bucket"


def test_wizard_generates_an_ssh_key_for_a_hosted_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = Path.home() / ".ssh" / "id_cpv"
    run_wizard(
        Scripted(["local", "git@bitbucket.org:acme/{team}-{model}.git", str(key), True]),
        verify=False,
    )
    assert _mode(key) == 0o600
    public = key.with_name("id_cpv.pub").read_text().strip()
    assert public.startswith("ssh-ed25519 ")
    assert public in capsys.readouterr().out
    assert load_user_config().git.ssh_key == str(key)
    assert ssh.check_key(key).ok


# --- interactive (questionary on a real prompt_toolkit pipe) ------------------------------


@pytest.mark.timeout(60)
def test_wizard_through_questionary_keystrokes(s3_endpoint: str, s3_bucket: str) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from cpv.cli.commands.wizard import QuestionaryPrompter

    # "j" (questionary's vi-style down key) rather than an ESC sequence: on a loaded machine
    # prompt_toolkit may split "\x1b[B" and read a lone Escape, and the flow would wait forever.
    down, enter, backspace = "j", "\r", "\x7f"
    providers_order = ["local", "aws", "r2", "b2", "wasabi", "digitalocean", "minio", "custom"]
    keys = [
        down * (providers_order.index("minio") - 1) + enter,  # default is aws; move to minio
        "Bad_Bucket" + enter,  # rejected by validation: stays on the question
        backspace * len("Bad_Bucket") + s3_bucket + enter,
        enter,  # region: default us-east-1
        s3_endpoint + enter,
        enter,  # credentials: default is the environment's AWS_* keys
        enter,  # git remote template: empty = local default
    ]
    with create_pipe_input() as pipe:
        prompter = QuestionaryPrompter(input=pipe, output=DummyOutput())
        for chunk in keys:
            pipe.send_text(chunk)
        run_wizard(prompter)
    cfg = load_user_config()
    assert (cfg.storage.provider, cfg.storage.bucket, cfg.storage.endpoint_url) == (
        "minio",
        s3_bucket,
        s3_endpoint,
    )
    assert yaml.safe_load(user_config_path().read_text())["storage"]["region"] == "us-east-1"
