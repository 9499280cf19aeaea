"""Named fault-injection points, used by tests to prove atomicity.

``CPV_FAULT=<point>`` raises :class:`~cpv.errors.InjectedFault` at that point;
``CPV_FAULT=kill:<point>`` kills the process with SIGKILL there, as a crash would.
Unset (the normal case) it costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

from cpv.errors import InjectedFault


def fault_point(name: str) -> None:
    spec = os.environ.get("CPV_FAULT")
    if not spec:
        return
    if spec == name:
        raise InjectedFault(f"injected fault at {name}")
    if spec == f"kill:{name}":
        os.kill(os.getpid(), signal.SIGKILL)
