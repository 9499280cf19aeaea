"""``cpv get``: one version's bytes by name, without a clone (parse, call, render)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cpv.cli.options import ONE_KIND, jobs_option, json_option, kind_option

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


@click.command(short_help="Fetch one version's files by name, without a clone.")
@click.argument("spec", metavar="TEAM/MODEL[@REF]")
@click.argument("dest", required=False, type=click.Path(file_okay=False))
@kind_option(
    choices=ONE_KIND,
    default="model",
    help="Which kind's version: the weights (model) or the data.",
)
@jobs_option("downloads")
@click.option(
    "--force",
    is_flag=True,
    help="Let a non-empty DEST be made to hold exactly this version (its other files go).",
)
@json_option("what was fetched")
@click.pass_obj
def get(
    obj: CliContext, spec: str, dest: str | None, kind: str, jobs: int | None, force: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Fetch one version's files (REF: v0.3, latest, best, an alias; default latest) into DEST
    (default ./MODEL), hash-verified, without cloning the repository."""
    from cpv.cli.render import base as render
    from cpv.domain.progress import reporting
    from cpv.ops.get import get_version

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
    render.say(
        f"{result.model}@{result.ref} = {result.tag}: {result.files} file(s), "
        f"{result.bytes} bytes in {result.path} (hash-verified; {source})"
    )
