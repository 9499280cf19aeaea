"""``cpv init``, ``cpv status`` and ``cpv repair``: parse, call the library, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.options import json_option, recursive_option

if TYPE_CHECKING:
    from cpv.cli.main import CliContext
    from cpv.domain.results import RepairResult


@click.command(short_help="Create a model repository TEAM/MODEL.")
@click.argument("model_id", metavar="TEAM/MODEL")
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option(
    "--template",
    default=None,
    help="Training scaffold to render (see `cpv templates`); 'none' for none.",
)
@click.option(
    "--storage",
    default=None,
    help="Storage root URL or path; the model goes to <storage>/<team>/<model>.",
)
@click.option(
    "--git-remote",
    default=None,
    help="Git remote URL for this model (default: from `cpv configure`).",
)
@click.option(
    "--no-verify",
    is_flag=True,
    help="Do not check that an s3:// storage's bucket exists before creating the model.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def init(
    obj: CliContext,
    model_id: str,
    path: str | None,
    template: str | None,
    storage: str | None,
    git_remote: str | None,
    no_verify: bool,
    as_json: bool,
) -> None:
    """Create a model repository TEAM/MODEL (in ./MODEL unless PATH is given)."""
    from cpv.api.managers import CombinedCheckpoints
    from cpv.cli.render import base as render
    from cpv.settings.config import parse_model_id

    team, model = parse_model_id(model_id)
    _, result = CombinedCheckpoints.init(
        team=team,
        model=model,
        path=obj.path / (path or model),
        storage=storage,
        git_remote=git_remote,
        template=template,
        verify=not no_verify,
        progress=obj.progress,
    )
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        render.console.print(f"created {team}/{model} in {result.path}")


@click.command(short_help="What changed since the latest versions; what is unpushed.")
@click.option("--no-remote", is_flag=True, help="Do not contact the git remote.")
@recursive_option("status")
@json_option("the status")
@click.pass_obj
def status(obj: CliContext, no_remote: bool, recursive: bool, old_all: bool, as_json: bool) -> None:
    """What changed since the latest versions, and what is not pushed yet."""
    from cpv.cli.render import base as render

    if recursive or old_all:
        from cpv.api.managers import manager_for
        from cpv.cli.commands._batch import run_all
        from cpv.core.batch import refuse_inside_repo

        refuse_inside_repo(obj.path, "status")
        run_all(
            obj,
            "status",
            lambda p: manager_for("all", p).status(remote=not no_remote),
            as_json=as_json,
        )
        return
    result = obj.manager("all").status(remote=not no_remote)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.status_result(result)


@click.command(short_help="Show, or discard, an interrupted change's journal.")
@click.option(
    "--discard",
    is_flag=True,
    help="Move the journal aside to .git/cpv/txn.discarded-<timestamp>.json (never deleted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def repair(obj: CliContext, discard: bool, as_json: bool) -> None:
    """Show the journal of an interrupted change that could not be replayed; --discard drops it.

    Read-only commands (list, show, diff, status) work while such a journal is present.
    """
    from cpv.cli.render import base as render
    from cpv.ops.repair import repair as repair_journal

    result = repair_journal(obj.path, discard=discard)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
    else:
        for line in _repair_lines(result):
            render.console.print(line, markup=False)


def _repair_lines(res: RepairResult) -> list[str]:
    if not res.pending:
        return [f"no interrupted change is journaled ({res.journal} is absent)"]
    if not res.readable:
        lines = [f"{res.journal} is not a journal cpv can read: {res.raw!r}"]
    else:
        started = f"started {res.started:%Y-%m-%d %H:%M:%S} UTC" if res.started else "started ?"
        lines = [f"{res.journal}: an interrupted {res.op} ({started}, pid {res.pid or '?'})"]
        for label, value in (
            ("branch head before", (res.head or "")[:12]),
            ("commit made", (res.commit or "")[:12]),
            ("tags", ", ".join(res.tags)),
            ("files", ", ".join(res.files)),
            ("checked out again", ", ".join(res.checkout)),
        ):
            if value:
                lines.append(f"  {label}: {value}")
    if res.discarded_to:
        lines.append(f"moved aside to {res.discarded_to}; commands work again")
    else:
        lines.append("`cpv repair --discard` moves it aside (kept, never deleted)")
    return lines
