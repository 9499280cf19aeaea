"""``cpv get``: one version's bytes by name, without a clone (parse, call, render)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.versions_cmds import ONE_KIND_CHOICE

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command()
@click.argument("spec", metavar="TEAM/MODEL[@REF]")
@click.argument("dest", required=False, type=click.Path(file_okay=False))
@click.option(
    "--kind",
    type=ONE_KIND_CHOICE,
    default="model",
    show_default=True,
    help="Which kind's version: the weights (model) or the data.",
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=None, help="Parallel downloads.")
@click.option(
    "--force",
    is_flag=True,
    help="Let a non-empty DEST be made to hold exactly this version (its other files go).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was fetched as JSON.")
@click.pass_obj
def get(
    obj: CliContext, spec: str, dest: str | None, kind: str, jobs: int | None, force: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Fetch one version's files (REF: v0.3, latest, best, an alias; default latest) into DEST
    (default ./MODEL), hash-verified, without cloning the repository."""
    from cpv.ops.get import get_version
    from cpv.progress import reporting

    from . import render

    with reporting(obj.progress):
        result = get_version(spec, dest, kind=kind, jobs=jobs, force=force)
    if as_json:
        render.print_json(result.model_dump(mode="json"))
        return
    source = (
        f"{result.downloaded} object(s) downloaded"
        if result.downloaded
        else "every byte from the local cache"
    )
    render._say(
        f"{result.model}@{result.ref} = {result.tag}: {result.files} file(s), "
        f"{result.bytes} bytes in {result.path} (hash-verified; {source})"
    )


def register(cli: click.Group) -> None:
    """Add ``get`` to the ``cpv`` command group."""
    cli.add_command(get)
