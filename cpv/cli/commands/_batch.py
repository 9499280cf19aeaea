"""``--recursive`` on ``status``, ``push``, ``pull`` and ``list`` in a folder of model repositories:
find them, run the command's action on each (:mod:`cpv.core.batch`), print one row (or one JSON
entry) per model, and fail, after printing, when any model failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpv.domain.errors import CpvError

if TYPE_CHECKING:
    from cpv.cli.main import CliContext


def run_all(obj: CliContext, command: str, action: Callable[[Path], Any], *, as_json: bool) -> None:
    """Run ``action`` on every model repository under ``obj.path``.

    Raises:
        NotARepositoryError: no model repository there.
        CpvError: one or more models failed (after every model was tried and printed).
    """
    from cpv.cli.render import base as render
    from cpv.cli.render import batch as render_batch
    from cpv.core.batch import find_model_repos, run_each

    result = run_each(find_model_repos(obj.path), action)
    if as_json:
        render.print_json({"ok": result.ok, **result.model_dump(mode="json")})
    else:
        render_batch.batch_result(result, command, obj.path)
    if not result.ok:
        names = ", ".join(m.path.name for m in result.failed)
        raise CpvError(
            f"{len(result.failed)} of {len(result.models)} models failed: {names}",
            hint=f"The others were done. Run `cpv {command}` in a failed model's folder to fix it.",
        )
