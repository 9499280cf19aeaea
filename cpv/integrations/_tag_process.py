"""A long-lived child process that tags and pushes for the background worker.

Why a process and not a thread: tagging is mostly Python (DVC, GitPython). In a thread of the
training process it holds the GIL in turns with the loop that drives the model (on a GPU, the
thread that launches kernels) and adds its CPU to the trainer's own threads. A child process at
a lower priority (``nice``) takes none of the trainer's GIL, and the OS gives the trainer the CPU
first. The child imports cpv once and then costs ~70 ms of CPU per small version.

Protocol: one JSON object per line. The parent sends ``{"op", "env", ...}``; the child applies
``env`` (the parent's environment at submit time, so the two behave alike), runs the operation
and answers ``{"ok": true, ...}`` or ``{"ok": false, "type", "message", "hint"}``. Nothing
secret appears on a command line; the pipe is private to the two processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import cpv.errors as errors
from cpv.errors import CpvError


class TagProcessError(CpvError):
    """The versioning process died or answered nonsense."""


def _rebuild_error(reply: dict[str, Any]) -> CpvError:
    cls = getattr(errors, str(reply.get("type")), None)
    message, hint = str(reply.get("message", "")), reply.get("hint")
    if isinstance(cls, type) and issubclass(cls, CpvError):
        try:
            return cls(message, hint=hint)
        except TypeError:
            pass
    return CpvError(f"{reply.get('type')}: {message}", hint=hint)


class TagProcess:
    """Runs ``tag`` and ``push`` in a child Python process (started on first use)."""

    def __init__(self, *, nice: int = 10) -> None:
        self._nice = nice
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cpv.integrations._tag_process", str(self._nice)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                bufsize=1,
                close_fds=True,
            )
        return self._proc

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        """Run ``op`` in the child; raise the same :class:`CpvError` type it raised."""
        with self._lock:
            proc = self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            request = {"op": op, "env": dict(os.environ), **kwargs}
            try:
                proc.stdin.write(json.dumps(request, default=str) + "\n")
                proc.stdin.flush()
                line = proc.stdout.readline()
            except (BrokenPipeError, OSError) as exc:
                line = ""
                self._proc = None
                raise TagProcessError(f"the versioning process is gone: {exc}") from exc
            if not line:
                code = proc.wait(timeout=10)
                self._proc = None
                raise TagProcessError(
                    f"the versioning process exited (code {code}) while running {op}",
                    hint="Its error is above on stderr; the next version starts a new process.",
                )
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise _rebuild_error(reply)
        return reply

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _run(request: dict[str, Any]) -> dict[str, Any]:
    from cpv.managers import DataCheckpoints, ModelCheckpoints
    from cpv.sync import push

    op = request["op"]
    if op == "tag":
        manager = DataCheckpoints if request.get("kind") == "data" else ModelCheckpoints
        source = request.get("source")
        result = manager(request["repo"]).tag(
            message=request.get("message", ""),
            metrics=request.get("metrics"),
            params=request.get("params"),
            source=Path(source) if source else None,
        )
        return {"tag": result.tag, "created": result.created}
    if op == "push":
        push(path=request["repo"])
        return {}
    raise TagProcessError(f"unknown operation {op!r}")


def _serve(nice: int, protocol: IO[str]) -> None:
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError:
            pass
    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request.pop("env", {}))
        try:
            reply = {"ok": True, **_run(request)}
        except CpvError as exc:
            reply = {
                "ok": False,
                "type": type(exc).__name__,
                "message": exc.message,
                "hint": exc.hint,
            }
        except Exception as exc:  # reported to the parent, which raises it loudly
            reply = {"ok": False, "type": type(exc).__name__, "message": str(exc), "hint": ""}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()


if __name__ == "__main__":
    # The protocol owns the real stdout; anything a library prints goes to stderr instead.
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 10, channel)
