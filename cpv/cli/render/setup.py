"""Rendering for ``cpv configure`` and ``cpv doctor`` (the user's setup, not a repository)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from cpv.cli.render.base import MARK, console


def doctor_report(report: Any) -> None:
    """``cpv doctor``: one row per check, with what to do for failures."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("check", "status", "details"):
        table.add_column(col)
    for c in report.checks:
        details = escape(c.message) + (
            f"\n[dim]→ {escape(c.hint)}[/]" if c.hint and c.status in ("fail", "warn") else ""
        )
        table.add_row(escape(c.name), MARK[c.status], details)
    console.print(table)
    shown = [s for s in getattr(report, "sources", ()) if s.value is not None]
    if shown:
        console.print("Settings in use (value, source):")
        rows = Table(show_header=False, box=None, pad_edge=False)
        for source in shown:
            rows.add_row(
                f"  {source.key}", escape(source.value), f"[dim]{escape(_origin(source))}[/]"
            )
        console.print(rows)


def settings_table(cfg: Any, *, credentials: str | None, sources: list[Any] | None = None) -> None:
    """``cpv configure --show``: the user settings, secrets already masked by the caller; with
    ``sources``, a third column says where each value came from."""
    st, git = cfg.storage, cfg.git
    origin = {s.key: _origin(s) for s in sources or ()}
    table = Table(show_header=False, box=None, pad_edge=False)
    rows = [
        ("provider", st.provider, "storage.provider"),
        ("bucket", st.bucket, "storage.bucket"),
        ("region", st.region, "storage.region"),
        ("endpoint", st.endpoint_url, "storage.endpoint_url"),
        ("account id", st.account_id, "storage.account_id"),
        ("aws profile", st.profile, "storage.profile"),
        ("checksums", "when required" if st.checksum_when_required else "boto3 default",
         "storage.checksum_when_required"),
        ("storage root", st.root_url(), "storage.url" if st.url else "storage.bucket"),
        ("credentials", credentials, ""),
        ("git remote", git.remote_template or "local bare repos (default)", "git.remote_template"),
        ("ssh key", git.ssh_key, "git.ssh_key"),
    ]  # fmt: skip
    for name, value, key in rows:
        if value:
            cells = [f"[bold]{name}[/]", escape(str(value))]
            if sources is not None:
                cells.append(f"[dim]{escape(origin.get(key, 'default') if key else '')}[/]")
            table.add_row(*cells)
    console.print(table)


def model_settings(sources: list[Any]) -> None:
    """``cpv configure --show`` in a model repository: its own storage settings, by source."""
    rows = [s for s in sources if s.key.startswith("model.") and s.value]
    if not rows:
        return
    console.print(
        "This model's storage (its .dvc/config; the environment wins for endpoint and region):",
        markup=False,
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    for s in rows:
        table.add_row(
            f"  {s.key.removeprefix('model.')}", escape(s.value), f"[dim]{escape(_origin(s))}[/]"
        )
    console.print(table)


def _origin(source: Any) -> str:
    return f"{source.origin}: {source.detail}" if source.detail else source.origin


def webhooks(hooks: list[Any], failures: list[Any]) -> None:
    """``cpv configure --show``: the webhooks (URLs masked) and each one's last failure."""
    if not hooks:
        console.print("Webhooks: none (add one with `cpv configure --webhook URL`)", markup=False)
    else:
        console.print("Webhooks (URLs masked):")
        for hook in hooks:
            console.print(
                f"  {hook.id}  {hook.url}  {hook.format}  events: {','.join(hook.events)}",
                markup=False,
            )
    for f in failures:
        about = f"{f.event} of {f.model}" if f.model else f.event
        console.print(
            "[yellow]warning:[/] "
            + escape(f"webhook {f.id} last failed {f.at} ({about}): {f.reason}")
        )


def webhook_changes(result: Any) -> None:
    """``cpv configure --webhook / --remove-webhook / --test-webhook``: what changed, what
    answered."""
    for hook in result.removed:
        console.print(f"Removed webhook {hook.id} ({hook.url})", markup=False)
    for hook in result.added:
        console.print(
            f"Added webhook {hook.id} ({hook.url}, {hook.format}) for "
            f"{', '.join(hook.events)}; stored in {result.path} (mode 0600)",
            markup=False,
        )
    for ping in result.tested:
        state = "delivered" if ping.ok else f"FAILED: {ping.reason}"
        console.print(f"Test message to {ping.id} ({ping.url}): {state}", markup=False)
