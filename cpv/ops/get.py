"""``cpv get TEAM/MODEL[@REF] [DEST]``: one version's bytes, hash-verified, without a clone.

Only the refs it needs are read: one ``git ls-remote`` lists the model's tags; then a
shallow fetch (``--depth 1``, no branch history) brings, into a private mirror under
``$CPV_HOME/get/<team>/<model>``, the remote's branch tip (for its ``cpv.yaml`` and
``.dvc/config``), the removal markers, and only the version tags the reference needs: the
one named (``v0.3``), an alias's moves (``prod``), or every version of the kind
(``latest``, ``best``). The reference is resolved by :mod:`cpv.core.refs`, the one resolver every
command uses, on that mirror; the objects are fetched by :func:`cpv.core.workspace.ensure_objects`
(every download hashed on the way in) into one object cache shared by every model,
``$CPV_HOME/get/objects`` (DVC's ``files/md5`` layout, keyed by object id), and copied from
there into ``DEST``, hashed again. A second get of bytes already cached asks the storage
nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from cpv._dvc import repo as _dvc
from cpv._git import repo as _git
from cpv.core import refs
from cpv.core.repo import ModelRepo
from cpv.domain.errors import IntegrityError, NotARepositoryError, UsageError, VersionNotFoundError
from cpv.domain.metadata import VersionRecord
from cpv.domain.paths import cpv_home
from cpv.domain.versions import Kind, parse_version_arg
from cpv.objects.layout import object_path
from cpv.settings.config import REPO_CONFIG_FILE, parse_model_id
from cpv.settings.config_env import load_user_config

#: Where the remote's branch tip is fetched to, in the mirror.
_HEAD_REF = "refs/cpv-get/head"


class GetResult(BaseModel):
    """What ``cpv get`` fetched (``cpv get --json`` prints it)."""

    model: str
    ref: str
    tag: str
    kind: str
    version: str
    commit: str
    path: str
    files: int
    bytes: int
    #: objects downloaded from the storage (0: every byte came from the local cache)
    downloaded: int
    metrics: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    url: str


def parse_spec(spec: str) -> tuple[str, str, str]:
    """``TEAM/MODEL[@REF]`` -> (team, model, ref); REF defaults to ``latest``.

    Raises:
        InvalidNameError: not TEAM/MODEL, or an empty REF.
    """
    name, sep, ref = spec.strip().partition("@")
    team, model = parse_model_id(name)
    if sep and not ref.strip():
        raise UsageError(
            f"nothing after '@' in {spec!r}", hint="Write TEAM/MODEL@REF, e.g. acme/m@prod."
        )
    return team, model, ref.strip() or "latest"


def home() -> Path:
    """``$CPV_HOME/get``: the mirrors and the shared object cache."""
    return cpv_home() / "get"


def _mirror_root(team: str, model: str) -> Path:
    return home() / team / model


@contextmanager
def _mirror_lock(team: str, model: str) -> Iterator[None]:
    """The OS file lock of one model's mirror (released by the OS if the holder dies).

    Raises:
        LockTimeoutError: another get held it for over ``CPV_LOCK_TIMEOUT`` seconds.
    """
    from filelock import FileLock, Timeout

    from cpv.domain.errors import LockTimeoutError
    from cpv.settings.config import lock_timeout

    path = home() / team / f".{model}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=lock_timeout())
    except Timeout:
        raise LockTimeoutError(
            f"another cpv get of {team}/{model} has held {path} for over {lock_timeout():g}s",
            path=path,
            timeout=lock_timeout(),
        ) from None
    try:
        yield
    finally:
        lock.release()


def _open_mirror(team: str, model: str, url: str) -> _git.GitRepo:
    root = _mirror_root(team, model)
    git = _git.GitRepo(root) if (root / ".git").is_dir() else _git.GitRepo.init(root)
    git.set_remote("origin", url)
    return git


def _fetch(git: _git.GitRepo, listing: dict[str, str], names: list[str]) -> list[str]:
    """Fetch (shallow) those of the remote's ``names`` (``refs/...``) the mirror lacks or has
    at another object; the names fetched."""
    have = {f"refs/tags/{t.name}": t.obj for t in git.list_tags()}
    todo = [n for n in names if n in listing and have.get(n) != listing[n]]
    if todo:
        git.fetch("origin", *[f"+{n}:{n}" for n in todo], depth=1)
    return todo


def _tags_under(listing: dict[str, str], prefix: str) -> list[str]:
    return [r for r in listing if r.startswith(f"refs/tags/{prefix}") and not r.endswith("^{}")]


def _prepare(git: _git.GitRepo, listing: dict[str, str], url: str) -> ModelRepo:
    """Fetch the branch tip and the removal markers; the mirror as a :class:`ModelRepo`
    (the remote's ``cpv.yaml`` and ``.dvc/config``, the shared object cache)."""
    if "HEAD" not in listing:
        raise VersionNotFoundError(
            f"{url} has no branch: there is no version to get",
            hint="Tag and push a version first (`cpv tag`, `cpv push`).",
        )
    if git.resolve(_HEAD_REF) != listing["HEAD"]:
        git.fetch("origin", f"+HEAD:{_HEAD_REF}", depth=1)
    _fetch(git, listing, _tags_under(listing, "removed/"))
    config = git.show_file(_HEAD_REF, REPO_CONFIG_FILE)
    if config is None:
        raise NotARepositoryError(
            f"{url} is not a cpv model repository (its branch has no {REPO_CONFIG_FILE})"
        )
    root = git.root
    (root / REPO_CONFIG_FILE).write_text(config, encoding="utf-8")
    dvc = root / ".dvc"
    dvc.mkdir(exist_ok=True)
    (dvc / "config").write_text(git.show_file(_HEAD_REF, ".dvc/config") or "", encoding="utf-8")
    objects = home() / "objects"
    (dvc / "config.local").write_text(f"[cache]\n    dir = {objects}\n", encoding="utf-8")
    return ModelRepo.open(root)


def _resolve(repo: ModelRepo, listing: dict[str, str], ref: str, kind: Kind) -> VersionRecord:
    """Fetch the tags ``ref`` needs, then resolve it with :mod:`cpv.core.refs`."""
    word = ref.strip()
    if word in ("latest", "best") or word.startswith("best:"):
        _fetch(repo.git, listing, _tags_under(listing, f"{kind.value}/"))
    elif refs.is_reference_word(word):  # an alias: its moves only
        _fetch(repo.git, listing, _tags_under(listing, f"{refs.ALIAS_PREFIX}/{word}/"))
    else:
        parse_version_arg(word, within=[kind], action="get")  # refuse a bad one early
    found_kind, version = refs.resolve_arg(repo, word, within=[kind], action="get")
    found_kind = found_kind or kind
    tag = f"{found_kind.value}/{version}"
    _fetch(repo.git, listing, [f"refs/tags/{tag}"])
    if f"refs/tags/{tag}" not in listing:
        raise VersionNotFoundError(
            f"{tag} does not exist at {repo.git.remote_url('origin')}",
            hint="`cpv list` in a clone lists the versions; `cpv get TEAM/MODEL` gets the latest.",
        )
    return repo.find(found_kind, version)


def _check_dest(dest: Path, *, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a folder", hint="Choose another DEST.")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise UsageError(
            f"{dest} is not empty",
            hint="Choose an empty or new DEST, or pass --force (force=True) to make it hold "
            "exactly this version (its other files are deleted).",
        )


def _drop_corrupt(repo: ModelRepo, record: VersionRecord) -> int:
    """Delete the cached objects of ``record`` whose bytes no longer hash to their name; how
    many (a later fetch brings them back, verified)."""
    from cpv.objects.checkout import load_tree
    from cpv.objects.layout import cache_dir, file_md5

    cache = cache_dir(repo.root)
    oid = _dvc.parse_pointer(
        repo.git.show_file(record.commit, repo.pointer_of(record.kind)) or ""
    ).hash
    oids = [oid]
    if oid.endswith(".dir") and object_path(cache, oid).is_file():
        oids += [e.md5 for e in load_tree(cache, oid, where=record.tag).entries]
    dropped = 0
    for each in oids:
        path = object_path(cache, each)
        if path.is_file() and file_md5(path)[0] != each.removesuffix(".dir"):
            path.unlink()
            dropped += 1
    return dropped


def _place(repo: ModelRepo, record: VersionRecord, dest: Path) -> tuple[int, int]:
    """Copy the version's bytes from the object cache into ``dest``, each hashed; (files,
    bytes)."""
    from cpv.objects.checkout import checkout_tree, copy_hashed
    from cpv.objects.layout import cache_dir

    text = repo.git.show_file(record.commit, repo.pointer_of(record.kind)) or ""
    content = _dvc.parse_pointer(text)
    cache = cache_dir(repo.root)
    if content.hash.endswith(".dir"):
        tree = checkout_tree(cache, content.hash, dest)
        return tree.nfiles, tree.size
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(record.path).name
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if copy_hashed(object_path(cache, content.hash), tmp) != content.hash:
            raise IntegrityError(f"the cached object {content.hash} is corrupt; nothing written")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return 1, target.stat().st_size


def get_version(
    spec: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    kind: Kind | str = Kind.MODEL,
    jobs: int | None = None,
    force: bool = False,
) -> GetResult:
    """Fetch one version's bytes into ``dest`` without cloning the repository.

    Raises:
        UsageError / InvalidNameError: a bad spec or reference, or ``dest`` not empty.
        VersionNotFoundError: the reference names no version there.
        VersionRemovedError: the version was removed on purpose (its marker says by whom).
        RemoteError: the git remote cannot be reached; StorageError, MissingDataError,
        IntegrityError: the bytes cannot be had intact.
    """
    from cpv.core.workspace import ensure_objects

    team, model, ref = parse_spec(spec)
    kind = Kind(kind)
    target = Path(dest if dest is not None else model).expanduser().resolve()
    _check_dest(target, force=force)
    url = load_user_config().git.remote_url(team, model)
    listing = _git.ls_remote(url, "HEAD", "refs/tags/*")
    created = not target.exists()
    with _mirror_lock(team, model):  # one get at a time updates a model's mirror
        repo = _prepare(_open_mirror(team, model, url), listing, url)
        record = _resolve(repo, listing, ref, kind)
        downloaded = ensure_objects(repo, [record], jobs=jobs)
        try:
            try:
                files, size = _place(repo, record, target)
            except IntegrityError:  # a cached object rotted on disk: drop it, fetch it again
                if not _drop_corrupt(repo, record):
                    raise
                downloaded += ensure_objects(repo, [record], jobs=jobs)
                files, size = _place(repo, record, target)
        except BaseException:
            if created:
                shutil.rmtree(target, ignore_errors=True)
            raise
    return GetResult(
        model=f"{team}/{model}", ref=ref, tag=record.tag, kind=record.kind.value,
        version=record.version, commit=record.commit, path=str(target), files=files,
        bytes=size, downloaded=downloaded, metrics=dict(record.metrics),
        message=record.message, url=url,
    )  # fmt: skip


def get(
    spec: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    kind: Kind | str = Kind.MODEL,
    jobs: int | None = None,
    force: bool = False,
) -> Path:
    """``cpv.get("acme/whisper-small@prod", dest="weights")``: one version's files, fetched
    by name without a clone and hash-verified; returns the folder holding them.

    Args:
        spec: ``TEAM/MODEL[@REF]``; REF is ``v0.3``, ``latest`` (the default), ``best``,
            ``best:METRIC:min|max`` or an alias such as ``prod``. The repository's URL comes
            from the git remote template (``cpv configure``, ``CPV_GIT_REMOTE_TEMPLATE``).
        dest: the folder to fill (default ``./MODEL``); absent or empty unless ``force``.
        kind: ``"model"`` (the weights, default) or ``"data"``.
        jobs: parallel downloads.
        force: let a non-empty ``dest`` be made to hold exactly this version.

    Returns:
        ``dest``, absolute. :func:`get_version` returns the whole :class:`GetResult`.

    Raises:
        UsageError, InvalidNameError: a bad spec or reference, or ``dest`` not empty.
        VersionNotFoundError: the reference names no version there.
        VersionRemovedError: the version was removed on purpose.
        RemoteError, StorageError, MissingDataError, IntegrityError: the repository or the
            bytes cannot be had intact.
    """
    return Path(get_version(spec, dest, kind=kind, jobs=jobs, force=force).path)
