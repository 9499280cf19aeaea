"""``cpv compare``: several versions side by side, with deltas, the best, and training curves.

The versions are those named (in that order: the first is the baseline), or the last N of
the manager's first kind, oldest first. Each metric row holds every version's value, its
change against the baseline (the first version, or with ``against="best"`` that metric's
best version) and the best version, by the metric's direction: ``min`` or ``max`` as given
(``--metric wer:min``), as ``cpv.yaml``'s ``best:`` declares it, else from its name (a loss,
an error rate, a perplexity or a duration goes down; anything else up). Counters
(``step``, ``epoch``, ``global_step``, ``is_best``) have no best, come after the metrics and
have no training curve.

Training curves come from ``metrics.log``: the integrations write a ``step`` line per
logged step (``{"kind": "step", "run": …, "step": …, "metrics": {…}}``) just before the
line of the version those steps led to, which names the same ``run``. A version's curve is
every step its run logged up to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cpv.core.refs import resolve_arg
from cpv.core.repo import METRICS_LOG, ModelRepo
from cpv.domain.comparison import (  # MOVED
    COUNTERS,
    Comparison,
    Curve,
    Direction,
    MetricRow,
    ParamRow,
)
from cpv.domain.errors import UsageError, VersionNotFoundError
from cpv.domain.metadata import VersionRecord
from cpv.domain.metrics import is_comparable
from cpv.domain.versions import Kind

DEFAULT_LAST = 5
#: Metric names that go down when things get better (matched as words of the name).
_LOWER_IS_BETTER = re.compile(
    r"(^|[_\-./ ])(loss|error|err|wer|cer|ter|mse|mae|rmse|perplexity|ppl|latency|runtime"
    r"|time|seconds|duration|distance)($|[_\-./ ])"
)


def compare(
    repo: ModelRepo,
    kinds: Sequence[Kind],
    refs: Sequence[str] = (),
    *,
    last: int | None = None,
    metrics: Sequence[str] | None = None,
    against: str = "first",
) -> Comparison:
    """Compare the versions ``refs`` name (or the ``last`` N, default 5) of ``kinds``.

    Raises:
        UsageError: both ``refs`` and ``last``; ``last`` below 1; an unknown ``against``;
            a ``--metric`` of the wrong form, or that no compared version has.
        VersionNotFoundError: a reference names no version; there is no version at all.
    """
    if against not in ("first", "best"):
        raise UsageError(f"invalid baseline {against!r}", hint="Use --against first or best.")
    records = _select(repo, kinds, refs, last)
    wanted = [_metric_spec(text) for text in metrics or ()]
    rows = _metric_rows(repo, records, wanted, against)
    first_size = records[0].size_bytes
    return Comparison(
        team=repo.config.team,
        model=repo.config.model,
        against="best" if against == "best" else "first",
        versions=records,
        metrics=rows,
        params=_param_rows(records),
        size_deltas=[r.size_bytes - first_size for r in records],
        curves=training_curves(repo.root / METRICS_LOG, records, [n for n, _ in wanted]),
    )


def _select(
    repo: ModelRepo, kinds: Sequence[Kind], refs: Sequence[str], last: int | None
) -> list[VersionRecord]:
    if refs and last is not None:
        raise UsageError(
            "give versions or --last, not both",
            hint="`cpv compare v0.1 v0.3` names them; `cpv compare --last 3` takes the newest.",
        )
    if last is not None and last < 1:
        raise UsageError(f"--last must be 1 or more, not {last}")
    from cpv.core.records import annotate, listing

    if not refs:
        records = listing(repo, [kinds[0]])  # deleted versions left out
        if not records:
            raise VersionNotFoundError(
                f"there is no {kinds[0].value} version yet: nothing to compare",
                hint="Make versions with `cpv tag`, then compare them.",
            )
        return records[-(last or DEFAULT_LAST) :]
    chosen: list[VersionRecord] = []
    for text in refs:
        kind, version = resolve_arg(repo, text, within=kinds, action="compare")
        record = repo.find(kind or kinds[0], version)
        if all(r.tag != record.tag for r in chosen):
            chosen.append(record)
    return annotate(repo, chosen)


def _metric_spec(text: str) -> tuple[str, Direction | None]:
    name, _, mode = text.strip().rpartition(":") if ":" in text else (text.strip(), "", "")
    if mode and mode not in ("min", "max"):
        name, mode = text.strip(), ""  # a colon inside the name itself
    if not name:
        raise UsageError(f"invalid metric {text!r}", hint="Write --metric NAME or NAME:min|max.")
    return name, ("min" if mode == "min" else "max") if mode else None


def direction_of(name: str, repo: ModelRepo | None = None) -> Direction | None:
    """Which way ``name`` improves: cpv.yaml's ``best:`` mode for its metric, else a guess
    from the name; None for bookkeeping (step, epoch, is_best)."""
    if repo is not None and repo.config.best is not None and repo.config.best.metric == name:
        return "min" if repo.config.best.mode == "min" else "max"
    if name in COUNTERS:
        return None
    return "min" if _LOWER_IS_BETTER.search(name.lower()) else "max"


def _metric_rows(
    repo: ModelRepo,
    records: list[VersionRecord],
    wanted: list[tuple[str, Direction | None]],
    against: str,
) -> list[MetricRow]:
    present = sorted({k for r in records for k in r.metrics})
    if wanted:
        missing = [name for name, _ in wanted if name not in present]
        if missing:
            raise UsageError(
                f"no compared version has the metric {missing[0]!r}",
                hint=f"Their metrics: {', '.join(present) or 'none'}.",
            )
    specs = wanted or [(n, None) for n in sorted(present, key=lambda n: (n in COUNTERS, n))]
    rows = []
    for name, mode in specs:
        values = [r.metrics.get(name) for r in records]
        direction = mode or direction_of(name, repo)
        best = _best_index(values, direction)
        base = best if against == "best" and best is not None else 0
        base_value = values[base]
        rows.append(
            MetricRow(
                name=name,
                direction=direction,
                values=values,
                deltas=[_delta(v, base_value) for v in values],
                baseline=records[base].tag if _number(base_value) else None,
                best=records[best].tag if best is not None else None,
            )
        )
    return rows


def _number(value: Any) -> bool:
    return is_comparable(value)  # a 401-digit integer or a NaN in metrics.log is no number


def _delta(value: Any, base: Any) -> float | None:
    if not (_number(value) and _number(base)):
        return None
    return float(f"{value - base:.12g}")  # 0.25 - 0.31 is -0.06, not -0.06000000000000005


def _best_index(values: Sequence[Any], direction: Direction | None) -> int | None:
    """The best numeric value's position (ties: the earliest), or None."""
    scored = [(float(v), i) for i, v in enumerate(values) if _number(v)]
    if direction is None or not scored:
        return None
    pick = min(scored, key=lambda s: (s[0] if direction == "min" else -s[0], s[1]))
    return pick[1]


def _flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _param_rows(records: list[VersionRecord]) -> list[ParamRow]:
    flat = [_flatten(r.params) for r in records]
    names = sorted({k for f in flat for k in f})
    rows = []
    for name in names:
        values = [f.get(name) for f in flat]
        texts = {json.dumps(v, sort_keys=True, default=str) for v in values}
        rows.append(ParamRow(name=name, values=values, differs=len(texts) > 1))
    return rows


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of ``metrics.log``, in order; lines that are not one are skipped."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # a line of metrics.log is data from git
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def training_curves(
    log: Path, records: Sequence[VersionRecord], metrics: Sequence[str] = ()
) -> list[Curve]:
    """Each record's curves (one per metric its run logged per step; only ``metrics`` when
    given): the step lines of its run that ``metrics.log`` holds before its own line."""
    wanted = {(r.kind.value, r.version, r.content_hash): r.tag for r in records}
    runs: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    found: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    for entry in read_log(log):
        run = entry.get("run")
        if not isinstance(run, str):
            continue
        if entry.get("kind") == "step":
            step: Any = entry.get("step")
            values = entry.get("metrics")
            if _number(step) and isinstance(values, dict):
                runs.setdefault(run, []).append((float(step), values))
            continue
        tag = wanted.get(
            (str(entry.get("kind")), str(entry.get("version")), str(entry.get("content_hash")))
        )
        if tag is not None:
            found[tag] = list(runs.get(run, []))
    curves = []
    for record in records:
        steps = found.get(record.tag, [])
        names = sorted({k for _, values in steps for k, v in values.items() if _number(v)})
        for name in names:
            if (metrics and name not in metrics) or name in COUNTERS:
                continue
            points = [(s, float(v[name])) for s, v in steps if _number(v.get(name))]
            curves.append(
                Curve(
                    tag=record.tag,
                    metric=name,
                    steps=[p[0] for p in points],
                    values=[p[1] for p in points],
                )
            )
    return curves
