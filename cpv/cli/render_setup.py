"""Rendering for ``cpv configure`` and ``cpv doctor`` (the user's setup, not a repository)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from cpv.cli.render import _MARK, console


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
