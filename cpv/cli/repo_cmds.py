"""``cpv init`` and ``cpv status``: parse, call the manager, render."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command()
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
    from cpv.config import parse_model_id
    from cpv.managers import CombinedCheckpoints

    from . import render

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


@click.command()
@click.option("--no-remote", is_flag=True, help="Do not contact the git remote.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def status(obj: CliContext, no_remote: bool, as_json: bool) -> None:
    """What changed since the latest versions, and what is not pushed yet."""
    from . import render

    result = obj.manager("all").status(remote=not no_remote)
    if as_json:
        render.print_json(result.model_dump(mode="json", by_alias=True))
    else:
        render.status_result(result)


def register(cli: click.Group) -> None:
    """Add ``init`` and ``status`` to the ``cpv`` group."""
    for command in (init, status):
        cli.add_command(command)
