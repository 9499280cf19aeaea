"""``cpv completion bash|zsh|fish``: the shell script that completes cpv's commands, options,
and the versions and aliases of the repository in the current directory (or ``-C``'s).

The script is click's: the shell runs ``cpv`` with ``_CPV_COMPLETE`` set and the words typed
so far, and click answers with the candidates; versions and aliases come from
:func:`complete_version` and :func:`complete_alias`, given to the arguments that take them.
"""

from __future__ import annotations

from pathlib import Path

import click
from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")
_WORDS = ("latest", "best")


def _repo_dir(ctx: click.Context) -> Path:
    root = ctx.find_root()
    return Path(root.params.get("directory") or ".").expanduser()


def _names(ctx: click.Context) -> tuple[list[str], list[str]]:
    """(version names, alias names) of the repository here; nothing when there is none or it
    cannot be read (a completion never fails, it offers nothing)."""
    try:
        from cpv.core import refs
        from cpv.core.repo import ModelRepo

        repo = ModelRepo.open(_repo_dir(ctx))
        tags = [t.name for t in repo.git.list_tags("model", "data")]
        current = refs.aliases(repo)
    except Exception:  # noqa: BLE001 - any failure: no candidates
        return [], []
    bare = sorted({t.split("/", 1)[1] for t in tags if "/" in t})
    aliases = sorted(name for name, move in current.items() if move.tag)
    return [*bare, *sorted(tags)], aliases


def complete_version(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Versions (``v0.3``, ``model/v0.3``), ``latest``, ``best`` and the aliases that point
    at a version, starting with what was typed."""
    versions, aliases = _names(ctx)
    words = [*versions, *aliases, *_WORDS] if versions else []
    return [CompletionItem(w) for w in words if w.startswith(incomplete)]


def complete_alias(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The aliases of the repository here, starting with what was typed."""
    _, aliases = _names(ctx)
    return [CompletionItem(a) for a in aliases if a.startswith(incomplete)]


@click.command(short_help="Print the shell completion script (bash, zsh, fish).")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the script that completes cpv's commands, options, versions and aliases in
    SHELL. Load it from your shell's startup file, e.g. for bash:
    eval "$(cpv completion bash)"."""
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    completer = get_completion_class(shell)
    assert completer is not None  # SHELLS are click's own
    script = completer(root, {}, "cpv", "_CPV_COMPLETE").source()
    click.echo(script if script.endswith("\n") else script + "\n", nl=False)
