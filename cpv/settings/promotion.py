"""Promotion rules: what a version must show before an alias may point at it.

Declared per alias in ``cpv.yaml``::

    best: {metric: wer, mode: min}
    promotion:
      prod:
        require_metrics: [wer, cer]        # each present and numeric
        thresholds: {wer: "<=0.25"}        # <, <=, >, >=, == and a number
        better_than_current: true          # strictly better by best: than prod's version now

``cpv promote`` checks them (:func:`check`) and refuses, naming every failed rule, unless
forced; a forced move records the rules it overrode in its tag (``AliasMove.overridden``),
so ``cpv aliases`` shows it for ever. An alias without rules takes any version.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cpv.domain.errors import CpvError, PromotionRefusedError

if TYPE_CHECKING:
    from cpv.core.refs import AliasMove
    from cpv.core.repo import ModelRepo
    from cpv.domain.metadata import VersionRecord

_THRESHOLD = re.compile(r"^\s*(<=|>=|==|<|>)\s*([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
#: Alias names, as :data:`cpv.core.refs.ALIAS_NAME` (not imported: refs sits above the config).
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,39}\Z")


class PromotionRule(BaseModel):
    """One alias's requirements (``promotion.<alias>`` in ``cpv.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    require_metrics: list[str] = Field(default_factory=list)
    #: metric -> ``"<=0.25"`` (an operator and a finite number)
    thresholds: dict[str, str] = Field(default_factory=dict)
    #: the version must beat the alias's current one by the ``best:`` metric and mode
    better_than_current: bool = False

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, str]) -> dict[str, str]:
        for metric, text in value.items():
            parse_threshold(str(text), metric=metric)
        return {m: str(t).strip() for m, t in value.items()}


def parse_threshold(text: str, *, metric: str) -> tuple[str, float]:
    """``"<=0.25"`` -> (``"<="``, 0.25).

    Raises:
        ValueError: not an operator and a finite number.
    """
    found = _THRESHOLD.match(text)
    if found is None or not math.isfinite(float(found.group(2))):
        raise ValueError(
            f"threshold for {metric!r} must be an operator and a number such as '<=0.25' "
            f"(<, <=, >, >=, ==), not {text!r}"
        )
    return found.group(1), float(found.group(2))


def validate_rules(rules: Mapping[str, PromotionRule], *, has_best: bool) -> None:
    """Rule keys are alias names; ``better_than_current`` needs ``best:``.

    Raises:
        ValueError: what is wrong, naming the alias.
    """
    for alias, rule in rules.items():
        if not _ALIAS.match(alias) or alias in ("latest", "best"):
            raise ValueError(f"promotion: {alias!r} is not an alias name (e.g. prod)")
        if rule.better_than_current and not has_best:
            raise ValueError(
                f"promotion.{alias}.better_than_current needs a best: metric "
                "(e.g. best: {metric: wer, mode: min})"
            )


def _number(metrics: Mapping[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def check(
    rule: PromotionRule,
    *,
    alias: str,
    metrics: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    current_tag: str | None = None,
    best: tuple[str, str] | None = None,
) -> list[str]:
    """The rules ``metrics`` (the candidate's) fails, one line each naming the rule.

    ``current``: the metrics of the version the alias points at now (None: it points at
    nothing). ``best``: (metric, mode) from ``cpv.yaml``.
    """
    failed = []
    where = f"promotion.{alias}"
    for name in rule.require_metrics:
        if _number(metrics, name) is None:
            failed.append(f"no numeric metric {name!r} ({where}.require_metrics)")
    for name, text in rule.thresholds.items():
        op, limit = parse_threshold(text, metric=name)
        value = _number(metrics, name)
        if value is None:
            failed.append(
                f"no numeric metric {name!r} for threshold {op}{limit:g} "
                f"({where}.thresholds.{name})"
            )
        elif not _OPS[op](value, limit):
            failed.append(f"{name}={value:g} is not {op}{limit:g} ({where}.thresholds.{name})")
    if rule.better_than_current and best is not None and current is not None:
        metric, mode = best
        mine, theirs = _number(metrics, metric), _number(current, metric)
        if theirs is not None:
            better = mine is not None and (mine < theirs if mode == "min" else mine > theirs)
            if not better:
                shown = "missing" if mine is None else f"{mine:g}"
                failed.append(
                    f"{metric}={shown} is not better ({mode}) than {theirs:g} of "
                    f"{current_tag or 'the current version'} ({where}.better_than_current)"
                )
    return failed


def enforce(
    repo: ModelRepo, record: VersionRecord, alias: str, *, current: AliasMove | None,
    force: bool = False,
) -> list[str]:  # fmt: skip
    """Check ``alias``'s rules for ``record`` (``current``: the alias's move now).

    Returns:
        The rules overridden by ``force`` (empty when every rule passed or there are none).

    Raises:
        PromotionRefusedError: a rule failed and ``force`` is false.
    """
    from cpv.domain.versions import Kind, Version

    rule = (repo.config.promotion or {}).get(alias)
    if rule is None:
        return []
    current_metrics: dict[str, Any] | None = None
    if current is not None and current.tag:
        kind, _, version = current.tag.partition("/")
        try:
            current_metrics = repo.find(Kind(kind), Version.parse(version)).metrics
        except (CpvError, ValueError):
            current_metrics = None  # its metadata is gone: nothing to beat
    best = (repo.config.best.metric, repo.config.best.mode) if repo.config.best else None
    failed = check(
        rule, alias=alias, metrics=record.metrics, current=current_metrics,
        current_tag=current.tag if current else None, best=best,
    )  # fmt: skip
    if failed and not force:
        raise PromotionRefusedError(
            f"{record.tag} may not become {alias!r}: " + "; ".join(failed),
            alias=alias,
            tag=record.tag,
            failed=failed,
        )
    return failed
