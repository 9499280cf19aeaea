"""The catalog: every model in the configured storage, read without a server or a clone.

``cpv push`` keeps one small JSON object per model beside its data,
``<storage>/<team>/<model>/cpv-index.json`` (:data:`INDEX_NAME`): the latest versions, the
aliases, the best version, sizes and the git remote. Plain DVC never reads it (it only
reads keys shaped like ``files/md5/xx/rest``), and ``cpv gc --remote`` deletes only the
objects it names.

Listing an S3 storage is one LIST with a delimiter at the root (the teams) and one per team
(its models), made concurrently; each model's index then comes from the digest of the
last listing when its copy's ETag has not changed, else from one small GET
(:mod:`cpv.catalog.cache`). A local storage is walked. A model pushed before the index
existed (a ``files/`` folder and no index) is listed with ``indexed = false``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cpv._s3 import catalog as _s3_catalog
from cpv._s3.client import s3_client, storage_error
from cpv.catalog import cache as catalog_cache
from cpv.domain.errors import CpvError, InvalidNameError
from cpv.domain.metadata import Count, time_in_range
from cpv.domain.metrics import as_read
from cpv.settings.config import UserConfig, atomic_write, validate_name
from cpv.settings.credentials import applied_env, boto_env, resolve_credentials
from cpv.settings.urls import UrlKind, git_kind, is_s3, local_path, s3_location

if TYPE_CHECKING:
    from cpv.objects.store import ObjectStore

#: The index object's name, beside the model's ``files/`` folder.
INDEX_NAME = "cpv-index.json"
#: The index format; a reader takes what it knows of a newer one and says so.
INDEX_SCHEMA = 1
#: Concurrent requests while listing.
_POOL = 16
T = TypeVar("T")
R = TypeVar("R")


class BestVersion(BaseModel):
    """The version ``best`` names (the metric declared in ``cpv.yaml``)."""

    metric: str
    mode: str
    tag: str
    value: float = Field(allow_inf_nan=False)


class ModelIndex(BaseModel):
    """One model's entry in the catalog, as ``cpv push`` writes it (published state only)."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: int = Field(default=INDEX_SCHEMA, alias="schema")
    team: str
    model: str
    #: the newest version of each kind (``v0.3``), None when there is none
    model_version: str | None = None
    data_version: str | None = None
    #: how many versions of each kind are published and not removed
    model_versions: Count = 0
    data_versions: Count = 0
    #: alias -> the version tag it names now (demoted aliases left out)
    aliases: dict[str, str] = Field(default_factory=dict)
    best: BestVersion | None = None
    #: the metrics of the newest model version
    metrics: dict[str, float | int | str] = Field(default_factory=dict)
    #: when the newest version was made, and when this entry last changed (ISO 8601, UTC)
    latest_at: str | None = None
    updated_at: str | None = None
    updated_by: str = ""
    #: bytes and objects in the model's storage (every version's, counted once)
    size_bytes: Count = 0
    objects: Count = 0
    #: the git remote, without any user, password or token
    git_remote: str = ""
    branch: str = ""
    commit: str = ""

    @field_validator("latest_at", "updated_at", mode="after")
    @classmethod
    def _a_time(cls, value: str | None) -> str | None:
        if value is not None and not time_in_range(value):
            raise ValueError(f"not a time cpv can show: {value[:40]!r}")
        return value

    @field_validator("metrics", mode="after")
    @classmethod
    def _metrics_as_read(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {k: as_read(v) for k, v in value.items()}

    def to_json_bytes(self) -> bytes:
        data = self.model_dump(mode="json", by_alias=True)
        return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()

    def same_as(self, other: ModelIndex | None) -> bool:
        """Equal but for when and by whom it was written."""
        skip = {"updated_at", "updated_by"}
        if other is None:
            return False
        return self.model_dump(exclude=skip) == other.model_dump(exclude=skip)


class ModelEntry(ModelIndex):
    """A model found in the storage: its index, or only where it is (``indexed`` false)."""

    indexed: bool = True
    #: the model's storage URL
    storage_url: str = ""
    #: why an entry is incomplete (no index yet, an unreadable or newer index)
    note: str = ""


class ModelsResult(BaseModel):
    """``cpv models``: the storage root listed, the team asked for, and every model found."""

    storage: str
    team: str | None = None
    models: list[ModelEntry] = Field(default_factory=list)
    #: what the listing met and got past (a digest that did not read, and was rebuilt)
    notes: list[str] = Field(default_factory=list)


def public_url(url: str) -> str:
    """A git remote URL with no secret in it: an HTTPS URL loses its user, password and query
    (a user name there is often a token), an ``ssh://`` URL its password."""
    kind = git_kind(url)
    if kind not in (UrlKind.HTTPS, UrlKind.SSH) or "://" not in url:
        return url  # a path, file:// or scp-style user@host:path (no password possible)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    if kind is UrlKind.SSH and parts.username:
        host = f"{parts.username}@{host}"
    query = "" if kind is UrlKind.HTTPS else parts.query
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


# --- one model's index -----------------------------------------------------------------
def _client(cfg: UserConfig, bucket: str) -> tuple[Any, Callable[[BaseException], Exception]]:
    # No CRC on these small JSON bodies (JSON that does not parse is reported as such): a
    # quarter less time per GET against moto, and what R2/B2 need anyway.
    storage = cfg.storage.model_copy(update={"bucket": bucket, "checksum_when_required": True})
    creds = resolve_credentials(cfg)
    client = s3_client(storage, creds, timeout=10, pool=_POOL, attempts=3)
    return client, lambda exc: storage_error(exc, storage, creds, client)


class IndexFile:
    """The index beside one model's objects (``store``), read and written through the
    store's own S3 client: push already made it to list the objects (a client costs more
    than the requests)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def _request(self, call: Callable[[Any, str, str], R]) -> R:
        bucket, prefix = s3_location(self.store.url)
        key = f"{prefix}/{INDEX_NAME}" if prefix else INDEX_NAME
        client = self.store._s3()
        try:
            with applied_env(self.store.env()):
                return call(client, bucket, key)
        except Exception as exc:
            raise self.store._error(exc) from None

    def read(self) -> ModelIndex | None:
        """The index; None when there is none or it does not read as one."""
        if not self.store.s3:
            raw = _read_local(Path(self.store.url) / INDEX_NAME)
        else:
            raw = self._request(_s3_catalog.get_small)
        return _parse(raw)[0] if raw is not None else None

    def write(self, index: ModelIndex) -> None:
        """Write ``index``, replacing the previous one whole; on S3 also its copy under the
        storage root (:mod:`cpv.catalog.cache`), which keeps ``cpv models`` to a few requests."""
        body = index.to_json_bytes()
        if not self.store.s3:
            atomic_write(Path(self.store.url) / INDEX_NAME, body.decode())
            return

        def put(client: Any, bucket: str, key: str) -> None:
            _s3_catalog.put_small(client, bucket, key, body)
            copy = catalog_cache.copy_key(key)
            if copy is not None:
                _s3_catalog.put_small(client, bucket, copy, body)

        self._request(put)


def _parse(raw: bytes) -> tuple[ModelIndex | None, str]:
    """An index's bytes as a :class:`ModelIndex` and a note (unreadable, or newer)."""
    try:
        data = json.loads(raw)
        index = ModelIndex.model_validate(data)
    except (ValueError, ValidationError, RecursionError):
        return None, f"its {INDEX_NAME} does not read as a cpv index"
    if index.schema_ > INDEX_SCHEMA:
        return index, f"indexed by a newer cpv (schema {index.schema_}): upgrade cpv to see all"
    return index, ""


# --- every model in the storage --------------------------------------------------------
def list_models(cfg: UserConfig, *, team: str | None = None) -> ModelsResult:
    """Every model under the storage root ``cfg`` names (``team``: that team's only), by
    team then model.

    Raises:
        InvalidNameError: ``team`` is not a valid team name.
        StorageError: the storage could not be listed (its kind says why).
    """
    if team is not None:
        validate_name(team, what="team")
    root = cfg.storage.root_url()
    notes: list[str] = []
    if is_s3(root):
        with applied_env(boto_env(cfg)):
            models = _list_s3(cfg, root, team, notes)
    else:
        models = _list_local(local_path(root), team)
    models.sort(key=lambda m: (m.team, m.model))
    return ModelsResult(storage=root, team=team, models=models, notes=notes)


def _valid(name: str, what: str) -> bool:
    try:
        validate_name(name, what=what)
    except InvalidNameError:
        return False
    return True


def _entry(team: str, model: str, url: str, raw: bytes | None) -> ModelEntry:
    """The entry of the model at ``url`` from its index's bytes (None: it has none)."""
    if not (_valid(team, "team") and _valid(model, "model")):  # a folder anyone could make
        note = "not a valid team/model name: no model cpv made (its index is not read)"
        return ModelEntry(team=team, model=model, indexed=False, storage_url=url, note=note)
    if raw is None:
        return ModelEntry(
            team=team, model=model, indexed=False, storage_url=url, note="no index yet"
        )
    try:
        index, note = _parse(raw)
        if index is not None:
            # Where the index lies names the model: a copied index still describes its folder.
            fields = index.model_dump(exclude={"team", "model"})
            return ModelEntry(**fields, team=team, model=model, storage_url=url, note=note)
    except Exception as exc:  # noqa: BLE001 - one model's odd index never hides the others
        note = f"its {INDEX_NAME} could not be read ({type(exc).__name__})"
    return ModelEntry(team=team, model=model, indexed=False, storage_url=url, note=note)


def _concurrently(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(_POOL, len(items))) as pool:
        return list(pool.map(fn, items))


def _list_s3(cfg: UserConfig, root: str, team: str | None, notes: list[str]) -> list[ModelEntry]:
    bucket, prefix = s3_location(root)
    base = f"{prefix}/" if prefix else ""
    client, error = _client(cfg, bucket)

    def folders(under: str) -> list[str]:
        return _s3_catalog.list_prefixes(client, bucket, under)

    def read(folder: str) -> ModelEntry | None:
        team_name, model_name = folder[len(base) :].rstrip("/").split("/")
        url = f"s3://{bucket}/{folder.rstrip('/')}"
        raw = digest.index_bytes(team_name, model_name)
        if raw is None:  # no copy (pushed by an older cpv): the index beside the data
            raw = _s3_catalog.get_small(client, bucket, folder + INDEX_NAME)
        if raw is None and not (
            _valid(team_name, "team")
            and _valid(model_name, "model")
            and _s3_catalog.has_keys(client, bucket, f"{folder}files/")
        ):
            return None  # not a model's storage
        return _entry(team_name, model_name, url, raw)

    try:
        digest = catalog_cache.Digest(client, bucket, base)
        teams = [f"{base}{team}/"] if team else folders(base)
        teams = [t for t in teams if t != base + catalog_cache.COPIES]
        models = [m for found in _concurrently(folders, teams) for m in found]
        entries = [e for e in _concurrently(read, models) if e is not None]
        digest.save({f"{e.team}/{e.model}" for e in entries}, prune=team is None)
        notes.extend(digest.notes)
        return entries
    except CpvError:
        raise
    except Exception as exc:
        raise error(exc) from None


def _list_local(root: Path, team: str | None) -> list[ModelEntry]:
    found = []
    teams = [root / team] if team else _subdirs(root)
    for team_dir in teams:
        for model_dir in _subdirs(team_dir):
            try:
                raw = _read_local(model_dir / INDEX_NAME)
            except OSError:
                raw = b""  # there, but not a readable file: listed as unreadable
            if raw is None and not (
                _valid(team_dir.name, "team")
                and _valid(model_dir.name, "model")
                and (model_dir / "files").is_dir()
            ):
                continue
            found.append(_entry(team_dir.name, model_dir.name, str(model_dir), raw))
    return found


def _read_local(path: Path) -> bytes | None:
    """A local index's bytes (None: there is none; ``b""`` when it is too large to be one)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(_s3_catalog.INDEX_MAX + 1)
    except FileNotFoundError:
        return None
    return data if len(data) <= _s3_catalog.INDEX_MAX else b""


def _subdirs(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return [Path(e.path) for e in entries if e.is_dir() and not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
