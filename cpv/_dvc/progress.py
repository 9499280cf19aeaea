"""DVC's progress callbacks, routed to the active :class:`cpv.domain.progress.Progress`.

Part of the DVC adapter (with :mod:`cpv._dvc.repo`): DVC reports hashing, caching and checkout
(cpv moves objects itself now, see :mod:`cpv.objects.transfer`) through fsspec callbacks (its ``TqdmCallback``); :func:`routed` swaps in callbacks that
report to the progress receiver of the call under way (the one passed to the manager).
The library never draws.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cpv.domain.progress import active

#: Called as ``sink(key, description, done, total, is_bytes, finished)`` while DVC hashes,
#: caches and transfers: :meth:`cpv.domain.progress.Progress.transfer` of the active receiver.
ProgressSink = Callable[[int, str, int, "int | None", bool, bool], None]


def _sink() -> ProgressSink | None:
    progress = active()
    return progress.transfer if progress is not None else None


def _callback_class(sink: ProgressSink, *, hashing: bool = False, opened: list[Any]) -> Any:
    """An fsspec callback (DVC's progress protocol) that reports to ``sink``; each one made
    is added to ``opened`` so that none is left showing when the call ends."""
    from fsspec.callbacks import Callback as fsspec_callback

    class SinkCallback(fsspec_callback):  # type: ignore[misc]
        #: dvc_data shows hashing progress for files at least this big (its default: 1 GiB).
        LARGE_FILE_SIZE = 64 << 20

        def __init__(self, size: int | None = None, value: int = 0, **kwargs: Any) -> None:
            desc = kwargs.get("desc") or ""
            self._desc = os.path.basename(str(desc).rstrip("/")) or str(desc)
            self._bytes = bool(kwargs.get("bytes")) or hashing
            if hashing:
                self._desc = f"hashing {self._desc}"
                if size is None and isinstance(desc, str) and os.path.isfile(desc):
                    size = os.path.getsize(desc)  # dvc_data does not tell the hashing callback
            fsspec_callback.__init__(self, size=size, value=value)
            self._closed = False
            opened.append(self)

        def call(self, *args: Any, **kwargs: Any) -> None:
            sink(id(self), self._desc, int(self.value), self.size, self._bytes, False)

        def branched(self, path_1: Any, path_2: Any, **kwargs: Any) -> Any:
            desc = path_1 if isinstance(path_1, str) else path_2
            name = os.path.basename(str(desc))
            # Cache and remote objects are named by hash: show a short, recognisable form.
            label = f"{self._desc} {name[:10]}" if len(name) >= 30 else f"{self._desc} {name}"
            return SinkCallback(desc=label.strip(), bytes=True)

        def close(self) -> None:
            if not self._closed:
                self._closed = True
                sink(id(self), self._desc, int(self.value), self.size, self._bytes, True)

    return SinkCallback


@contextmanager
def routed() -> Iterator[None]:
    """Route DVC's progress callbacks to the active sink (read here, in the calling thread:
    DVC's worker threads do not see its context) for the duration of a call."""
    sink = _sink()
    if sink is None:
        yield
        return
    import dvc.fs.callbacks as dvc_callbacks
    import dvc.output as dvc_output
    import dvc_data.hashfile.hash as dvc_hash
    import dvc_data.index.checkout as index_checkout

    opened: list[Any] = []
    sink_cls = _callback_class(sink, opened=opened)
    patches = [
        (dvc_callbacks, "TqdmCallback", sink_cls),
        (dvc_output, "TqdmCallback", sink_cls),
        (index_checkout, "TqdmCallback", sink_cls),
        (dvc_hash, "LargeFileHashingCallback", _callback_class(sink, hashing=True, opened=opened)),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, value in patches:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)
        for callback in opened:  # DVC leaves some open: no stale "0/1 files" line remains
            callback.close()
