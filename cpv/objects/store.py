"""A storage URL as a content-addressed object store, in the layout plain DVC reads:
``<url>/files/md5/<2 hex>/<30 hex>`` — a local folder or an S3 bucket (via :mod:`cpv._s3.client`
and :mod:`cpv._s3.io`).

:class:`ObjectStore` lists, writes and reads single objects; every read is checked against
the object's md5 before it is renamed into place, so a wrong byte never lands.
:mod:`cpv.objects.transfer` decides which objects move, in which order.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cpv._s3 import io as _s3_io
from cpv._s3.client import s3_client, storage_error
from cpv.domain.errors import (
    CpvError,
    DiskFullError,
    IntegrityError,
    MissingDataError,
    StorageAccessDeniedError,
    StorageError,
)
from cpv.domain.oids import check_bytes, is_oid, oid_parts
from cpv.objects import storage_pin
from cpv.objects.checkout import copy_hashed, note_verified
from cpv.settings.config import UserConfig
from cpv.settings.config_env import load_user_config
from cpv.settings.credentials import boto_env, resolve_credentials
from cpv.settings.dvc_remote import remote_settings
from cpv.settings.urls import is_s3, s3_location

_READ = 1 << 20
#: Concurrent object transfers (and S3 connections kept open).
POOL = 16
#: :meth:`ObjectStore.missing` checks up to this many objects one HEAD each, more by listing.
_HEAD_AT_MOST = 256


class ObjectStore:
    """The content-addressed layout DVC reads at a storage URL: ``<url>/files/md5/xx/rest``."""

    def __init__(self, cfg: UserConfig, url: str) -> None:
        self.cfg, self.url = cfg, url
        self.s3 = is_s3(url)
        self._client: Any = None
        self._making = threading.Lock()
        #: What this store's last listing found, plus what it uploaded since (None: never
        #: listed); lets a push describe the storage without listing it a second time.
        self.known: dict[str, int] | None = None
        #: What a caller should tell the user though nothing failed (one line each).
        self.notes: list[str] = []
        if self.s3:
            self.bucket, prefix = s3_location(url)
            self.storage = cfg.storage.model_copy(update={"bucket": self.bucket})
            self.base = f"{prefix}/files/md5/" if prefix else "files/md5/"
        else:
            self.path = Path(url) / "files" / "md5"

    def env(self) -> dict[str, str]:
        """Non-secret environment the store's client needs (see :func:`applied_env`)."""
        return boto_env(self.cfg) if self.s3 else {}

    def _s3(self) -> Any:
        if self._client is None:
            with self._making:  # one client, whichever thread asks first
                if self._client is None:
                    self.creds = resolve_credentials(self.cfg)
                    self._client = s3_client(
                        self.storage, self.creds, timeout=60, pool=POOL, attempts=5
                    )
        return self._client

    def connect(self) -> None:
        """Make the S3 client now, so that threads using the store share one (no-op for a
        local store)."""
        if self.s3:
            self._s3()

    def warm_up(self) -> None:
        """Start making the S3 client in a thread: its import and set-up (~0.1 s) overlap
        the git work a command does first. A failure there is left for the first real use
        to raise (it makes the client again)."""
        if not self.s3 or self._client is not None:
            return

        def make() -> None:
            try:
                self._s3()
            except Exception:  # raised again, in context, by the first use
                pass

        threading.Thread(target=make, name="cpv-s3-client", daemon=True).start()

    def _error(self, exc: BaseException) -> Exception:
        return storage_error(exc, self.storage, self.creds, self._client)

    def key(self, oid: str) -> str:
        """The S3 key of object ``oid``: never outside this model's prefix (id checked)."""
        return "{}{}/{}".format(self.base, *oid_parts(oid))

    def _file(self, oid: str) -> Path:
        """Where object ``oid`` lives in a local store (the id checked, as in :meth:`key`)."""
        return self.path.joinpath(*oid_parts(oid))

    def sizes(self) -> dict[str, int]:
        """Object id -> size of every object present (one listing, not one request each)."""
        if not self.s3:
            if not self.path.is_dir():
                self.known = {}
                return {}
            found = {
                d.name + f.name: f.stat().st_size
                for d in self.path.iterdir()
                if d.is_dir()
                for f in d.iterdir()
                if is_oid(d.name + f.name) and len(d.name) == 2
            }
            self.known = dict(found)
            return found
        self._s3()
        try:
            found = {  # what is not an object (a stray or hostile key) is not one of ours
                k.replace("/", "", 1): size
                for k, size in _s3_io.list_sizes(self._client, self.bucket, self.base)
                if k[2:3] == "/" and is_oid(k.replace("/", "", 1))
            }
        except Exception as exc:
            raise self._error(exc) from None
        self.known = dict(found)
        return found

    def missing(self, oids: list[str]) -> list[str]:
        """Which of ``oids`` the storage does not hold now: a HEAD each (in parallel), or one
        listing when there are more than :data:`_HEAD_AT_MOST`."""
        if not oids:
            return []
        if not self.s3:
            return [o for o in oids if not self._file(o).is_file()]
        if len(oids) > _HEAD_AT_MOST:
            now = self.sizes()
            return [o for o in oids if o not in now]
        self._s3()

        def there(oid: str) -> bool:
            try:
                return _s3_io.exists(self._client, self.bucket, self.key(oid))
            except Exception as exc:
                raise self._error(exc) from None

        with ThreadPoolExecutor(max_workers=min(POOL, len(oids))) as pool:
            found = list(pool.map(there, oids))
        gone = [o for o, ok in zip(oids, found, strict=True) if not ok]
        if self.known is not None:
            for oid in gone:
                self.known.pop(oid, None)
        return gone

    def known_sizes(self) -> dict[str, int]:
        """Object id -> size as of the last listing plus this store's uploads since (one
        listing when there was none)."""
        return dict(self.known) if self.known is not None else self.sizes()

    def upload(
        self,
        oid: str,
        source: Path,
        *,
        concurrency: int = 10,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Write the object ``oid`` from the file ``source`` (atomically on a local store)."""
        if not self.s3:
            dest = self._file(oid)
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{id(source)}.tmp")
            try:
                check_bytes(oid, copy_hashed(source, tmp, on_bytes=on_bytes))
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        else:
            self._s3()
            try:
                _s3_io.upload(
                    self._client,
                    self.bucket,
                    self.key(oid),
                    source,
                    oid=oid,
                    concurrency=concurrency,
                    on_bytes=on_bytes,
                )
            except CpvError:
                raise  # an injected fault, as is
            except Exception as exc:
                raise self._error(exc) from None
        if self.known is not None:
            self.known[oid] = source.stat().st_size

    def delete(self, oids: list[str]) -> None:
        """Remove the objects ``oids`` (those already absent are fine).

        Raises:
            StorageError: the storage refused some (named), or failed.
        """
        if self.known is not None:
            for oid in oids:
                self.known.pop(oid, None)
        if not self.s3:
            for oid in oids:
                self._file(oid).unlink(missing_ok=True)
            return
        self._s3()
        try:
            failed = _s3_io.delete_keys(self._client, self.bucket, [self.key(o) for o in oids])
        except Exception as exc:
            raise self._error(exc) from None
        if failed:
            raise StorageError(
                f"{self.url} refused to delete {len(failed)} object(s), e.g. {failed[0]}",
                hint="Check the storage permissions (s3:DeleteObject), then run it again.",
            )

    def open_uploads(self) -> list[tuple[str, str]] | None:
        """(key, upload id) of the multipart uploads open under this store (none locally);
        None when these credentials may not list them: a permission of its own, often not
        granted to keys that read and write objects."""
        if not self.s3:
            return []
        self._s3()
        try:
            return _s3_io.open_uploads(self._client, self.bucket, self.base)
        except Exception as exc:
            error = self._error(exc)
        if isinstance(error, StorageAccessDeniedError):
            return None
        raise error

    def abort_open_uploads(
        self, oids: set[str], *, listed: list[tuple[str, str]] | None = None
    ) -> int:
        """Abort multipart uploads left open (by an interrupted push) for ``oids``: objects
        about to be uploaded again, whose orphan parts would otherwise be billed.
        ``listed``: :meth:`open_uploads` as the caller already listed it (before any
        upload of its own began). Credentials that may not list or abort them are noted in
        :attr:`notes`, and the push goes on (s3transfer still aborts the uploads of a push
        that fails in-process); how many were aborted."""
        if not self.s3 or not oids:
            return 0
        stale = listed if listed is not None else self.open_uploads()
        if stale is None:
            self.notes.append(
                f"{self.url}: these credentials may not list multipart uploads, so parts an "
                "interrupted push left there cannot be aborted (billed until they are); grant "
                "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload, or add a "
                "lifecycle rule that aborts incomplete uploads"
            )
            return 0
        self._s3()
        wanted = {self.key(o) for o in oids}
        orphans = [(key, upload_id) for key, upload_id in stale if key in wanted]
        for n, (key, upload_id) in enumerate(orphans):
            try:
                _s3_io.abort_upload(self._client, self.bucket, key, upload_id)
            except Exception as exc:
                error = self._error(exc)
                if not isinstance(error, StorageAccessDeniedError):
                    raise error from None
                self.notes.append(
                    f"{self.url}: these credentials may not abort multipart uploads, so the "
                    f"parts {len(orphans) - n} interrupted upload(s) left there stay (billed "
                    "until they are aborted); grant s3:AbortMultipartUpload, or add a "
                    "lifecycle rule that aborts incomplete uploads"
                )
                return n
        return len(orphans)

    def download(
        self,
        oid: str,
        dest: Path,
        *,
        size: int | None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        """Put the object ``oid`` at ``dest`` only if its bytes hash to ``oid``.

        Written under a temporary name beside ``dest``, checked, then renamed: a corrupt or
        partial object never appears at ``dest``, and no temporary file stays behind.

        Raises:
            MissingDataError: the store has no such object.
            IntegrityError: its bytes do not match its name.
            DiskFullError: no space left to write it.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{id(dest)}.tmp")
        try:
            md5 = self._read_into(oid, tmp, size=size, on_bytes=on_bytes)
            if md5 != oid.removesuffix(".dir"):
                raise IntegrityError(
                    f"object {oid} at {self.url} is corrupt (its bytes hash to {md5}); "
                    "nothing was written",
                    hint="Repair the storage copy (`cpv verify --remote --repair` from a "
                    "machine that has the version), then pull again.",
                )
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
            note_verified(dest)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFullError(
                    f"disk full while downloading {oid} to {dest.parent}", path=dest
                ) from None
            raise
        finally:
            tmp.unlink(missing_ok=True)

    def _read_into(
        self, oid: str, tmp: Path, *, size: int | None, on_bytes: Callable[[int], None] | None
    ) -> str:
        if not self.s3:
            source = self._file(oid)
            if not source.is_file():
                raise MissingDataError(f"object {oid} is not at {self.url}")
            return copy_hashed(source, tmp, on_bytes=on_bytes)
        self._s3()
        try:
            return _s3_io.download(
                self._client, self.bucket, self.key(oid), tmp, size=size, on_bytes=on_bytes
            )
        except OSError:
            raise
        except Exception as exc:
            if _is_missing(exc):
                raise MissingDataError(f"object {oid} is not at {self.url}") from None
            raise self._error(exc) from None


def _is_missing(exc: BaseException) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


def store_for(root: Path, cfg: UserConfig | None = None) -> ObjectStore:
    """The model's storage as an object store: the URL, endpoint and region its
    ``.dvc/config`` names (what plain DVC would use), with this user's credentials."""
    settings = remote_settings(storage_pin.follow(root))  # a moved model: the newest storage
    url = settings.get("url", "")
    if not url:
        raise StorageError(
            "this model has no storage configured in .dvc/config",
            hint="Set one with `cpv remote set URL`.",
        )
    cfg = cfg or load_user_config()
    if not is_s3(url):
        if not Path(url).is_absolute():
            url = str((root / ".dvc" / url).resolve())  # DVC: relative to .dvc/
        return ObjectStore(cfg, url)
    storage = cfg.storage
    endpoint = settings.get("endpointurl")
    from cpv.settings.config_env import set_in_env

    pinned = set_in_env()  # how to reach the same bytes: the environment wins over the model's
    if "endpoint_url" in pinned:
        endpoint = None
    if "region" in pinned:
        settings.pop("region", None)
    if endpoint and endpoint != storage.endpoint_url:
        custom = storage.provider in ("local", "aws")
        update: dict[str, object] = {"endpoint_url": endpoint}
        if custom:  # an endpoint this user has no preset for: the safe S3 dialect
            update.update(provider="custom", checksum_when_required=True)
        storage = storage.model_copy(update=update)
    if settings.get("region"):
        storage = storage.model_copy(update={"region": settings["region"]})
    return ObjectStore(cfg.model_copy(update={"storage": storage}), url)


def newest_store(root: Path, store: ObjectStore) -> ObjectStore:
    """``store``, unless the branch has just brought in a move (``cpv push`` merging a
    teammate's ``remote set``): then the store the model is at now."""
    now = store_for(root, store.cfg)
    return store if now.url == store.url else now
