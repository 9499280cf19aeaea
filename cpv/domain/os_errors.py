"""An ``OSError`` from the local disk read as cpv's own error: a full disk
(:class:`DiskFullError`) or a path it cannot write (:class:`PathNotWritableError`)."""

from __future__ import annotations

import errno
from pathlib import Path

from cpv.domain.errors import CpvError, DiskFullError, PathNotWritableError

_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}


def os_error(exc: OSError, *, hint: str | None = None) -> CpvError | None:
    """The cpv error for a full disk or an unwritable path, None for any other OSError."""
    if isinstance(exc, CpvError):
        return exc
    path = exc.filename
    where = f" {path}" if path else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left on the device to write{where}", path=path, hint=hint)
    if exc.errno in _NOT_WRITABLE:
        reason = exc.strerror or "not writable"
        if exc.errno == errno.ENOTDIR:
            reason = "a parent of it is not a directory"
        if hint is None and path:
            from cpv.domain.paths import cpv_home

            home = cpv_home()
            if Path(str(path)) == home or home in Path(str(path)).parents:
                hint = f"Set CPV_HOME to a writable directory (it is {home})."
        verb = "write" if exc.errno in (errno.EROFS, errno.ENOTDIR) else "access"
        return PathNotWritableError(
            f"cannot {verb}{where}: {reason.lower()}", path=path, errno=exc.errno, hint=hint
        )
    return None
