"""Promotion rules in cpv.yaml: each rule refuses a version that fails it (naming the rule,
recording nothing), and --force promotes anyway with the overridden rules in the move's tag."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from cpv import ModelCheckpoints
from cpv.domain.errors import ConfigError, PromotionRefusedError
from cpv.settings.config import load_repo_config
from tests.conftest import repo_snapshot, run_cpv, write_checkpoint
from tests.func.test_notify import HookServer, hooks  # noqa: F401 - the fixture


def _rules(repo: Path, promotion: dict[str, object], best: object = None) -> None:
    data = yaml.safe_load((repo / "cpv.yaml").read_text())
    data["promotion"] = promotion
    if best is not None:
        data["best"] = best
    (repo / "cpv.yaml").write_text(yaml.safe_dump(data))
    subprocess.run(["git", "commit", "-qam", "rules"], cwd=repo, check=True)


def _versions(repo: Path, *metrics: dict[str, float]) -> None:
    for i, values in enumerate(metrics, 1):
        write_checkpoint(repo, f"weights {i} {values}".encode() * 50)
        ModelCheckpoints(repo).tag(metrics=values, message=f"version {i}")


def _refused(repo: Path, version: str, alias: str, *needles: str) -> None:
    before = repo_snapshot(repo)
    with pytest.raises(PromotionRefusedError) as info:
        ModelCheckpoints(repo).promote(version, alias)
    for needle in needles:
        assert needle in info.value.message
    assert repo_snapshot(repo) == before  # nothing recorded


def test_require_metrics(repo: Path) -> None:
    _rules(repo, {"prod": {"require_metrics": ["wer"]}})
    _versions(repo, {"loss": 1.0}, {"wer": 0.3})
    _refused(repo, "v0.1", "prod", "no numeric metric 'wer'", "promotion.prod.require_metrics")
    assert ModelCheckpoints(repo).promote("v0.2", "prod").tag == "model/v0.2"
    assert ModelCheckpoints(repo).promote("v0.1", "staging").tag == "model/v0.1"  # no rules


def test_thresholds(repo: Path) -> None:
    _rules(repo, {"prod": {"thresholds": {"wer": "<=0.25", "acc": "> 0.9"}}})
    _versions(repo, {"wer": 0.31, "acc": 0.95}, {"wer": 0.2}, {"wer": 0.25, "acc": 0.91})
    _refused(repo, "v0.1", "prod", "wer=0.31 is not <=0.25", "promotion.prod.thresholds.wer")
    _refused(repo, "v0.2", "prod", "no numeric metric 'acc' for threshold >0.9")
    assert ModelCheckpoints(repo).promote("v0.3", "prod").tag == "model/v0.3"  # <= is inclusive


def test_better_than_current_uses_best_metric_and_mode(repo: Path) -> None:
    _rules(repo, {"prod": {"better_than_current": True}}, best={"metric": "acc", "mode": "max"})
    _versions(repo, {"acc": 0.8}, {"acc": 0.7}, {"acc": 0.8}, {"acc": 0.85})
    manager = ModelCheckpoints(repo)
    assert manager.promote("v0.2", "prod").tag == "model/v0.2"  # nothing to beat yet
    assert manager.promote("v0.1", "prod").tag == "model/v0.1"  # 0.8 > 0.7
    _refused(repo, "v0.2", "prod", "acc=0.7 is not better (max) than 0.8 of model/v0.1")
    _refused(repo, "v0.3", "prod", "promotion.prod.better_than_current")  # equal is not better
    assert manager.promote("v0.4", "prod").tag == "model/v0.4"
    manager.demote("prod")
    assert manager.promote("v0.2", "prod").tag == "model/v0.2"  # demoted: nothing to beat


def test_every_failed_rule_is_named_and_cli_exits_1(repo: Path) -> None:
    _rules(
        repo,
        {
            "prod": {
                "require_metrics": ["cer"],
                "thresholds": {"wer": "<0.2"},
                "better_than_current": True,
            }
        },  # fmt: skip
        best={"metric": "wer", "mode": "min"},
    )
    _versions(repo, {"wer": 0.1, "cer": 0.05}, {"wer": 0.15})
    ModelCheckpoints(repo).promote("v0.1", "prod")
    proc = run_cpv("promote", "v0.2", "prod", cwd=repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    err = proc.stderr
    assert err.startswith("Error: model/v0.2 may not become 'prod': ")
    for rule in ("require_metrics", "better_than_current"):
        assert f"promotion.prod.{rule}" in err
    assert "--force" in err


def test_force_promotes_and_records_the_overridden_rules(repo: Path) -> None:
    _rules(repo, {"prod": {"thresholds": {"wer": "<=0.25"}}})
    _versions(repo, {"wer": 0.4})
    proc = run_cpv("promote", "v0.1", "prod", "--force", "-m", "hotfix", cwd=repo)
    assert "forced past a promotion rule" in proc.stdout and "wer=0.4 is not <=0.25" in proc.stdout
    tag = subprocess.run(
        ["git", "tag", "-l", "--format=%(contents)", "alias/prod/1"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "wer=0.4 is not <=0.25" in tag  # in the tag itself: published with it
    moves = json.loads(run_cpv("aliases", "--history", "--json", cwd=repo).stdout)
    assert moves[0]["overridden"] == ["wer=0.4 is not <=0.25 (promotion.prod.thresholds.wer)"]
    table = run_cpv("aliases", cwd=repo).stdout
    assert "hotfix [forced past: wer=0.4 is not <=0.25" in table


def test_rules_are_validated_when_cpv_yaml_is_read(repo: Path) -> None:
    base = yaml.safe_load((repo / "cpv.yaml").read_text())
    bad = [
        ({"prod": {"thresholds": {"wer": "about 0.2"}}}, "threshold for 'wer'"),
        ({"prod": {"thresholds": {"wer": "<=nan"}}}, "threshold for 'wer'"),
        ({"prod": {"better_than_current": True}}, "needs a best: metric"),
        ({"Prod!": {}}, "not an alias name"),
        ({"prod": {"require_metric": ["wer"]}}, "require_metric"),
    ]
    for promotion, needle in bad:
        (repo / "cpv.yaml").write_text(yaml.safe_dump({**base, "promotion": promotion}))
        with pytest.raises(ConfigError, match="cpv.yaml") as info:
            load_repo_config(repo)
        assert needle in info.value.message
    proc = run_cpv("list", cwd=repo, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_a_forced_promote_tells_the_webhooks_what_it_overrode(
    repo: Path,
    hooks: HookServer,  # noqa: F811 - the fixture imported above
) -> None:
    from cpv.notify import delivery as notify_delivery
    from cpv.notify import webhooks as notify

    notify.add_webhook(hooks.url(), events=("promote",), fmt=None)
    _rules(repo, {"prod": {"thresholds": {"wer": "<=0.25"}}})
    _versions(repo, {"wer": 0.4})
    ModelCheckpoints(repo).promote("v0.1", "prod", message="hotfix", force=True)
    notify_delivery.wait()
    (body,) = hooks.bodies()
    assert body["details"]["overridden"] == [
        "wer=0.4 is not <=0.25 (promotion.prod.thresholds.wer)"
    ]
    assert "[forced past promotion rules: wer=0.4 is not <=0.25" in body["message"]
