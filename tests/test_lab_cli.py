"""`lab bench` and `lab status` on this machine: a smoke campaign through ansible-runner (the
session's shared ladder campaign, conftest.py), a failing one, and one interrupted then resumed.
Asserts on runner artifacts and exit codes, not on Ansible's stdout."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from labrun import LAB, ROOT, Campaign


def lab(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LAB), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def events(folder: Path) -> list[dict]:
    """ansible-runner's job events in the order they happened (by counter: the file names sort as text)."""
    return sorted((json.loads(p.read_text()) for p in (folder / "job_events").glob("*.json")), key=lambda e: e["counter"])


def facts(folder: Path, name: str) -> list[dict]:
    found = []
    for event in events(folder):
        res = (event.get("event_data") or {}).get("res") or {}
        if event.get("event") == "runner_on_ok" and name in (res.get("ansible_facts") or {}):
            found.append(res["ansible_facts"][name])
    return found


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


def test_lab_is_installed_on_the_venvs_path() -> None:
    assert LAB.exists(), "make's venv installs the project (pip install --editable .)"


def test_a_smoke_campaign_through_lab_bench(ladder_campaign: Campaign) -> None:
    smoke = ladder_campaign.cli
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-2000:]
    assert "TASK [" not in smoke.stdout and "PLAY RECAP" not in smoke.stdout, "the progress shows plays and rounds, not tasks"
    lines = smoke.stdout.strip().splitlines()
    assert sum(1 for line in lines if line.startswith("  run ") and ": ok " in line) == 2, "one line per finished round ('run 1/2')"
    assert "costlier" in smoke.stdout or "cheaper" in smoke.stdout or "no difference" in smoke.stdout
    assert lines[-1] == f"fleet report: {ladder_campaign.home / 'report' / 'report.html'}"
    artifacts = ladder_campaign.artifacts
    assert (artifacts / "status").read_text() == "successful" and (artifacts / "rc").read_text() == "0"
    log = (artifacts / "stdout").read_text()
    assert "TASK [lab : Run the round in one call (restart, place, prime, load, check, record)]" in log and "PLAY RECAP" in log, (
        "the full log keeps what the progress hides"
    )
    published = facts(artifacts, "lab_event")
    records = [e["record"] for e in published if e["type"] == "record"]
    assert [r["round"] for r in records] == [1, 2] and all(r["status"] == "ok" for r in records)
    assert [e["primary_metric"] for e in published if e["type"] == "plan"] == ["cpu_us_per_request"]
    assert [e["round"] for e in published if e["type"] == "run"] == [1, 2]
    assert [e["type"] for e in published if e["type"] == "precision"] == ["precision"] * 2
    lab_file = json.loads((ladder_campaign.home / "lab.json").read_text())
    assert lab_file["rc"] == 0 and lab_file["status"] == "successful"


def test_status_shows_the_complete_campaign(ladder_campaign: Campaign) -> None:
    status = lab("status", "--results", str(ladder_campaign.results))
    assert status.returncode == 0
    row = next(line for line in status.stdout.splitlines() if line.startswith(ladder_campaign.campaign_id))
    assert "smoke_ladder" in row and "2/0/0" in row and " complete " in row and "cpu_us_per_request: docker" in row


def test_a_failing_campaign_names_host_task_and_message(results: Path) -> None:
    failed = lab("bench", "--profile", "no_such_profile", "--results", str(results), "--campaign", "cli-bad", "--plain")
    assert failed.returncode != 0
    paragraph = next(line for line in failed.stdout.splitlines() if line.startswith("failed on "))
    assert "failed on localhost, play '" in paragraph and "no_such_profile" in paragraph
    assert f"full log: {results / 'cli-bad' / 'ansible' / 'cli-bad' / 'stdout'}" in failed.stdout
    assert (results / "cli-bad" / "ansible" / "cli-bad" / "status").read_text() == "failed"


def test_an_interrupted_campaign_is_listed_with_its_resume_command_and_resumes(results: Path) -> None:
    argv = [
        str(LAB),
        "bench",
        "--profile",
        "smoke_concurrent",
        "--modes",
        "native,docker",  # two modes: this test is about the interruption, not the modes
        "--rounds",
        "3",
        "--results",
        str(results),
        "--campaign",
        "cli-int",
        "--plain",
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    first = results / "cli-int" / "localhost" / "runs" / "001_concurrent_r1" / "run.json"
    deadline = time.monotonic() + 600

    def finished() -> bool:  # run.json exists from the round's start (status running) until its record replaces it
        try:
            return bool(json.loads(first.read_text())["status"] == "ok")
        except (OSError, ValueError, KeyError):
            return False

    while not finished() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert finished(), "the first round never finished"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on a terminal
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "resume with: lab bench --resume cli-int" in out
    status = lab("status", "--results", str(results))
    row = next(line for line in status.stdout.splitlines() if line.startswith("cli-int"))
    assert " interrupted " in row
    assert "cli-int: lab bench --resume cli-int" in status.stdout

    resumed = lab("bench", "--resume", "cli-int", "--results", str(results), "--plain")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert (results / "cli-int" / "ansible" / "cli-int.2" / "status").read_text() == "successful"
    records = {p.name: json.loads((p / "run.json").read_text()) for p in (results / "cli-int" / "localhost" / "runs").iterdir()}
    done = sorted(name for name, meta in records.items() if meta["status"] == "ok")
    assert len(done) == 3 and done[0] == "001_concurrent_r1", "the first round is kept, the others are run"
    assert {meta["status"] for name, meta in records.items() if name not in done} <= {"running"}, "a cut round stays as it was"
    row = next(line for line in lab("status", "--results", str(results)).stdout.splitlines() if line.startswith("cli-int"))
    assert " complete " in row and "3/0/0" in row


def test_the_smoke_campaigns_report_opens_in_a_browser_with_every_section(ladder_campaign: Campaign, tmp_path: Path) -> None:
    from analysis.tests.test_html import headless

    page = ladder_campaign.folder / "report" / "report.html"
    dom = headless("--dump-dom", page.as_uri(), profile=tmp_path / "chromium").stdout
    for section in ("plot-forest", "plot-rounds", "plot-latency", "plot-series", "health-summary", "health-table", "gaps", "facts"):
        assert f'id="{section}"' in dom, section
    # k6's own dashboard (lab_k6_dashboard) is kept beside each round's raw output and linked.
    for run in (ladder_campaign.folder / "runs").iterdir():
        assert (run / "dashboard.html").stat().st_size > 10_000
    assert dom.count(">k6 dashboard</a>") == 2
