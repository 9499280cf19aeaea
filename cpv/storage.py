"""Moving objects between the local cache and storage: every byte that leaves or reaches
the remote goes through here.

* :func:`get_transfer` pushes and fetches the objects of revisions. Today that is DVC's own
  push/fetch, with credentials passed in memory; a faster implementation (e.g. tuned boto3
  multipart) can replace it here while keeping the remote in the layout plain DVC reads.
* :class:`ObjectStore` lists and writes that layout (``<url>/files/md5/xx/rest``) at any
  storage URL directly — a local folder or an S3 bucket — which is how ``cpv remote set``
  copies a model's whole history to a new remote.

The S3 client and the translation of its failures live in :mod:`cpv._s3`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from cpv import _dvc
from cpv._s3 import s3_client, storage_error
from cpv.config import UserConfig, load_user_config
from cpv.credentials import applied_env, boto_env, remote_runtime_config, resolve_credentials
from cpv.urls import is_s3, s3_location


class Transfer(Protocol):
    def push(self, root: Path, *, revs: list[str], jobs: int | None) -> int: ...

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
    ) -> int: ...


class DvcTransfer:
    """Objects moved by DVC itself, to and from the repository's current remote,
    credentials passed in memory (never written)."""

    def __init__(self, cfg: UserConfig | None = None) -> None:
        self._cfg = cfg

    def _runtime(self, root: Path) -> tuple[dict[str, Any], dict[str, str]]:
        """In-memory credentials for the repository's current remote, and non-secret env."""
        cfg = self._cfg or load_user_config()
        return remote_runtime_config(cfg, remote_url=_dvc.remote_url(root)), boto_env(cfg)

    def push(self, root: Path, *, revs: list[str], jobs: int | None) -> int:
        remote_config, env = self._runtime(root)
        with applied_env(env):
            return _dvc.push(root, revs=revs, jobs=jobs, remote_config=remote_config)

    def fetch(
        self,
        root: Path,
        *,
        revs: list[str] | None,
        jobs: int | None,
        targets: list[str] | None = None,
    ) -> int:
        remote_config, env = self._runtime(root)
        with applied_env(env):
            return _dvc.fetch(
                root, revs=revs, jobs=jobs, remote_config=remote_config, targets=targets
            )


def get_transfer(cfg: UserConfig | None = None) -> Transfer:
    """The object mover (``cfg``: the user configuration, default loaded when used)."""
    return DvcTransfer(cfg)


class ObjectStore:
    """The content-addressed layout DVC reads at a storage URL: ``<url>/files/md5/xx/rest``."""

    def __init__(self, cfg: UserConfig, url: str) -> None:
        self.cfg, self.url = cfg, url
        self.s3 = is_s3(url)
        self._client: Any = None
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
            self.creds = resolve_credentials(self.cfg)
            self._client = s3_client(self.cfg.storage, self.creds)
        return self._client

    def sizes(self) -> dict[str, int]:
        """Object id -> size of every object present."""
        if not self.s3:
            if not self.path.is_dir():
                return {}
            return {
                d.name + f.name: f.stat().st_size
                for d in self.path.iterdir()
                if d.is_dir()
                for f in d.iterdir()
                if not f.name.startswith(".")
            }
        out: dict[str, int] = {}
        try:
            pages = (
                self._s3()
                .get_paginator("list_objects_v2")
                .paginate(Bucket=self.bucket, Prefix=self.base)
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    out[obj["Key"][len(self.base) :].replace("/", "", 1)] = int(obj["Size"])
        except Exception as exc:
            raise storage_error(exc, self.storage, self.creds, self._client) from None
        return out

    def upload(self, oid: str, source: Path) -> None:
        """Write the object ``oid`` from the file ``source`` (atomically on a local store)."""
        if not self.s3:
            dest = self.path / oid[:2] / oid[2:]
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
            return
        try:
            self._s3().upload_file(str(source), self.bucket, f"{self.base}{oid[:2]}/{oid[2:]}")
        except Exception as exc:
            raise storage_error(exc, self.storage, self.creds, self._client) from None
