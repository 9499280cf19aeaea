"""The ``cpv compare --html`` report in a real browser: headless Chromium (Debian's
``chromium`` package; CI installs it) renders it offline, and its screenshot shows the table
and the charts. Skipped only when Chromium is absent.

``CPV_DOCS_SCREENSHOT=docs/img/compare-report.png`` also saves the screenshot there (that
is how the one in docs/compare.md was made).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cpv import ModelCheckpoints
from cpv.integrations import versioning
from cpv.report.html import write_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1280, 2000
#: the metric charts' line colour (cpv/report/charts.py), as RGB
CHART_BLUE = (0x25, 0x63, 0xEB)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture
def trained(repo: Path, tmp_path: Path) -> Path:
    """Two training runs, four versions, per-step losses, a gradient norm logged once per run
    (a curve of one point), the epoch as a counter; ``prod`` on the second."""
    ckpt = tmp_path / "model.bin"
    for run, (lr, start) in enumerate([(3e-4, 2.4), (1e-4, 2.1)]):
        with versioning(repo=repo, params={"lr": lr, "batch_size": 32}) as v:
            v.log_metrics({"grad_norm": 1.5 - run}, step=0)
            for epoch in range(2):
                for step in range(epoch * 40, epoch * 40 + 40):
                    loss = start / (1 + step / (15 + 10 * run)) + 0.02 * (step % 3)
                    v.log_metrics({"loss": loss, "learning_rate": lr}, step=step)
                ckpt.write_bytes(f"run {run} epoch {epoch}".encode())
                wer = round(0.34 - 0.05 * epoch - 0.03 * run + 0.01 * (run * epoch), 3)
                v.log_checkpoint(
                    ckpt,
                    metrics={
                        "wer": wer,
                        "eval_loss": round(2.2 * wer, 3),
                        "bleu": 40 - 50 * wer,
                        "epoch": epoch + 1,
                    },
                    message=f"lr {lr:g}, epoch {epoch + 1}",
                )
    ModelCheckpoints(repo).promote("v0.2", "prod")
    return repo


def test_the_report_renders_in_chromium(trained: Path, tmp_path: Path) -> None:
    from PIL import Image  # matplotlib's own dependency: the report extra has it

    comparison = ModelCheckpoints(trained).compare()
    assert {c.metric for c in comparison.curves} == {"loss", "learning_rate", "grad_norm"}
    report = write_html(comparison, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    profile = tmp_path / "chromium-profile"

    _chromium(
        f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", report.as_uri(), profile=profile
    )
    dom = _chromium("--dump-dom", report.as_uri(), profile=profile).stdout

    # The browser built the page: the table and every chart are elements of its DOM.
    # bleu, eval_loss, wer across versions (epoch is a counter: no chart); grad_norm, lr, loss
    assert dom.count("<svg") == 6 and dom.count("<figure") == 6
    assert 'aria-label="epoch' not in dom and "model/v0.4" in dom
    # What people compare leads: metrics, params, their charts, the curves; then the details.
    order = [dom.index(f'id="{i}"') for i in ("compared", "metrics", "curves", "details")]
    assert order == sorted(order)
    assert dom.index(">wer") < order[1] < dom.index(">author<")
    assert dom.index(">epoch") > dom.index(">wer")  # the counter after the metrics
    # lr differs (a row of its own); batch_size is the same in all (collapsed into one line)
    assert ">lr</td>" in dom and ">batch_size</td>" not in dom
    assert re.search(r"the same in all</td><td[^>]*>[^<]*batch_size=32", dom)
    # A run that logged one step is drawn as points (markers), not an empty chart.
    grad = re.search(r'<figure aria-label="grad_norm during training">(.*?)</figure>', dom, re.S)
    markers = re.findall(r'<use [^>]*style="fill: ?#', grad.group(1)) if grad else []
    assert len(markers) >= 4  # a filled marker per version (axis ticks are strokes only)
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colours = image.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colours is not None
    assert len(colours) > 50, "a blank or flat page"
    white = sum(n for n, c in colours if c == (255, 255, 255))
    assert white < 0.97 * WIDTH * HEIGHT, "almost nothing drawn"
    # The charts were drawn, not only the text: their blue lines are on screen.
    blue = sum(
        n for n, c in colours if max(abs(a - b) for a, b in zip(c, CHART_BLUE, strict=True)) <= 12
    )
    assert blue > 500, f"no chart lines on screen ({blue} blue pixels)"

    target = os.environ.get("CPV_DOCS_SCREENSHOT")
    if target:
        page = image.crop((0, 0, WIDTH, _content_height(image)))
        page.quantize(colors=128).save(target, optimize=True)  # small enough for the docs


def _content_height(image: object) -> int:
    """The height down to the last row that is not white (plus a margin)."""
    from PIL import Image, ImageChops

    assert isinstance(image, Image.Image)
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    return min(image.size[1], (box[3] if box else image.size[1]) + 24)
