"""``cpv configure``, ``cpv doctor`` and ``cpv remote``: parse, call the library, render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from cpv.cli.render import base as render
from cpv.cli.render import setup as render_setup
from cpv.domain.errors import ChecksFailed, CpvError, UsageError

if TYPE_CHECKING:
    from cpv.api.managers import CheckpointManager


def _cwd(ctx: click.Context) -> Path:
    path = getattr(ctx.obj, "path", None)
    return Path(path) if path else Path.cwd()


def _model_root(ctx: click.Context) -> Path | None:
    """The model repository the command runs in, if any."""
    from cpv.core.repo import ModelRepo

    try:
        return ModelRepo.open(_cwd(ctx)).root
    except CpvError:
        return None


def _show(as_json: bool, root: Path | None) -> None:
    from cpv.ops.configure import show_settings

    view = show_settings(model_root=root)
    if as_json:
        render.print_json(view.model_dump(mode="json"))
        return
    where = (
        view.config_path
        if view.config_exists
        else f"{view.config_path} (absent: embedded local default)"
    )
    render.console.print(f"Settings from {where}, with the CPV_* environment on top")
    creds = view.credentials_source
    if view.stored_credentials_path:
        creds = f"{creds} (stored: {view.stored_access_key_id} / secret {view.stored_secret_access_key})"
    render_setup.settings_table(view.config, credentials=creds, sources=view.sources)
    render_setup.model_settings(view.sources)
    render_setup.webhooks(view.webhooks, view.webhook_failures)
    for problem in view.permission_problems:
        render.console.print(f"[yellow]warning:[/] {escape(problem)}")


def _webhooks(
    add: tuple[str, ...], remove: tuple[str, ...], events: tuple[str, ...], fmt: str | None,
    as_json: bool, test: bool,
) -> None:  # fmt: skip
    """``--webhook`` / ``--remove-webhook`` / ``--test-webhook``: change the webhooks, say
    what changed, then test them."""
    from cpv.ops.configure import change_webhooks, ping_webhooks

    urls = [u for u in add if u != "-"]
    if "-" in add:  # from stdin: a URL on the command line is visible in `ps` and history
        urls += [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if not urls:
            raise UsageError("--webhook -: no URL on standard input")
    result = change_webhooks(add=urls, events=events, fmt=fmt, remove=remove)
    if test:
        result.tested = ping_webhooks()
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render_setup.webhook_changes(result)
    failed = [t for t in result.tested if not t.ok]
    if failed:
        raise ChecksFailed(
            f"{len(failed)} webhook(s) did not take the test message: "
            + "; ".join(f"{t.id}: {t.reason}" for t in failed),
            hint="Check the URL with the service (a 404 or 403: revoked or mistyped), then "
            "add it again with `cpv configure --webhook URL`.",
        )


@click.command(short_help="Set up storage, credentials, Git host, webhooks.")
@click.option("--show", is_flag=True, help="Print the current settings (secrets masked) and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--non-interactive", is_flag=True, help="Take every value from options; ask nothing.")
@click.option(
    "--provider",
    help="Storage provider: aws, r2, b2, wasabi, digitalocean, minio, custom, local (or s3, do, spaces, cloudflare, backblaze).",
)
@click.option("--bucket", help="Bucket name; each model goes under <bucket>/<team>/<model>.")
@click.option(
    "--region", help="Region (aws: default region; b2/wasabi/digitalocean: part of the endpoint)."
)
@click.option("--account-id", help="Cloudflare account id (r2).")
@click.option(
    "--endpoint-url", help="S3 endpoint URL (minio/custom; overrides a preset's endpoint)."
)
@click.option("--profile", help="Use this AWS profile (~/.aws/credentials) instead of stored keys.")
@click.option(
    "--access-key-id",
    envvar="CPV_ACCESS_KEY_ID",
    help="Access key id to store in $CPV_HOME/credentials (env: CPV_ACCESS_KEY_ID).",
)
@click.option(
    "--secret-access-key",
    envvar="CPV_SECRET_ACCESS_KEY",
    help="Secret key to store (prefer env CPV_SECRET_ACCESS_KEY: a flag is visible in `ps`).",
)
@click.option(
    "--git-remote-template",
    help="Git remote per model with {team} and {model}, e.g. git@bitbucket.org:acme/{team}-{model}.git ('' = local default).",
)
@click.option("--ssh-key", help="Private SSH key used for the Git host.")
@click.option(
    "--generate-ssh-key",
    is_flag=True,
    help="Create an ed25519 key at --ssh-key if it does not exist.",
)
@click.option("--no-verify", is_flag=True, help="Save without checking the storage and Git host.")
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the storage endpoint.",
)
@click.option(
    "--webhook",
    "webhooks",
    multiple=True,
    metavar="URL",
    help="Add a webhook told after tag, push, promote, demote and gc ('-': read the URL from "
    "stdin, unseen by `ps`). Repeatable.",
)
@click.option(
    "--events",
    multiple=True,
    metavar="LIST",
    help="With --webhook: the events it takes, comma-separated: tag,push,promote,demote,gc "
    "(default: all).",
)
@click.option(
    "--format",
    "webhook_format",
    type=click.Choice(["slack", "teams", "json"]),
    help="With --webhook: the payload (default: slack or teams from the URL's host, else json).",
)
@click.option(
    "--remove-webhook",
    multiple=True,
    metavar="ID|URL",
    help="Remove a webhook, by the id `--show` prints or by its URL. Repeatable.",
)
@click.option(
    "--test-webhook",
    is_flag=True,
    help="Send a test message to every webhook and say which delivered (exit 1 if one failed).",
)
@click.pass_context
def configure(
    ctx: click.Context, show: bool, as_json: bool, non_interactive: bool, provider: str | None, bucket: str | None,
    region: str | None, account_id: str | None, endpoint_url: str | None, profile: str | None,
    access_key_id: str | None, secret_access_key: str | None, git_remote_template: str | None,
    ssh_key: str | None, generate_ssh_key: bool, no_verify: bool, timeout: float,
    webhooks: tuple[str, ...], events: tuple[str, ...], webhook_format: str | None,
    remove_webhook: tuple[str, ...], test_webhook: bool,
) -> None:  # fmt: skip
    """Set up storage, credentials, the Git host and webhooks once per person (asks unless --non-interactive)."""
    from pydantic import SecretStr

    from cpv.ops.configure import ConfigureRequest

    if (events or webhook_format) and not webhooks:
        raise UsageError("--events and --format apply to --webhook URL")
    if webhooks or remove_webhook or test_webhook:
        storage = (non_interactive, provider, bucket, region, account_id, endpoint_url, profile,
                   git_remote_template, ssh_key, generate_ssh_key)  # fmt: skip
        if any(storage):
            raise UsageError(
                "--webhook, --remove-webhook and --test-webhook are not combined with the "
                "storage settings",
                hint="Run `cpv configure --webhook URL` separately from the storage settings.",
            )
        _webhooks(
            webhooks, remove_webhook, events, webhook_format, as_json and not show, test_webhook
        )
        if not show:
            return
    if show:
        _show(as_json, _model_root(ctx))
        return
    if non_interactive:
        if not provider:
            raise UsageError(
                "--non-interactive needs --provider", hint="e.g. --provider aws --bucket NAME."
            )
        if generate_ssh_key:
            _generate_key(ssh_key)
        req = ConfigureRequest(
            provider=provider, bucket=bucket, region=region, account_id=account_id,
            endpoint_url=endpoint_url, profile=profile, access_key_id=access_key_id,
            secret_access_key=SecretStr(secret_access_key) if secret_access_key else None,
            git_remote_template=git_remote_template, ssh_key=ssh_key,
        )  # fmt: skip
        _apply(req, verify=not no_verify, as_json=as_json, timeout=timeout, ask_save=None)
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask questions on",
            hint="Pass --non-interactive with the values as options.",
        )
    from cpv.cli.commands.wizard import QuestionaryPrompter

    run_wizard(QuestionaryPrompter(), verify=not no_verify, as_json=as_json, timeout=timeout)


def _generate_key(path: str | None) -> None:
    from cpv.settings import ssh

    target = Path(path).expanduser() if path else ssh.default_key_path()
    if target.exists():
        return
    public = ssh.generate_key(target, comment="cpv")
    sys.stderr.write(f"Created {target}. Add this public key to your Git host:\n{public}\n")


def run_wizard(
    prompter: Any, *, verify: bool = True, as_json: bool = False, timeout: float = 10.0
) -> None:
    """The interactive flow (tests call it with a scripted or pipe-driven prompter)."""
    from cpv.cli.commands.wizard import ask
    from cpv.settings.config import load_user_config_file

    current = load_user_config_file()
    req = ask(prompter, current=current, say=lambda text: render.console.print(text, markup=False))
    _apply(
        req, verify=verify, as_json=as_json, timeout=timeout,
        ask_save=lambda: prompter.confirm("Verification failed. Save these settings anyway?", default=False),
    )  # fmt: skip


def _apply(req: Any, *, verify: bool, as_json: bool, timeout: float, ask_save: Any) -> None:
    from cpv.ops.configure import VerificationFailed, configure

    try:
        result = configure(req, verify=verify, timeout=timeout)
    except VerificationFailed as exc:
        report = exc.result.report
        if ask_save is not None and report is not None:
            render_setup.doctor_report(report)
            if ask_save():
                result = configure(req, verify=verify, save_if_failed=True, timeout=timeout)
                _render_result(result, as_json)
                return
        elif as_json:
            render.print_json(exc.result.model_dump(mode="json"))
        elif report is not None:
            render_setup.doctor_report(report)
        raise VerificationFailed(
            exc.message + "; nothing was saved", hint=exc.hint, result=exc.result
        ) from None
    _render_result(result, as_json)


def _render_result(result: Any, as_json: bool) -> None:
    if as_json:
        render.print_json(result.model_dump(mode="json"))
        return
    if result.report is not None:
        render_setup.doctor_report(result.report)
    con = render.console
    con.print(f"Saved {result.config_path}")
    if result.credentials_path:
        con.print(f"Stored credentials in {result.credentials_path} (mode 0600)")
    if result.removed_stored_credentials:
        con.print("Removed the keys stored by cpv: the chosen profile is used instead")
    source = result.report.credentials_source if result.report else None
    render_setup.settings_table(result.config, credentials=source)


@click.command(short_help="Check config, credentials, storage, Git and SSH.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the storage endpoint.",
)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool, timeout: float) -> None:
    """Check config, credentials, bucket access, Git remote, SSH key and tool versions."""
    from cpv.ops.doctor import doctor as run_doctor

    report = run_doctor(_cwd(ctx), timeout=timeout)
    if as_json:
        render.print_json({**report.model_dump(mode="json"), "ok": report.ok})
    else:
        render_setup.doctor_report(report)
    if not report.ok:
        failed = report.failures()
        raise ChecksFailed(
            f"{len(failed)} check(s) failed: "
            + "; ".join(f"{c.name}: {c.message}" for c in failed),
            hint=failed[0].hint or None,
        )


@click.group(short_help="Show or move the model's storage remote.")
def remote() -> None:
    """Show or move the model's storage remote."""


def _manager(ctx: click.Context) -> CheckpointManager:
    """The combined manager of the repository here, with the CLI's progress view."""
    from cpv.api.managers import CombinedCheckpoints

    return CombinedCheckpoints(_cwd(ctx), progress=getattr(ctx.obj, "progress", None))


@remote.command("show", short_help="Print the model's storage and Git remotes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def remote_show(ctx: click.Context, as_json: bool) -> None:
    """Print the model's DVC storage remote and Git remote."""
    state = _manager(ctx).storage().model_dump(mode="json")
    if as_json:
        render.print_json(state)
        return
    for name, value in state.items():
        render.console.print(f"[bold]{name}[/]\t{escape(str(value or '(none)'))}")


@remote.command("set", short_help="Move the model's storage, copying every object.")
@click.argument("url", required=False)
@click.option(
    "--all-versions/--current-only",
    default=True,
    help="Copy the objects of every tagged version (the default), or only the current commit's "
    "(older versions then stay readable only while the old storage exists).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be copied; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def remote_set(
    ctx: click.Context, url: str | None, all_versions: bool, dry_run: bool, as_json: bool
) -> None:
    """Move the model's storage to URL (default: the configured storage), copying and verifying its objects."""
    result = _manager(ctx).move_storage(url, all_versions=all_versions, dry_run=dry_run)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
        return
    con = render.console
    verb = "Would copy" if dry_run else "Copied"
    con.print(
        f"{verb} {result.objects_to_upload} of {result.objects_total} objects "
        f"({len(result.versions)} version(s)) from {result.old_url} to {result.new_url}"
    )
    if not dry_run:
        con.print(
            f"Verified every version's objects at {result.new_url}; committed {result.commit and result.commit[:10]}"
        )
        if result.index_warning:
            render.warning(result.index_warning)
        con.print("Publish the change with `cpv push`.")
