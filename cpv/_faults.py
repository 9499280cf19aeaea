"""Named fault-injection points, used by tests to prove atomicity.

``CPV_FAULT=<point>`` raises :class:`~cpv.domain.errors.InjectedFault` at that point;
``CPV_FAULT=kill:<point>`` kills the process with SIGKILL there, as a crash would.
Unset (the normal case) it costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

from cpv.domain.errors import InjectedFault


def fault_point(name: str) -> None:
    spec = os.environ.get("CPV_FAULT")
    if not spec:
        return
    if spec == name:
        raise InjectedFault(f"injected fault at {name}")
    if spec == f"kill:{name}":
        os.kill(os.getpid(), signal.SIGKILL)


def pause_point(name: str) -> None:
    """``CPV_PAUSE=<point>@<folder>``: at that point, create ``<folder>/<point>.reached`` and
    wait (up to two minutes) for ``<folder>/<point>.go``: how the race tests stop a process
    between two steps and act meanwhile from another clone."""
    spec = os.environ.get("CPV_PAUSE")
    if not spec:
        return
    point, _, folder = spec.partition("@")
    if point != name or not folder:
        return
    import time
    from pathlib import Path

    here = Path(folder)
    (here / f"{name}.reached").touch()
    deadline = time.monotonic() + 120
    while not (here / f"{name}.go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
