"""The HTML report renders in a real browser: headline, plots, no network needed."""

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from analysis.report import main

DATA = Path(__file__).parent / "data"


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
    return found


def headless(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_html_renders_headline_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([str(DATA / "small"), "-o", str(out)]) == 0
    page = (out / "report.html").as_uri()
    verdict = json.loads((out / "gap.json").read_text())["verdicts"][0]

    dom = headless("--dump-dom", page, profile=tmp_path / "p1").stdout
    assert 'id="headline-1"' in dom and verdict.split(" (")[0] in dom
    assert dom.count('src="data:image/png;base64,') == 3
    for section in ('id="plot-forest"', 'id="plot-rounds"', 'id="plot-latency"', 'id="health-summary"', 'id="health-table"', 'id="gaps"'):
        assert section in dom, section
    assert "http://" not in dom.split("<body>")[0] and "<script" not in dom
    assert dom.index('id="plot-forest"') < dom.index('id="health-table"'), "the forest plot comes right after the verdict"
    assert all('alt=""' not in img for img in dom.split("<img")[1:]), "every plot has alt text"
    # The health panel: one row per run, the left-out one with its reason and a link to its raw folder.
    runs = json.loads((out / "gap.json").read_text())["warnings"]
    assert any("left out" in w for w in runs)
    assert 'href="../' in dom and "left out</td>" in dom

    shot = tmp_path / "shot.png"
    headless(f"--screenshot={shot}", "--window-size=1200,2000", page, profile=tmp_path / "p2")
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] == 2000 and pixels.shape[1] == 1200
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"


def test_the_forest_plot_draws_gap_jsons_numbers(tmp_path: Path) -> None:
    from analysis.model import build
    from analysis.render import forest_figure, forest_rows

    report = build(DATA / "small")
    rows = forest_rows(report)
    gap = {(c["mode"], c["metric"]): c for c in report.gap_json()["comparisons"]}
    figure = forest_figure(report)
    (ax,) = figure.axes
    segments = [seg for collection in ax.collections if hasattr(collection, "get_segments") for seg in collection.get_segments()]
    drawn = sorted((round(float(seg[0][0]), 4), round(float(seg[1][0]), 4)) for seg in segments)
    assert drawn == sorted((gap[(r["mode"], r["metric"])]["ci95"][0], gap[(r["mode"], r["metric"])]["ci95"][1]) for r in rows if r["ci95"])
    points = sorted(round(float(np.asarray(line.get_xdata())[0]), 4) for line in ax.lines if line.get_marker() == "o")
    assert points == sorted(gap[(r["mode"], r["metric"])]["gap_pct"] for r in rows)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0].endswith("(primary)") and len(labels) == len(rows)


def test_the_first_screen_at_1280_px_shows_the_verdict_and_the_forest_plot(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([str(DATA / "small"), "-o", str(out)]) == 0
    shot = tmp_path / "first.png"
    headless(f"--screenshot={shot}", "--window-size=1280,800", (out / "report.html").as_uri(), profile=tmp_path / "p3")
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (800, 1280)
    # The forest plot (blue CI bars) is on the first screen: enough C0-blue pixels in it.
    blue = (abs(pixels[..., 0] - 0.12) < 0.08) & (abs(pixels[..., 1] - 0.47) < 0.08) & (abs(pixels[..., 2] - 0.71) < 0.08)
    assert blue.sum() > 200, "no forest plot in the first 800 px"


def test_the_forest_plot_puts_the_primary_metric_on_top(tmp_path: Path) -> None:
    from analysis.model import build
    from analysis.render import forest_figure

    campaign = tmp_path / "small"
    shutil.copytree(DATA / "small", campaign)
    manifest = json.loads((campaign / "manifest.json").read_text())
    (campaign / "manifest.json").write_text(json.dumps(manifest | {"primary_metric": "latency_p95_ms"}))
    (ax,) = forest_figure(build(campaign)).axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "latency_p95_ms (primary)" in labels[0] and not any("(primary)" in label for label in labels[2:])
