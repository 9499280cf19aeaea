"""The one module that prints. Rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from cpv.cli.render import layout as _layout
from cpv.cli.render.console import console, emit_lines, err_console, say
from cpv.domain.metadata import ShardLayout, VersionRecord
from cpv.domain.metrics import finite_json
from cpv.domain.results import (
    DiffResult,
    PushResult,
    RevertResult,
    StatusResult,
    TagResult,
    Unpublished,
)


def print_json(data: Any) -> None:
    """``--json``: valid JSON whatever the data holds (a NaN read from a tag is ``"nan"``)."""
    try:  # most data holds no NaN: spared a pass over every value (10,000 versions' records)
        text = json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False)
    except ValueError:
        text = json.dumps(finite_json(data), indent=2, sort_keys=True, default=str)
    sys.stdout.write(text + "\n")


def _one_line(text: str) -> str:
    return escape(" ".join(line.strip() for line in str(text).splitlines() if line.strip()))


def error(message: str, hint: str) -> None:
    """One ``Error:`` line and, when there is advice, one ``Hint:`` line, on stderr. The
    text is printed as is (``[remote rejected]`` is not markup)."""
    err_console.print(f"[bold red]Error:[/] {_one_line(message)}", markup=True, highlight=False)
    if hint:
        err_console.print(f"[dim]Hint:[/] {_one_line(hint)}", markup=True, highlight=False)


#: ``cpv -q``: no notes on stderr (errors, warnings and results are still printed).
quiet = False


def info(text: str) -> None:
    """One line on stderr, printed as is (never read as markup); none with ``cpv -q``."""
    if not quiet:
        err_console.print(text, markup=False)


def warning(text: str) -> None:
    """One ``warning:`` line on stderr (the text printed as is, not as markup)."""
    err_console.print(f"[yellow]warning:[/] {_one_line(text)}", markup=True, highlight=False)


def _metrics_text(metrics: dict[str, Any]) -> str:
    return " ".join(f"{k}={_layout.number(v)}" for k, v in metrics.items())


def records_table(records: list[VersionRecord]) -> None:
    """``cpv list``: one line per version when it fits; the metrics wrap between pairs, the
    message is cut (``…``) to the lines the metrics use; ``files`` only when there is room."""
    if not records:
        console.print("No versions yet. Make one with `cpv tag`.")
        return
    cols = {
        "tag": ["tag"] + [r.tag + _marks(r) for r in records],
        "created": ["created"] + [_layout.short_date(r.created_at) for r in records],
        "size": ["size"] + [_layout.human_size(r.size_bytes) for r in records],
        "files": ["files"] + [str(r.file_count) for r in records],
    }
    pairs = [[f"{k}={_layout.number(v)}" for k, v in r.metrics.items()] for r in records]
    messages = ["message"] + [(r.message.splitlines() or [""])[0] for r in records]
    width = _layout.width()
    plans = [
        (names, *_layout.list_plan([cols[n] for n in names], pairs, messages, width))
        for names in (["tag", "created", "size", "files"], ["tag", "created", "size"])
    ]

    def cost(plan: tuple[list[str], list[int], int]) -> tuple[int, int]:
        over = sum(plan[1]) + len(_layout.GAP) * (len(plan[1]) - 1) - (width or 0)
        return (max(over, 0) if width else 0, plan[2])  # fits, fewest lines; files on a tie

    names, widths, _ = min(plans, key=cost)
    metrics_w, message_w = widths[-2:]
    rows = [[[n] for n in names] + [["metrics"], ["message"]]]
    for i, record_pairs in enumerate(pairs):
        metrics = _layout.wrap_pairs(record_pairs, metrics_w if width else None)
        message = messages[i + 1]
        cut = _layout.clip(message, message_w, len(metrics)) if width else [message]
        rows.append([[cols[n][i + 1]] for n in names] + [metrics, cut])
    right = {names.index("size")} | ({names.index("files")} if "files" in names else set())
    emit_lines(_layout.columns(rows, widths, right), header=True)


def _marks(r: VersionRecord) -> str:
    """``model/v0.2 [prod]``; ``(deleted)`` or ``(data removed)`` after a removal."""
    marks = f" [{','.join(r.aliases)}]" if r.aliases else ""
    if r.removed:
        marks += " (deleted)" if r.removed.get("action") == "delete" else " (data removed)"
    return marks


def record_detail(r: VersionRecord) -> None:
    """``cpv show``: every field, hashes in full; ``dirty`` only when the record says so."""
    rows = [
        ("tag", r.tag),
        ("version", r.version),
        ("kind", r.kind.value),
        ("created", r.created_at),
        ("author", r.author),
        ("message", r.message),
        ("size", f"{_layout.human_size(r.size_bytes)} ({r.size_bytes} bytes)"),
        ("files", str(r.file_count)),
        ("hash", r.content_hash),
        ("commit", r.commit),
    ]
    if getattr(r, "dirty", False):
        paths = list(getattr(r, "dirty_paths", None) or [])
        more = int(getattr(r, "dirty_count", 0) or 0) - len(paths)  # the list is capped
        named = ", ".join(paths) + (f" and {more} more" if more > 0 else "")
        rows.append(("dirty", "yes" + (f" ({named})" if named else "")))
    if r.aliases:
        rows.append(("aliases", ", ".join(r.aliases)))
    if r.compact:  # cpv pull rebuilds its files; plain dvc pull gets recipes and segments
        stored = _layout.human_size(r.compact.stored_bytes)
        how = "" if r.compact.compress == "none" else f", {r.compact.compress}"
        rows.append(("storage", f"compact (tensor segments{how}; {stored} stored)"))
    if r.removed:
        where = "locally and in the storage" if r.removed.get("remote") else "locally"
        rows.append(
            (
                "removed",
                f"{r.removed.get('action')} {where}, by "
                f"{r.removed.get('by')} at {r.removed.get('at')}",
            )
        )
    if r.kind.value == "model":
        rows.append(("data version", r.data_version or "-"))
    if r.distributed is not None:
        rows += _shard_rows(r.distributed)
    if r.sample_count is not None:
        rows.append(("samples", f"{r.sample_count} " + str(r.samples or {})))
    rows += [(f"metric {k}", str(v)) for k, v in r.metrics.items()]
    rows += [(f"param {k}", v) for k, v in _layout.flatten(r.params).items()]
    emit_lines(_layout.pairs(rows))


#: ``cpv show`` lists this many ranks of a distributed version (``--json``: all of them).
SHOWN_RANKS = 16


def _shard_rows(layout: ShardLayout) -> list[tuple[str, str]]:
    """World size, then a row per rank: its files' count, bytes and names (as recorded)."""
    rows = [("world size", str(layout.world_size))]
    for shards in layout.ranks[:SHOWN_RANKS]:
        names = ", ".join(shards.files)
        if shards.file_count > len(shards.files):
            names += f" and {shards.file_count - len(shards.files)} more"
        size = _layout.human_size(shards.size_bytes)
        rows.append(
            (
                f"rank {shards.rank}",
                f"{shards.file_count} file{'' if shards.file_count == 1 else 's'}, {size}: {names}",
            )
        )
    if len(layout.ranks) > SHOWN_RANKS:
        rows.append(("ranks", f"and {len(layout.ranks) - SHOWN_RANKS} more (--json lists all)"))
    return rows


def tag_result(res: TagResult) -> None:
    for msg in res.repaired:
        info(f"repaired: {msg}")
    if not res.created:
        for r in res.records:
            say(f"{r.kind.value}: unchanged, still {r.version}")
        return
    verb = "would create" if res.dry_run else "created"
    for r in res.records:
        extra = f"  {_metrics_text(r.metrics)}" if r.metrics else ""
        say(f"{verb} {r.tag}  ({_layout.human_size(r.size_bytes)}, {r.file_count} files){extra}")


def revert_result(res: RevertResult) -> None:
    if res.already_current:
        say(f"already at {', '.join(r.tag for r in res.records)}; nothing to do")
        return
    if res.dry_run:
        say(f"would restore {', '.join(r.tag for r in res.records)} (all objects available)")
        return
    for ref in res.backups:
        info(f"saved your uncommitted content as {ref}")
    tags = ", ".join(r.tag for r in res.records)
    say(f"restored {tags} as commit {_layout.short_hash(str(res.commit))}")


def push_result(res: PushResult) -> None:
    notes = [*res.lease_notes, *res.withdrawn, res.index_warning, res.storage_warning]
    for note in filter(None, notes):
        warning(note)
    for old, new in res.renamed.items():
        becomes = "would become" if res.dry_run else "is now"
        info(
            f"{old} was already published by someone else with other content: yours {becomes} {new}"
        )
    tags = " ".join(res.pushed_tags) or "-"
    if res.dry_run:
        from cpv.cli.render.unpublished import push_dry_run

        pending = res.unpublished or Unpublished(versions=res.pushed_tags)
        push_dry_run(pending, branch=res.branch, objects=res.objects_pushed)
        return
    if res.up_to_date:
        say("everything up to date")
        return
    branch = f"branch {res.branch}" if res.branch_pushed else f"branch {res.branch} unchanged"
    records = (
        f"; alias moves and removals: {' '.join(res.records_pushed)}" if res.records_pushed else ""
    )
    say(f"pushed {res.objects_pushed} object(s), {branch}, tags: {tags}{records}")


def _change(a: Any, b: Any) -> str:
    if a == b:
        return ""
    return "added" if a is None else "removed" if b is None else "changed"


def _diff_rows(res: DiffResult) -> list[tuple[str, str, str, str]]:
    """(what, a, b, change): metrics, params (nested keys as ``a.b``), then the fields."""
    rows = []
    for e in res.metrics:
        delta = f"{e.delta:+.4g}" if e.delta is not None else _change(e.a, e.b)
        rows.append((f"metric {e.key}", _shown(e.a), _shown(e.b), delta))
    pa, pb = _layout.flatten(res.a.params), _layout.flatten(res.b.params)
    for key in sorted(set(pa) | set(pb)):
        va, vb = pa.get(key), pb.get(key)
        rows.append((f"param {key}", _shown(va), _shown(vb), _change(va, vb)))
    show = {"content_hash": _layout.short_hash, "created_at": _layout.short_date}
    for e in res.fields:
        fmt = show.get(e.key, lambda v: v)
        va, vb = (fmt(v) if isinstance(v, str) else v for v in (e.a, e.b))
        if e.key == "message":
            va, vb = ((v or "").splitlines()[0] if v else v for v in (va, vb))
        delta = f"{e.delta:+.0f}" if e.delta is not None else _change(va, vb)
        rows.append((e.key, _shown(va), _shown(vb), delta))
    ca, cb = _layout.short_hash(res.a.commit), _layout.short_hash(res.b.commit)
    rows.append(("commit", ca, cb, _change(ca, cb)))
    return rows


def _shown(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def diff_result(res: DiffResult) -> None:
    """``cpv diff``: the two versions side by side; the change column marks what differs
    (a delta for numbers). Hashes show their first 12 characters; ``--json`` has them whole."""
    rows = [("", res.a.tag, res.b.tag, "change"), *_diff_rows(res)]
    natural = [max(len(row[i]) for row in rows) for i in range(4)]
    width = _layout.width()
    widths = list(natural)
    if width is not None and sum(natural) + 3 * len(_layout.GAP) > width:
        widths[0] = min(natural[0], max(12, width // 4))
        unbreakable = max(len(v) for row in rows for v in row[1:3] if " " not in v)
        avail = width - widths[0] - widths[3] - 3 * len(_layout.GAP)
        widths[1] = widths[2] = max(avail // 2, min(unbreakable, natural[1]), 8)
    cells = [[_layout.wrap(v, w) for v, w in zip(row, widths, strict=True)] for row in rows]
    lines = _layout.columns(cells, widths, set())
    emit_lines(lines[:1], header=True)
    emit_lines(lines[1:])


def status_result(res: StatusResult) -> None:
    console.print(Text.assemble((f"{res.team}/{res.model}", "bold"), f" on branch {res.branch}"))
    if res.interrupted:
        say(
            f"  an interrupted {res.interrupted} is pending: the next cpv command that "
            "writes (tag, revert, push, pull) rolls it back",
            style="yellow",
        )
    if res.deletion:
        say(f"  {res.deletion}", style="yellow")
    for k in res.kinds:
        latest = k.latest.version if k.latest else "none"
        if k.changed:
            state = "changed since the latest version" if k.latest else "not versioned yet"
        elif k.workspace_hash is None or not k.latest:
            state = "empty"
        else:
            state = "matches the latest version"
        if k.workspace_version and k.latest and k.workspace_version != k.latest.version:
            state = f"holds {k.workspace_version}"
        say(f"  {k.kind:<5} {k.path}/  latest {latest}: {state}")
    if res.unpublished is None:
        say("  remote: unknown (unreachable or none)")
    else:
        from cpv.cli.render.unpublished import status_remote

        status_remote(res.unpublished, behind=res.behind_commits)
        if res.behind_commits:
            say("  run `cpv pull` to bring in the remote's commits")
    for f in res.webhook_failures:
        say(
            f"  webhook {f.id} ({f.url}) failed {f.at}: {f.event}"
            + (f" of {f.model}" if f.model else "")
            + f": {f.reason}",
            style="yellow",
        )


MARK = {
    "ok": "[green]ok[/]",
    "warn": "[yellow]warn[/]",
    "fail": "[bold red]FAIL[/]",
    "skip": "[dim]skip[/]",
}


class _AmountColumn(ProgressColumn):
    """``12.3/400.0 MB  95.1 MB/s`` for byte tasks, ``3/10 files`` for file counts."""

    def render(self, task: Task) -> Text:
        total = task.total or 0
        if task.fields.get("is_bytes"):
            speed = f"  {task.speed / 1e6:.1f} MB/s" if task.speed else ""
            return Text(f"{task.completed / 1e6:.1f}/{total / 1e6:.1f} MB{speed}")
        return Text(f"{int(task.completed)}/{int(total)} files")


class TransferProgress:
    """Progress bars (amount, rate, ETA) for hashing, caching and transfers, on stderr.

    Fed by :meth:`cpv.cli.main.TerminalProgress.transfer` (the :class:`cpv.domain.progress.Progress`
    the CLI passes to the managers), called from DVC's worker threads; shows only work big
    enough to watch (files of 1 MB or more, batches of more than one file).
    """

    MIN_BYTES = 1_000_000

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            _AmountColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        )
        self._tasks: dict[int, TaskID] = {}
        self._started = False

    def __call__(
        self, key: int, desc: str, done: int, total: int | None, is_bytes: bool, finished: bool
    ) -> None:
        if key not in self._tasks:
            if finished or not total or total < (self.MIN_BYTES if is_bytes else 2):
                return
            if not self._started:
                self._progress.start()
                self._started = True
            self._tasks[key] = self._progress.add_task(desc[-40:], total=total, is_bytes=is_bytes)
        task = self._tasks[key]
        self._progress.update(task, completed=done, total=total or None)
        if finished:
            self._progress.remove_task(task)
            del self._tasks[key]

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
