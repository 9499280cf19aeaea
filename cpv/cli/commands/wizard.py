"""The interactive ``cpv configure``: questions with defaults from the current settings.

The questions go through a small :class:`Prompter` so tests can drive them (a scripted
prompter, or questionary itself on a prompt_toolkit pipe input). Answers become a
:class:`~cpv.ops.configure.ConfigureRequest`; validation reuses the library's validators.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from cpv.domain.errors import Cancelled, CpvError
from cpv.ops.configure import ConfigureRequest
from cpv.settings import providers, ssh
from cpv.settings.config import UserConfig, validate_remote_template
from cpv.settings.credentials import load_stored, mask
from cpv.settings.urls import git_kind

Validator = Callable[[str], str | None]  # returns an error message, or None when valid


def fit(text: str, *, lead: int = 0) -> str:
    """``text`` broken between words to the terminal's width: prompt_toolkit would wrap
    wherever the edge falls, mid-word. ``lead``: columns the first line already uses (the
    ``? `` questionary puts before a question). A word wider than the line stays whole."""
    columns = max(shutil.get_terminal_size().columns - 1, 20)
    out = []
    for i, line in enumerate(text.splitlines() or [""]):
        pad = " " * lead if i == 0 else ""
        lines = textwrap.wrap(
            line,
            columns,
            initial_indent=pad,
            break_long_words=False,
            break_on_hyphens=False,
        )
        out.append("\n".join(lines or [pad])[len(pad) :])
    return "\n".join(out)


def _question(message: str) -> str:
    """A question that needs more than one line is answered on the line below it."""
    fitted = fit(message, lead=2)
    return fitted + "\n" if "\n" in fitted else fitted


class Prompter(Protocol):
    def select(
        self, message: str, *, choices: list[tuple[str, str]], default: str | None
    ) -> str: ...

    def text(
        self, message: str, *, default: str = "", validate: Validator | None = None
    ) -> str: ...

    def secret(self, message: str, *, validate: Validator | None = None) -> str: ...

    def confirm(self, message: str, *, default: bool) -> bool: ...


class QuestionaryPrompter:
    """:class:`Prompter` on questionary; ``input``/``output`` are for tests (pipe input)."""

    def __init__(self, *, input: Any = None, output: Any = None) -> None:
        self._io = {k: v for k, v in (("input", input), ("output", output)) if v is not None}

    def _ask(self, question: Any) -> Any:
        try:
            answer = question.unsafe_ask()
        except (KeyboardInterrupt, EOFError):
            raise Cancelled("configuration cancelled") from None
        return answer

    @staticmethod
    def _validator(validate: Validator | None) -> Any:
        if validate is None:
            return None
        return lambda text: validate(text) or True

    def select(self, message: str, *, choices: list[tuple[str, str]], default: str | None) -> str:
        import questionary

        options = [questionary.Choice(title=title, value=value) for value, title in choices]
        chosen = next((c for c in options if c.value == default), None)
        return str(
            self._ask(
                questionary.select(_question(message), choices=options, default=chosen, **self._io)
            )
        )

    def text(self, message: str, *, default: str = "", validate: Validator | None = None) -> str:
        import questionary

        q = questionary.text(
            _question(message), default=default, validate=self._validator(validate), **self._io
        )
        return str(self._ask(q)).strip()

    def secret(self, message: str, *, validate: Validator | None = None) -> str:
        import questionary

        q = questionary.password(_question(message), validate=self._validator(validate), **self._io)
        return str(self._ask(q)).strip()

    def confirm(self, message: str, *, default: bool) -> bool:
        import questionary

        return bool(self._ask(questionary.confirm(_question(message), default=default, **self._io)))


def _check(fn: Callable[[str], Any], *, optional: bool = False) -> Validator:
    def validate(value: str) -> str | None:
        if optional and not value.strip():
            return None
        try:
            fn(value.strip())
        except CpvError as exc:
            return exc.message + (f" ({exc.hint})" if exc.hint else "")
        return None

    return validate


def _required(what: str) -> Validator:
    return lambda value: None if value.strip() else f"{what} is required"


def ask(prompter: Prompter, *, current: UserConfig, say: Callable[[str], None]) -> ConfigureRequest:
    """Ask every question (defaults: ``current``) and return the request to apply."""
    st = current.storage
    provider = prompter.select(
        "Storage provider",
        choices=[(p.name, p.title) for p in providers.PRESETS.values()],
        default=st.provider if st.provider != "local" else "aws",
    )
    p = providers.preset(provider)
    req: dict[str, Any] = {"provider": provider}
    if p.name != "local":
        same = st.provider == p.name
        req["bucket"] = prompter.text(
            "Bucket", default=st.bucket or "", validate=_check(providers.validate_bucket)
        )
        if p.needs_account_id:
            req["account_id"] = prompter.text(
                "Cloudflare account id (32 hex characters)",
                default=(st.account_id or "") if same else "",
                validate=_required("the account id"),
            )
        if p.regions:
            req["region"] = prompter.select(
                "Region",
                choices=[(r, r) for r in p.regions],
                default=(st.region if same else None) or p.default_region,
            )
        elif not p.fixed_region:
            default = (st.region if same else None) or (
                providers.aws_default_region(st.profile) if p.name == "aws" else p.default_region
            )
            req["region"] = (
                prompter.text(
                    f"Region ({p.region_hint})" if p.region_hint else "Region",
                    default=default or "",
                )
                or None
            )
        if p.needs_endpoint:
            req["endpoint_url"] = prompter.text(
                "Endpoint URL",
                default=(st.endpoint_url or "") if same else "",
                validate=_check(providers.validate_endpoint),
            )
        req.update(_ask_credentials(prompter, current=current))
    req.update(_ask_git(prompter, current=current, say=say))
    return ConfigureRequest(**req)


def _profile_title(profiles: list[str]) -> str:
    """The profiles by name when they fit on the choice's line, else how many there are."""
    if not profiles:
        return "Use an AWS profile"
    named = f"Use an AWS profile ({', '.join(profiles)})"
    fits = len(named) <= shutil.get_terminal_size().columns - 4  # questionary's pointer
    return named if fits else f"Use an AWS profile ({len(profiles)} found)"


def _ask_credentials(prompter: Prompter, *, current: UserConfig) -> dict[str, Any]:
    from cpv._s3.client import available_profiles

    stored = load_stored()
    profiles = available_profiles()
    choices: list[tuple[str, str]] = []
    if stored:
        choices.append(("keep", f"Keep the stored keys ({mask(stored.access_key_id)})"))
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        choices.append(
            ("env", "Use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment")
        )
    choices.append(("profile", _profile_title(profiles)))
    choices.append(("keys", "Enter keys (stored in cpv's credentials file, mode 0600)"))
    default = next(
        value for value, ok in (
            ("keep", stored is not None),
            ("env", bool(os.environ.get("AWS_ACCESS_KEY_ID"))),
            ("profile", bool(current.storage.profile or profiles)),
            ("keys", True),
        ) if ok
    )  # fmt: skip
    how = prompter.select("Credentials", choices=choices, default=default)
    if how == "profile":
        if profiles:
            name = prompter.select(
                "AWS profile",
                choices=[(n, n) for n in profiles],
                default=current.storage.profile
                if current.storage.profile in profiles
                else profiles[0],
            )
        else:
            name = prompter.text("AWS profile name", default=current.storage.profile or "default")
        return {"profile": name}
    if how == "keys":
        key = prompter.text("Access key id", validate=_required("the access key id"))
        secret = prompter.secret("Secret access key", validate=_required("the secret access key"))
        return {"access_key_id": key, "secret_access_key": SecretStr(secret)}
    return {}


def _ask_git(
    prompter: Prompter, *, current: UserConfig, say: Callable[[str], None]
) -> dict[str, Any]:
    template = prompter.text(
        "Git remote for each model, with {team} and {model} "
        "(e.g. git@bitbucket.org:acme/{team}-{model}.git; empty: local bare repos under CPV_HOME)",
        default=current.git.remote_template or "",
        validate=_check(validate_remote_template, optional=True),
    )
    out: dict[str, Any] = {"git_remote_template": template}
    if not template or git_kind(template).local:
        out["ssh_key"] = current.git.ssh_key or ""
        return out
    key = prompter.text(
        "SSH key for the Git host", default=current.git.ssh_key or str(ssh.default_key_path())
    )
    path = Path(key).expanduser()
    if not path.exists() and prompter.confirm(
        f"{path} does not exist. Generate an ed25519 key there?", default=True
    ):
        public = ssh.generate_key(path, comment="cpv")
        say(fit(f"Created {path}. Add this public key to your Git host:"))
        say(public)  # whole on its line, to copy
    status = ssh.check_key(path)
    if not status.ok:
        say(fit(f"Warning: {status.message}. {status.hint}"))
    out["ssh_key"] = str(path)
    return out
