"""The charts of a comparison, drawn by matplotlib (the ``report`` extra): the only module
that imports it.

No pyplot: each ``Figure`` is drawn by its own canvas (Agg for PNG, the SVG backend for
SVG), so nothing global changes, no GUI is needed, and it is safe off the main thread.
Labels are never read as mathtext (a ``$`` in a metric name stays a ``$``); the SVG text is
drawn as paths (no font needed to view it) and escaped by matplotlib.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpv.domain.errors import MissingExtraError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from cpv.domain.comparison import Comparison, Curve, MetricRow

_STYLE = {
    "text.parse_math": False,
    "svg.fonttype": "path",
    "svg.hashsalt": "cpv",  # the same comparison draws the same bytes
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "font.size": 9,
}
_BEST = "#d97706"
_SVG_START = re.compile(r"<svg\b")
_XMLNS = re.compile(r'\s+xmlns(:xlink)?="http://www\.w3\.org/[^"]*"')


def require() -> None:
    """Raises MissingExtraError when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(
            "charts need matplotlib, which is not installed",
            hint="Install matplotlib (the report extra): pip install 'matplotlib>=3.10,<4'.",
        ) from exc


@contextmanager
def _style() -> Iterator[None]:
    require()
    import matplotlib

    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]  # keys: rcParams names
        yield


def numeric_rows(comparison: Comparison) -> list[MetricRow]:
    """The metrics to chart: those with a number in at least one compared version, counters
    (``step``, ``epoch``, ``is_best`` …) left out."""
    from cpv.domain.comparison import COUNTERS

    return [
        r
        for r in comparison.metrics
        if r.name not in COUNTERS and any(_number(v) for v in r.values)
    ]


def curve_metrics(comparison: Comparison) -> list[str]:
    """The metrics with a training curve of at least one point."""
    from cpv.domain.comparison import COUNTERS

    return sorted({c.metric for c in comparison.curves if c.steps and c.metric not in COUNTERS})


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def draw_metric(ax: Axes, comparison: Comparison, row: MetricRow) -> None:
    """``row``'s value for each version (in compared order), the best one ringed."""
    labels = [v.version if v.kind.value == "model" else v.tag for v in comparison.versions]
    points = [(i, float(v)) for i, v in enumerate(row.values) if isinstance(v, int | float)]
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#2563eb")
    if row.best is not None:
        i = comparison.tags.index(row.best)
        best = row.values[i]
        assert isinstance(best, int | float)
        ax.plot([i], [float(best)], marker="o", markersize=13, fillstyle="none", clip_on=False)
        ax.lines[-1].set_color(_BEST)
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 6 else 0)
    ax.set_xlim(-0.5, len(labels) - 0.5)
    way = {"min": " (lower is better)", "max": " (higher is better)"}.get(row.direction or "", "")
    ax.set_title(row.name + way, loc="left")


def draw_curves(ax: Axes, curves: Sequence[Curve], metric: str) -> None:
    """The training curve of ``metric`` for each version that has one. An earlier version
    of a run is a prefix of a later one's curve: shorter curves are drawn on top. A run that
    logged one step is a point (a marker), not an invisible line of one point."""
    mine = [c for c in curves if c.metric == metric and c.steps]
    colours = {c.tag: f"C{i % 10}" for i, c in enumerate(mine)}
    markers = {c.tag: "o" if len(c.steps) == 1 else "" for c in mine}
    for curve in sorted(mine, key=lambda c: -len(c.steps)):
        ax.plot(
            curve.steps,
            curve.values,
            color=colours[curve.tag],
            linewidth=1.4,
            marker=markers[curve.tag] or None,
            markersize=6,
        )
    for curve in mine:  # the legend in the compared order
        ax.plot(
            [], [], color=colours[curve.tag], label=curve.tag, linewidth=1.4,
            marker=markers[curve.tag] or None,
        )  # fmt: skip
    ax.set_xlabel("step")
    ax.set_title(f"{metric} during training", loc="left")
    ax.legend(fontsize=8, frameon=False)


def svg_charts(comparison: Comparison) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(metric, inline SVG) for each metric chart, then for each training-curve chart."""
    from matplotlib.figure import Figure

    metric_svgs: list[tuple[str, str]] = []
    curve_svgs: list[tuple[str, str]] = []
    with _style():
        for row in numeric_rows(comparison):
            fig = Figure(figsize=(5.2, 3.0), layout="constrained")
            draw_metric(fig.subplots(), comparison, row)
            metric_svgs.append((row.name, _svg(fig, f"m{len(metric_svgs)}")))
        for metric in curve_metrics(comparison):
            fig = Figure(figsize=(5.2, 3.0), layout="constrained")
            draw_curves(fig.subplots(), comparison.curves, metric)
            curve_svgs.append((metric, _svg(fig, f"c{len(curve_svgs)}")))
    return metric_svgs, curve_svgs


def _svg(fig: Figure, prefix: str) -> str:
    """``fig`` as an ``<svg>`` element to inline in HTML: no XML prolog, DOCTYPE, metadata
    or namespace URL (the page holds no URL at all), and every id prefixed so that several
    charts' ids cannot clash on one page."""
    buf = io.StringIO()
    none = dict.fromkeys(("Date", "Creator", "Format", "Type"))
    fig.savefig(buf, format="svg", metadata=none)
    text = buf.getvalue()
    match = _SVG_START.search(text)
    text = text[match.start() :] if match else text
    # HTML puts an inline <svg> (and xlink:href) in their namespaces itself: no URL needed
    text = _XMLNS.sub("", text, count=2)
    text = re.sub(r'\bid="', f'id="{prefix}-', text)
    text = text.replace('href="#', f'href="#{prefix}-').replace("url(#", f"url(#{prefix}-")
    return text.strip()


def write_png(comparison: Comparison, path: Path) -> Path:
    """Every chart of ``comparison`` in one PNG grid (metrics first, then training curves).

    Raises:
        MissingExtraError: matplotlib is not installed.
        UsageError: there is nothing to draw (no metric holds a number).
    """
    from matplotlib.figure import Figure

    from cpv.domain.errors import UsageError

    with _style():
        rows, curves = numeric_rows(comparison), curve_metrics(comparison)
        count = len(rows) + len(curves)
        if not count:
            raise UsageError(
                "nothing to chart: no compared version has a numeric metric",
                hint="Tag versions with --metric NAME=VALUE; the table still shows them.",
            )
        cols = min(count, 2)
        height = (count + cols - 1) // cols
        fig = Figure(figsize=(5.6 * cols, 3.3 * height), layout="constrained", dpi=100)
        axes = fig.subplots(height, cols, squeeze=False).ravel()
        for ax, row in zip(axes, rows, strict=False):
            draw_metric(ax, comparison, row)
        for ax, metric in zip(axes[len(rows) :], curves, strict=False):
            draw_curves(ax, comparison.curves, metric)
        for ax in axes[count:]:
            ax.set_visible(False)
        fig.suptitle(f"{comparison.team}/{comparison.model}: {', '.join(comparison.tags)}")
        fig.savefig(path, format="png", metadata={"Software": None})
    return path
