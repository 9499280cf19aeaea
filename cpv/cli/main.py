"""``cpv`` commands. Each parses its arguments, calls the library and renders the result.

The library is the one the Python API offers: the managers of :mod:`cpv.api.managers`
(``ModelCheckpoints`` and its siblings), picked by kind with
:func:`~cpv.api.managers.manager_for`. Commands live in modules named after their family:
``versions_cmds`` (tag, list, show, diff, revert), ``sync_cmds`` (push, pull, clone),
``repo_cmds`` (init, status), ``setup_cmds`` (configure, doctor, remote), ``template_cmds``.

Exit codes (mapped here, in one place): 0 ok, 1 a :class:`CpvError`, 2 usage errors,
130 interrupted. Tracebacks only with ``CPV_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cpv._version import __version__
from cpv.domain.errors import EXIT_ERROR, EXIT_INTERRUPTED, CpvError, UsageError
from cpv.domain.os_errors import os_error

if TYPE_CHECKING:
    from cpv.api.managers import CheckpointManager


class TerminalProgress:
    """:class:`cpv.domain.progress.Progress` for a person: bars on a terminal's stderr for transfers
    and storage moves (``bars``), a line on stderr when waiting for another writer, and the
    stages of the work that shows no bar ("publishing to git…") on a terminal; ``verbose``:
    every stage, with the seconds since the start, and the total time at the end."""

    def __init__(self, *, bars: bool, verbose: bool = False) -> None:
        from cpv.cli.render import base as render

        self._render = render
        self._transfers = render.TransferProgress() if bars else None
        self._bars = bars
        self._verbose = verbose
        self._started = time.monotonic()
        self._steps: Any = None
        self._step_task: Any = None

    def transfer(
        self,
        key: int,
        description: str,
        done: int,
        total: int | None,
        is_bytes: bool,
        finished: bool,
    ) -> None:
        if self._transfers is not None:
            self._transfers(key, description, done, total, is_bytes, finished)

    def step(self, done: int, total: int, label: str) -> None:
        if not self._bars:
            return
        if self._steps is None:
            from rich.progress import Progress as Bars

            self._steps = Bars(console=self._render.err_console, transient=True)
            self._step_task = self._steps.add_task("copying versions", total=None)
            self._steps.start()
        description = f"copying {label}" if label else "verifying"
        self._steps.update(self._step_task, completed=done, total=total, description=description)

    def waiting(self, message: str) -> None:
        self._render.info(message)

    def stage(self, label: str) -> None:
        """The work moved on to ``label`` (``publishing to git``)."""
        if self._verbose:
            self._render.info(f"[{time.monotonic() - self._started:6.2f}s] {label}")
        elif self._bars:
            self._render.info(f"{label}…")

    def stop(self) -> None:
        if self._transfers is not None:
            self._transfers.stop()
        if self._steps is not None:
            self._steps.stop()

    def finished(self) -> None:
        """The command is over: with ``verbose``, say how long it took."""
        if self._verbose:
            self._render.info(f"done in {time.monotonic() - self._started:.2f}s")


class CliContext:
    """What every command receives (``click.pass_obj``): the directory and the progress view."""

    def __init__(self, path: Path, progress: TerminalProgress) -> None:
        self.path = path
        self.progress = progress

    def manager(self, kinds: str) -> CheckpointManager:
        """The manager for ``kinds`` (``model``, ``data`` or ``all``) of the repository here."""
        from cpv.api.managers import manager_for

        return manager_for(kinds, self.path, progress=self.progress)


class _Commands(click.Group):
    """``cpv``: its commands listed in ``cpv --help`` in the order of :data:`COMMANDS` (the
    order of a model's life), not alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    help="Run as if cpv was started in this directory.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Only errors, warnings and the result: no progress or notes.",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Also each step of the work, with timings, on stderr."
)
@click.version_option(__version__, prog_name="cpv", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, directory: str, quiet: bool, verbose: bool) -> None:
    """Checkpoint versioning for ML teams: one Git repo per model, bytes on DVC + S3."""
    from cpv.cli.render import base as render

    if quiet and verbose:
        raise UsageError("-q and -v: give one of them", hint="-q says less, -v says more.")
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise UsageError(f"-C {directory}: no such directory")
    from cpv.settings.env import check_environment

    check_environment()  # CPV_LOCK_TIMEOUT=nan is an Error: line naming it, before any work
    render.quiet = quiet
    interactive = sys.stderr.isatty() and not os.environ.get("CI")
    progress = TerminalProgress(bars=interactive and not quiet, verbose=verbose)
    ctx.obj = CliContext(path.resolve(), progress)
    _quiet_webhook_log()
    ctx.call_on_close(progress.finished)
    ctx.call_on_close(lambda: _webhooks_done(progress))  # after progress.stop (last in, first out)
    ctx.call_on_close(progress.stop)


def _quiet_webhook_log() -> None:
    """A failed webhook is one warning line from _webhooks_done, not also a log line."""
    import logging

    logger = logging.getLogger("cpv.notify.webhooks")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _webhooks_done(progress: TerminalProgress) -> None:
    """Wait for the webhooks the command told (never past their budget) and warn, in one
    line each, of those that failed."""
    notify, delivery = (
        sys.modules.get("cpv.notify.announce"),
        sys.modules.get("cpv.notify.delivery"),
    )
    from cpv.cli.render import base as render

    while notify is not None and notify.problems:
        render.warning(notify.problems.pop(0))
    if delivery is None:
        return  # nothing was sent
    running = delivery.running()
    if running:
        progress.stage(f"waiting for {running} webhook(s) to answer")
    for failure in delivery.wait():
        render.warning(
            f"webhook {failure.id} ({failure.url}) was not told of this {failure.event}: "
            f"{failure.reason}. `cpv status` shows it until a delivery succeeds."
        )


def _commands() -> list[click.Command]:
    """Every command of ``cpv``, in the order ``cpv --help`` lists them. A command is
    registered here or nowhere (tests/func/test_cli_shape.py checks each module's commands
    are all in this list)."""
    from cpv.cli import completion
    from cpv.cli.commands import aliases as alias_cmds
    from cpv.cli.commands import catalog as catalog_cmds
    from cpv.cli.commands import compare as compare_cmds
    from cpv.cli.commands import gc as gc_cmds
    from cpv.cli.commands import get as get_cmds
    from cpv.cli.commands import repo as repo_cmds
    from cpv.cli.commands import setup as setup_cmds
    from cpv.cli.commands import sync as sync_cmds
    from cpv.cli.commands import templates as template_cmds
    from cpv.cli.commands import versions as versions_cmds

    return [
        repo_cmds.init,
        versions_cmds.tag,
        versions_cmds.list_,
        versions_cmds.show,
        versions_cmds.diff,
        compare_cmds.compare,
        versions_cmds.revert,
        sync_cmds.push,
        sync_cmds.pull,
        sync_cmds.clone,
        get_cmds.get,
        repo_cmds.status,
        sync_cmds.verify,
        alias_cmds.promote,
        alias_cmds.demote,
        alias_cmds.aliases,
        gc_cmds.gc,
        gc_cmds.delete,
        gc_cmds.du,
        catalog_cmds.models,
        repo_cmds.repair,
        template_cmds.templates_command,
        setup_cmds.configure,
        setup_cmds.doctor,
        setup_cmds.remote,
        completion.completion,
    ]


COMMANDS = _commands()
for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> Any:
    """Run ``cpv``. Every failure ends as one ``Error:`` line and one ``Hint:`` line on stderr
    with the exit code of :mod:`cpv.domain.errors` (0 ok, 1 failed or unexpected, 2 usage, 130
    interrupted); a closed pipe ends quietly. ``CPV_DEBUG=1`` shows the traceback instead."""
    debug = os.environ.get("CPV_DEBUG") == "1"
    from cpv.cli.render import base as render

    try:
        return cli.main(args=argv, prog_name="cpv", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        if debug:
            raise
        render.error(exc.format_message(), "Run `cpv --help` or `cpv COMMAND --help` for usage.")
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        render.error(
            "interrupted", "Run the command again; any half-done change is repaired automatically."
        )
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`cpv list | head -1`): nothing more to say to anyone.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    except Exception as exc:
        if debug:
            raise
        known = exc if isinstance(exc, CpvError) else None
        if isinstance(exc, OSError):
            known = os_error(exc)  # a full disk or an unwritable path, wherever it was hit
        if known is None:
            render.error(
                f"unexpected {type(exc).__name__}: {exc}",
                "Rerun with CPV_DEBUG=1 to see the traceback, and report it.",
            )
            sys.exit(EXIT_ERROR)
        render.error(known.message, known.hint)
        sys.exit(known.exit_code)


if __name__ == "__main__":
    main()
