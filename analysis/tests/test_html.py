"""The HTML report renders in a real browser: headline, plots, no network needed."""

import json
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
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
    assert "http://" not in dom.split("<body>")[0] and "<script" not in dom

    shot = tmp_path / "shot.png"
    headless(f"--screenshot={shot}", "--window-size=1200,2000", page, profile=tmp_path / "p2")
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] == 2000 and pixels.shape[1] == 1200
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
