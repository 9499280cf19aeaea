"""Training scaffolds rendered by ``cpv init TEAM/MODEL --template NAME``.

A template is a directory ``templates/<name>/`` holding a ``template.yaml`` (a one-line
``description``) and the files of the project. Files ending in ``.j2`` are rendered
with jinja2 (strict: an unknown variable is an error) and lose the suffix; other files
are copied as they are. ``gitignore.j2`` becomes ``.gitignore`` and is *merged* into an
existing one (lines not already there are appended), never clobbered. The template's
``README.md`` replaces the placeholder one ``cpv init`` writes; any other existing file
is an error unless ``overwrite``.

The templates live in the top-level ``templates/`` directory of the source tree and are
installed inside the package as ``cpv/templates`` (see ``pyproject.toml``); both places
are searched, the installed one first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cpv.domain.errors import ConfigError, UsageError
from cpv.domain.paths import StrPath, as_path

NONE_TEMPLATE = "none"
TEMPLATE_META = "template.yaml"
_GITIGNORE_SOURCE = "gitignore.j2"
_MERGED_FILES = frozenset({".gitignore"})
#: ``cpv init`` writes a generic README before rendering; a template's README replaces it.
_REPLACED_FILES = frozenset({"README.md"})


@dataclass(frozen=True)
class TemplateInfo:
    """One available training scaffold."""

    name: str
    description: str
    path: Path
    #: the metric ``best`` ranks this scaffold's versions by (``cpv.yaml``'s ``best:``)
    best: dict[str, str] | None = None


def templates_root() -> Path:
    """The directory holding one sub-directory per template.

    ``CPV_TEMPLATES_DIR`` overrides it (for a team's own scaffolds); otherwise the copy
    installed inside the package, then the source tree's top-level ``templates/``
    (editable installs and checkouts).
    """
    env = os.environ.get("CPV_TEMPLATES_DIR")
    if env:
        return Path(env).expanduser()
    package_dir = Path(__file__).resolve().parents[1]  # cpv/, above cpv/core/
    for candidate in (package_dir / "templates", package_dir.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        "the training templates are not installed",
        path=package_dir / "templates",
        hint="Reinstall cpv (`pip install -e .` in its source) or set CPV_TEMPLATES_DIR.",
    )


def _read_info(directory: Path) -> TemplateInfo:
    meta_path = directory / TEMPLATE_META
    try:
        data = yaml.safe_load(meta_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read template description: {exc}", path=meta_path) from exc
    description = data.get("description") if isinstance(data, dict) else None
    if not isinstance(description, str) or not description.strip():
        raise ConfigError("a template needs a one-line 'description'", path=meta_path)
    best = data.get("best") if isinstance(data.get("best"), dict) else None
    return TemplateInfo(
        name=directory.name, description=description.strip(), path=directory, best=best
    )


def list_templates() -> list[TemplateInfo]:
    """Every available template, sorted by name, plus ``none`` (an empty repository)."""
    root = templates_root()
    found = [
        _read_info(d)
        for d in sorted(root.iterdir())
        if d.is_dir() and (d / TEMPLATE_META).is_file()
    ]
    empty = TemplateInfo(
        name=NONE_TEMPLATE, description="No training code: an empty model repository.", path=root
    )
    return [*found, empty]


def get_template(name: str) -> TemplateInfo:
    """The template called ``name``; raises :class:`UsageError` when there is none."""
    for info in list_templates():
        if info.name == name:
            return info
    raise UsageError(f"unknown template {name!r}", hint="`cpv templates` lists them.")


def _target_name(relative: Path) -> Path:
    if relative.name == _GITIGNORE_SOURCE:
        return relative.with_name(".gitignore")
    if relative.suffix == ".j2":
        return relative.with_suffix("")
    return relative


def _environment(directory: Path) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # the outputs are Python, YAML and Markdown, not HTML
    )


def _merge_lines(existing: str, addition: str) -> str:
    """``existing`` plus each line of ``addition`` it does not already have."""
    have = {line.strip() for line in existing.splitlines()}
    new = [line for line in addition.splitlines() if line.strip() and line.strip() not in have]
    if not new:
        return existing
    head = existing if not existing or existing.endswith("\n") else existing + "\n"
    sep = "\n" if head else ""
    return head + sep + "\n".join(new) + "\n"


def _refuse_conflicts(
    name: str, dest: Path, rendered: dict[Path, str | bytes], *, overwrite: bool
) -> None:
    """Raise when a file would be replaced with other content (and ``overwrite`` is off)."""
    conflicts = []
    for target, content in rendered.items():
        if overwrite or not target.exists():
            continue
        if target.relative_to(dest).as_posix() in _MERGED_FILES | _REPLACED_FILES:
            continue
        current = target.read_bytes()
        wanted = content.encode("utf-8") if isinstance(content, str) else content
        if current != wanted:
            conflicts.append(str(target.relative_to(dest)))
    if conflicts:
        raise UsageError(
            f"template {name!r} would overwrite: {', '.join(conflicts)}",
            hint="Render it into an empty directory, or move those files away first.",
        )


def render_template(
    name: str, dest: StrPath, *, team: str, model: str, overwrite: bool = False
) -> list[Path]:
    """Render template ``name`` into ``dest`` for ``team/model``.

    Args:
        name: a name from :func:`list_templates`; ``none`` renders nothing.
        dest: the repository root (created if missing).
        team: filled into the README, ``params.yaml`` and the training script.
        model: likewise.
        overwrite: replace existing files. Without it, an existing file whose content
            differs is an error, and nothing is written. ``.gitignore`` is always merged,
            a top-level ``README.md`` always replaced.

    Returns:
        The files written, absolute, sorted.

    Raises:
        UsageError: an unknown template, or files that would be overwritten.
    """
    info = get_template(name)
    if info.name == NONE_TEMPLATE:
        return []
    root = as_path(dest).resolve()
    context = {
        "team": team,
        "model": model,
        "model_id": f"{team}/{model}",
        "template": info.name,
        "cpv_version": _cpv_version(),
    }
    env = _environment(info.path)
    rendered: dict[Path, str | bytes] = {}
    for source in sorted(p for p in info.path.rglob("*") if p.is_file()):
        relative = source.relative_to(info.path)
        if relative.name == TEMPLATE_META or "__pycache__" in relative.parts:
            continue
        target = root / _target_name(relative)
        if source.suffix == ".j2":
            rendered[target] = env.get_template(relative.as_posix()).render(**context)
        else:
            rendered[target] = source.read_bytes()

    _refuse_conflicts(info.name, root, rendered, overwrite=overwrite)
    for target, content in rendered.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        merged = target.relative_to(root).as_posix() in _MERGED_FILES
        if merged and isinstance(content, str) and target.exists():
            content = _merge_lines(target.read_text(encoding="utf-8"), content)
        if isinstance(content, str):
            target.write_text(content, encoding="utf-8")
        else:
            target.write_bytes(content)
        if target.suffix == ".py" and content and _is_script(content):
            target.chmod(target.stat().st_mode | 0o111)
    return sorted(rendered)


def _is_script(content: str | bytes) -> bool:
    head = content[:2]
    return head in ("#!", b"#!")


def _cpv_version() -> str:
    from cpv._version import __version__

    return __version__
