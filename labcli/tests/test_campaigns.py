"""`lab status` on complete, failed, interrupted and running campaigns built on disk."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from labcli.campaigns import read, scan, table


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def campaign(
    root: Path,
    cid: str,
    *,
    finished: bool,
    statuses: list[str],
    design: str = "sequential",
    precision: dict[str, Any] | None = None,
    rounds: int = 2,
) -> Path:
    target = root / cid / "lab-1"
    profile = {"name": "smoke", "rounds": rounds, "modes": ["native", "docker"]}
    write(
        target / "manifest.json",
        {
            "campaign_id": cid,
            "design": design,
            "profile": profile,
            "modes": {"native": {}, "docker": {}},
            "precision": precision or {},
            "finished_at": "2026-11-29T10:00:00Z" if finished else None,
        },
    )
    for n, status in enumerate(statuses, 1):
        write(target / "runs" / f"{n:03d}_native_r{n}" / "run.json", {"status": status})
    return root / cid


def test_complete_campaign_with_its_headline(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "c1", finished=True, statuses=["ok"] * 4)
    write(
        folder / "lab-1" / "report" / "gap.json",
        {
            "primary_metric": "cpu_us_per_request",
            "comparisons": [
                {"mode": "docker", "metric": "cpu_us_per_request", "gap_pct": 26.87, "ci95": [25.34, 28.41]},
                {"mode": "docker", "metric": "throughput_rps", "gap_pct": -20.0, "ci95": [-21.0, -19.0]},
            ],
        },
    )
    c = read(folder)
    assert (c.state, c.runs_ok, c.runs_failed, c.runs_left, c.resume) == ("complete", 4, 0, 0, "")
    assert c.headline == "cpu_us_per_request: docker +26.87% [25.34, 28.41]"


def test_failed_runs_and_runs_left_in_an_interrupted_campaign(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "c2", finished=False, statuses=["ok", "failed", "ok"])
    proc = subprocess.Popen(["true"])
    proc.wait()
    write(folder / "lab.json", {"pid": proc.pid, "started_at": "x", "inventory": "/inv/hosts.yml"})
    c = read(folder)
    assert (c.state, c.runs_ok, c.runs_failed, c.runs_left) == ("interrupted", 2, 1, 1)
    assert c.resume == "lab bench --resume c2 --inventory /inv/hosts.yml"


def test_running_while_the_lab_process_lives(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "c3", finished=False, statuses=["ok"])
    write(folder / "lab.json", {"pid": os.getpid(), "started_at": "x"})
    assert read(folder).state == "running"
    write(folder / "lab.json", {"pid": os.getpid(), "started_at": "x", "rc": 0})
    assert read(folder).state == "interrupted"  # ended without closing its manifest


def test_a_campaign_that_stops_on_precision_has_no_runs_left_count(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "c4", finished=True, statuses=["ok"] * 3, design="concurrent", precision={"max_minutes": 15})
    assert read(folder).runs_left is None
    assert "3/0/-" in table([read(folder)])


def test_unreadable_and_empty_campaigns_say_so_and_do_not_stop_the_list(tmp_path: Path) -> None:
    bad = tmp_path / "c5" / "lab-1" / "manifest.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    (tmp_path / "c6").mkdir()
    campaign(tmp_path, "c7", finished=True, statuses=["ok"])
    rows = {c.id: c for c in scan(tmp_path)}
    assert rows["c5"].state == "unreadable" and "c5/lab-1/manifest.json: not valid JSON" in rows["c5"].problem
    assert rows["c6"].problem == "no manifest yet" and rows["c6"].state == "interrupted"
    assert rows["c7"].state == "complete"
    text = table(scan(tmp_path))
    assert text.splitlines()[0].split() == ["campaign", "profile", "modes", "ok/failed/left", "state", "headline"]
    assert "lab bench --resume c6" in text


def test_no_results_folder_is_no_campaigns(tmp_path: Path) -> None:
    assert scan(tmp_path / "absent") == []
    assert table([]) == "no campaigns"


def test_a_run_still_running_is_neither_ok_nor_failed(tmp_path: Path) -> None:
    folder = campaign(tmp_path, "c8", finished=False, statuses=["ok", "running"], rounds=2)
    c = read(folder)
    assert (c.runs_ok, c.runs_failed, c.runs_left) == (1, 0, 3)
