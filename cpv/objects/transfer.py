"""Which objects move between the local cache and the model's storage, and in which order.

cpv moves its objects itself (through :class:`cpv.objects.store.ObjectStore`), in the layout plain
DVC reads, so ``git clone`` + ``dvc pull`` keeps working:

* **push** lists what a set of commits needs (each pointer's hash and, for a folder, every
  file of its ``.dir`` listing) and what the storage holds (one listing of the bucket, never
  a local index, so an object deleted from the bucket is uploaded again). A needed object in
  neither the local cache nor the storage stops the push before anything is sent, naming
  the version and file; one only the storage holds (a clone that never pulled it) needs
  nothing. What only the local cache holds, or holds with another size, is uploaded, the
  files of a folder before its listing.
* **fetch** brings what the local cache lacks, each object checked against its md5 on the
  way in: a corrupt object never enters the cache, and a later fetch, once the storage is
  repaired, succeeds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from cpv.domain.errors import CpvError, IntegrityError, MissingDataError
from cpv.domain.progress import current as current_progress
from cpv.objects.layout import cache_dir, cached_sizes, object_path
from cpv.objects.pointers import (
    ListingFn,
    Needed,
    Pointer,
    cached_listing,
    needed_objects,
    pointers_at,
)
from cpv.objects.store import POOL, ObjectStore, store_for
from cpv.settings.config import UserConfig
from cpv.settings.credentials import applied_env

_BIG = 64 << 20  # objects above this move one at a time, their parts in parallel


def push_objects(
    root: Path,
    store: ObjectStore,
    pointers: Sequence[Pointer],
    *,
    jobs: int | None,
    dry_run: bool = False,
) -> int:
    """Upload what ``store`` lacks of ``pointers``' objects; how many were (``dry_run``:
    would be) uploaded.

    Raises:
        MissingDataError: a needed object is not in the local cache (nothing was sent).
        StorageError: the storage refused or failed.
    """
    cache = cache_dir(root)
    with applied_env(store.env()), ThreadPoolExecutor(max_workers=1) as aside:
        store.connect()  # one client, made here: the two listings below share it
        # Both listings at once (the open uploads are listed before any upload of ours).
        open_uploads = aside.submit(store.open_uploads)
        present = store.sizes()
        needed = needed_objects(pointers, _listing_or_published(cache, present))
        local = cached_sizes(cache, [*needed.files, *needed.listings])
        absent = [w for o, w in needed.files.items() if o not in local and o not in present]
        if absent:
            raise MissingDataError(
                f"{len(absent)} file(s) of the versions to publish are neither in the local "
                "cache nor in the storage: "
                + ", ".join(absent[:3])
                + (" …" if len(absent) > 3 else ""),
                hint="Nothing was published. Pull the version from a machine that has its "
                "bytes, or delete the version and tag again.",
            )

        def lacking(oids: Iterable[str]) -> list[str]:  # what only we have, or differs
            return [o for o in oids if o in local and present.get(o) != local[o]]

        files, listings = lacking(needed.files), lacking(needed.listings)
        if dry_run:
            return len(files) + len(listings)
        if files or listings:  # (a no-op push never needs the open uploads)
            store.abort_open_uploads({*files, *listings}, listed=open_uploads.result())
        upload_objects(store, cache, [*files, *listings], jobs=jobs, sizes=local)
        sent = {*files, *listings}  # (nothing sent: nothing new to publish, no check)
        again = _still_there(store, cache, needed, sent=sent, local=local) if sent else 0
    return len(files) + len(listings) + again


def _still_there(
    store: ObjectStore, cache: Path, needed: Needed, *, sent: set[str], local: dict[str, int]
) -> int:
    """Right before the versions are published, check that what they need and this push did
    not send (the storage had it when listed) is still there: a `cpv gc --remote` or `delete
    --remote` elsewhere may have removed it since. What is gone is uploaded again from the
    local cache, and said; gone and not here stops the push before git. How many went up
    again."""
    relied = [o for o in (*needed.files, *needed.listings) if o not in sent]
    gone = store.missing(relied)
    if not gone:
        return 0
    lost = [needed.files.get(o) or needed.listings[o] for o in gone if o not in local]
    if lost:
        raise MissingDataError(
            f"{len(lost)} file(s) of the versions to publish left the storage during this push "
            "(a `cpv gc --remote` or `delete --remote` elsewhere?) and are not in the local "
            "cache: " + ", ".join(lost[:3]) + (" …" if len(lost) > 3 else ""),
            hint="Nothing was published. Pull the version from a machine that has its bytes "
            "and push from there, or delete the version and tag again.",
        )
    upload_objects(store, cache, gone)
    store.notes.append(
        f"{len(gone)} object(s) the versions need left {store.url} during this push (a `cpv "
        "gc --remote` or `delete --remote` elsewhere?); they were uploaded again"
    )
    return len(gone)


def upload_objects(
    store: ObjectStore,
    cache: Path,
    oids: Sequence[str],
    *,
    jobs: int | None = None,
    sizes: dict[str, int] | None = None,
) -> None:
    """Upload ``oids`` from the local cache: the files first, then the ``.dir`` listings
    that name them, so a listing never stands on the storage without its files."""
    for listings in (False, True):
        part = [o for o in oids if o.endswith(".dir") == listings]
        _move(part, cache, store.upload, "uploading", jobs, sizes=sizes)


def _listing_or_published(cache: Path, present: dict[str, int]) -> ListingFn:
    """A listing from the local cache; one only the storage holds was published after its
    files, so they need nothing from here (``[]``); one nowhere stops the push."""
    local = cached_listing(cache)

    def read(oid: str, p: Pointer) -> list[dict[str, str]]:
        if not object_path(cache, oid).is_file() and oid in present:
            return []
        return local(oid, p)

    return read


def fetch_objects(
    root: Path, store: ObjectStore, pointers: Sequence[Pointer], *, jobs: int | None
) -> int:
    """Download what the local cache lacks of ``pointers``' objects, each verified.

    Raises:
        MissingDataError: an object is neither in the local cache nor in the storage.
        IntegrityError: an object in the storage does not match its hash (not written).
        StorageError: the storage refused or failed.
    """
    cache = cache_dir(root)
    fetched = 0
    listed: list[Future[dict[str, int]]] = []  # the storage's listing, begun early

    def listing(oid: str, p: Pointer) -> list[dict[str, str]]:
        nonlocal fetched
        path = object_path(cache, oid)
        if not path.is_file():
            if not listed:  # a folder's bytes are coming: list the storage meanwhile
                store.connect()
                listed.append(aside.submit(store.sizes))
            store.download(oid, path, size=None)
            fetched += 1
        return list(json.loads(path.read_bytes()))

    with applied_env(store.env()), ThreadPoolExecutor(max_workers=1) as aside:
        needed = needed_objects(pointers, _naming(listing))
        todo = [o for o in needed.files if not object_path(cache, o).is_file()]
        if not todo:
            return fetched
        sizes = listed[0].result() if listed else store.sizes()
        gone = [needed.files[o] for o in todo if o not in sizes]
        if gone:
            raise MissingDataError(
                f"{len(gone)} file(s) are in neither the local cache nor the storage "
                f"({store.url}): " + ", ".join(gone[:3]) + (" …" if len(gone) > 3 else ""),
                hint="Push them from the machine that made the version (`cpv push`).",
            )

        def get(oid: str, path: Path, on_bytes: Callable[[int], None]) -> None:
            store.download(oid, path, size=sizes[oid], on_bytes=on_bytes)

        _move(todo, cache, get, "downloading", jobs, sizes=sizes)
    return fetched + len(todo)


def _naming(listing: ListingFn) -> ListingFn:
    """Name the version and folder in a failure to get a listing."""

    def named(oid: str, p: Pointer) -> list[dict[str, str]]:
        try:
            return listing(oid, p)
        except MissingDataError as exc:
            raise MissingDataError(
                f"{p.label}: the listing of {p.out}/ is missing ({exc.message})",
                hint="Push it from the machine that made the version (`cpv push`).",
            ) from None

    return named


def _move(
    oids: Sequence[str],
    cache: Path,
    one: Callable[..., None],
    what: str,
    jobs: int | None,
    *,
    sizes: dict[str, int] | None = None,
) -> None:
    """Run ``one(oid, cache path, on_bytes=…)`` for each object: small ones in a pool of ``jobs``
    threads, big ones one at a time (their parts move in parallel). The first failure
    stops what has not started and is raised (an integrity failure first)."""
    if not oids:
        return

    if sizes is None:
        sizes = {o: object_path(cache, o).stat().st_size for o in oids}
    total = sum(sizes[o] for o in oids)
    progress, lock, done = current_progress(), threading.Lock(), [0]
    key = id(oids)

    def advance(n: int) -> None:  # from any transfer thread
        with lock:
            done[0] += n
            progress.transfer(key, what, min(done[0], total), total, True, False)

    def run(oid: str) -> None:
        one(oid, object_path(cache, oid), on_bytes=advance)

    big = [o for o in oids if sizes[o] > _BIG]
    small = [o for o in oids if sizes[o] <= _BIG]
    errors: list[BaseException] = []
    with ThreadPoolExecutor(max_workers=max(1, min(jobs or POOL, POOL))) as pool:
        futures = [pool.submit(run, o) for o in small]
        try:
            for oid in big:
                run(oid)
        except BaseException as exc:
            errors.append(exc)
        for f in futures:
            if errors:
                f.cancel()
            try:
                f.result()
            except BaseException as exc:
                errors.append(exc)
    progress.transfer(key, what, min(done[0], total), total, True, True)
    if errors:
        raise _first(errors)


def _first(errors: list[BaseException]) -> BaseException:
    for kind in (IntegrityError, CpvError):
        for exc in errors:
            if isinstance(exc, kind):
                return exc
    return errors[0]


class DirectTransfer:
    """Pushes and fetches the objects of revisions to and from the model's storage."""

    def __init__(self, cfg: UserConfig | None = None) -> None:
        self._cfg = cfg

    def push(
        self,
        root: Path,
        *,
        revs: list[str],
        jobs: int | None,
        labels: dict[str, str] | None = None,
        dry_run: bool = False,
        store: ObjectStore | None = None,
    ) -> int:
        """Upload what the storage lacks of ``revs``' objects (``labels``: commit -> the
        version named in errors); ``dry_run``: list the storage and count, send nothing.
        ``store``: the model's storage when the caller has it (see ``ObjectStore.known``)."""
        labels = labels or {}
        pointers = [
            p for rev in revs for p in pointers_at(root, rev, label=labels.get(rev, rev[:10]))
        ]
        store = store or store_for(root, self._cfg)
        return push_objects(root, store, pointers, jobs=jobs, dry_run=dry_run)

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
        labels: dict[str, str] | None = None,
        store: ObjectStore | None = None,
    ) -> int:
        """Download what the local cache lacks of ``revs``' objects (None: the pointers in
        the workspace), only the pointer files ``targets`` when given; ``labels``: commit ->
        the version named in errors; ``store``: the model's storage when the caller has it."""
        labels = labels or {}
        if revs is None:
            names = targets or [p.name for p in root.glob("*.dvc")]
            pointers = [
                Pointer("workspace", n, (root / n).read_text())
                for n in names
                if (root / n).is_file()
            ]
        else:
            pointers = [
                p
                for rev in revs
                for p in pointers_at(root, rev, label=labels.get(rev, rev[:10]), only=targets or ())
            ]
        if not pointers:
            return 0
        return fetch_objects(root, store or store_for(root, self._cfg), pointers, jobs=jobs)


def get_transfer(cfg: UserConfig | None = None) -> DirectTransfer:
    """The object mover (``cfg``: the user configuration, default loaded when used)."""
    return DirectTransfer(cfg)
