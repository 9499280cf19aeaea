"""The one module that prints. Rich tables for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
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
from rich.table import Table
from rich.text import Text

from cpv.metadata import VersionRecord
from cpv.results import DiffResult, PullResult, PushResult, RevertResult, StatusResult, TagResult

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _one_line(text: str) -> str:
    return escape(" ".join(line.strip() for line in str(text).splitlines() if line.strip()))


def error(message: str, hint: str) -> None:
    """One ``Error:`` line and, when there is advice, one ``Hint:`` line, on stderr. The
    text is printed as is (``[remote rejected]`` is not markup)."""
    err_console.print(f"[bold red]Error:[/] {_one_line(message)}", markup=True, highlight=False)
    if hint:
        err_console.print(f"[dim]Hint:[/] {_one_line(hint)}", markup=True, highlight=False)


def info(text: str) -> None:
    err_console.print(text)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _metrics_text(metrics: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
    )


def records_table(records: list[VersionRecord]) -> None:
    if not records:
        console.print("No versions yet. Make one with `cpv tag`.")
        return
    table = Table(show_edge=False, header_style="bold")
    for col in ("tag", "created", "size", "files", "metrics", "message"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.tag,
            r.created_at.replace("+00:00", "Z"),
            _human_size(r.size_bytes),
            str(r.file_count),
            _metrics_text(r.metrics),
            r.message.splitlines()[0] if r.message else "",
        )
    console.print(table)


def record_detail(r: VersionRecord) -> None:
    table = Table(show_header=False, show_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("tag", r.tag),
        ("version", r.version),
        ("kind", r.kind.value),
        ("created", r.created_at),
        ("author", r.author),
        ("message", r.message),
        ("size", f"{_human_size(r.size_bytes)} ({r.size_bytes} bytes)"),
        ("files", str(r.file_count)),
        ("hash", r.content_hash),
        ("commit", r.commit),
    ]
    if r.kind.value == "model":
        rows.append(("data version", r.data_version or "-"))
    if r.sample_count is not None:
        rows.append(("samples", f"{r.sample_count} " + str(r.samples or {})))
    for k, v in r.metrics.items():
        rows.append((f"metric {k}", str(v)))
    for k, v in r.params.items():
        rows.append((f"param {k}", json.dumps(v)))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def tag_result(res: TagResult) -> None:
    for msg in res.repaired:
        info(f"repaired: {msg}")
    if not res.created:
        for r in res.records:
            console.print(f"{r.kind.value}: unchanged, still {r.version}")
        return
    verb = "would create" if res.dry_run else "created"
    for r in res.records:
        extra = f"  {_metrics_text(r.metrics)}" if r.metrics else ""
        console.print(f"{verb} {r.tag}  ({_human_size(r.size_bytes)}, {r.file_count} files){extra}")


def revert_result(res: RevertResult) -> None:
    if res.already_current:
        console.print(f"already at {', '.join(r.tag for r in res.records)}; nothing to do")
        return
    if res.dry_run:
        console.print(
            f"would restore {', '.join(r.tag for r in res.records)} (all objects available)"
        )
        return
    for ref in res.backups:
        info(f"saved your uncommitted content as {ref}")
    console.print(
        f"restored {', '.join(r.tag for r in res.records)} as commit {str(res.commit)[:10]}"
    )


def push_result(res: PushResult) -> None:
    for old, new in res.renamed.items():
        becomes = "would become" if res.dry_run else "is now"
        info(
            f"{old} was already published by someone else with other content: yours {becomes} {new}"
        )
    if res.dry_run:
        console.print(
            f"would push {len(res.pushed_tags)} tag(s): {' '.join(res.pushed_tags) or '-'} and branch {res.branch}"
        )
        return
    if res.up_to_date:
        console.print("everything up to date")
        return
    branch = f"branch {res.branch}" if res.branch_pushed else f"branch {res.branch} unchanged"
    console.print(
        f"pushed {res.objects_pushed} object(s), {branch}, tags: {' '.join(res.pushed_tags) or '-'}"
    )


def pull_result(res: PullResult) -> None:
    if res.updated_branch:
        console.print("branch updated from the remote")
    what = ", ".join(r.tag for r in res.records) or "HEAD"
    console.print(
        f"{what}: {res.fetched_objects} object(s) fetched; verified {', '.join(res.verified_paths) or '-'}"
    )


def diff_result(res: DiffResult) -> None:
    table = Table(show_edge=False, header_style="bold")
    table.add_column("")
    table.add_column(res.a.tag)
    table.add_column(res.b.tag)
    table.add_column("change")
    for e in res.metrics:
        table.add_row(
            f"metric {e.key}",
            str(e.a if e.a is not None else "-"),
            str(e.b if e.b is not None else "-"),
            f"{e.delta:+.4g}" if e.delta is not None else "",
        )
    for e in res.fields:
        table.add_row(
            e.key,
            str(e.a if e.a is not None else "-"),
            str(e.b if e.b is not None else "-"),
            f"{e.delta:+.0f}" if e.delta is not None else "",
        )
    console.print(table)


def status_result(res: StatusResult) -> None:
    console.print(f"[bold]{res.team}/{res.model}[/] on branch {res.branch}")
    if res.interrupted:
        console.print(
            f"  [yellow]an interrupted {res.interrupted} is pending: the next cpv command that "
            "writes (tag, revert, push, pull) rolls it back[/]"
        )
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
        console.print(f"  {k.kind:<5} {k.path}/  latest {latest}: {state}")
    if res.unpushed_tags is None:
        console.print("  remote: unknown (unreachable or none)")
    else:
        ahead = "?" if res.unpushed_commits is None else res.unpushed_commits
        behind = "?" if res.behind_commits is None else res.behind_commits
        console.print(
            f"  unpushed: {len(res.unpushed_tags)} tag(s) {' '.join(res.unpushed_tags)}; "
            f"branch {ahead} commit(s) ahead, {behind} behind the remote"
        )
        if res.behind_commits:
            console.print("  run `cpv pull` to bring in the remote's commits")


_MARK = {
    "ok": "[green]ok[/]",
    "warn": "[yellow]warn[/]",
    "fail": "[bold red]FAIL[/]",
    "skip": "[dim]skip[/]",
}


def doctor_report(report: Any) -> None:
    """``cpv doctor``: one row per check, with what to do for failures."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("check", "status", "details"):
        table.add_column(col)
    for c in report.checks:
        details = c.message + (
            f"\n[dim]→ {c.hint}[/]" if c.hint and c.status in ("fail", "warn") else ""
        )
        table.add_row(c.name, _MARK[c.status], details)
    console.print(table)


def settings_table(cfg: Any, *, credentials: str | None) -> None:
    """``cpv configure --show``: the user settings, secrets already masked by the caller."""
    st, git = cfg.storage, cfg.git
    table = Table(show_header=False, box=None, pad_edge=False)
    rows = [
        ("provider", st.provider),
        ("bucket", st.bucket),
        ("region", st.region),
        ("endpoint", st.endpoint_url),
        ("account id", st.account_id),
        ("aws profile", st.profile),
        ("checksums", "when required" if st.checksum_when_required else "boto3 default"),
        ("storage root", st.root_url()),
        ("credentials", credentials),
        ("git remote", git.remote_template or "local bare repos (default)"),
        ("ssh key", git.ssh_key),
    ]
    for name, value in rows:
        if value:
            table.add_row(f"[bold]{name}[/]", str(value))
    console.print(table)


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

    Fed by :meth:`cpv.cli.main.TerminalProgress.transfer` (the :class:`cpv.progress.Progress`
    the CLI passes to the managers), called from DVC's worker threads; shows only work big
    enough to watch (files of 1 MB or more, batches of more than one file).
    """

    MIN_BYTES = 1_000_000

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
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
