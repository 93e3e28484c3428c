"""Distributed load and several targets: segments merge into one run, the fleet pools hosts."""

import gzip
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from analysis.load import CampaignError, load_campaign, read_points, read_run_points
from analysis.report import main

DATA = Path(__file__).parent / "data"
COMPARED = ["run", "mode", "round", "status", "requests", "throughput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]


def split_into_segments(campaign: Path, n: int) -> None:
    """Turn every run's k6.json.gz into n segment files, as n load generators would leave them."""
    for run_dir in sorted((campaign / "runs").iterdir()):
        raw = run_dir / "k6.json.gz"
        if not raw.exists():
            continue
        lines = gzip.decompress(raw.read_bytes()).splitlines(keepends=True)
        parts: list[list[bytes]] = [[] for _ in range(n)]
        points = 0
        for line in lines:
            if b'"type":"Point"' in line:
                parts[points % n].append(line)
                points += 1
            else:
                for part in parts:
                    part.append(line)
        for i, part in enumerate(parts, start=1):
            (run_dir / f"k6.seg{i}.json.gz").write_bytes(gzip.compress(b"".join(part)))
        raw.unlink()
        meta = json.loads((run_dir / "run.json").read_text())
        meta["segments"] = [{"loadgen": f"lg{i}", "segment": f"{i}/{n}"} for i in range(1, n + 1)]
        (run_dir / "run.json").write_text(json.dumps(meta))


def runs_csv(folder: Path, out: Path) -> pd.DataFrame:
    assert main([str(folder), "--out", str(out)]) == 0
    return pd.read_csv(out / "runs.csv")


def test_a_runs_segments_merge_into_one_run_equal_to_their_sum(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    shutil.copytree(DATA / "small", whole)
    split = tmp_path / "split"
    shutil.copytree(DATA / "small", split)
    split_into_segments(split, 3)

    run_dir = split / "runs" / "001_native_r1"
    segments = [read_points(run_dir / f"k6.seg{i}.json.gz") for i in (1, 2, 3)]
    merged = read_run_points(sorted(run_dir.glob("k6.seg*.json.gz")))
    assert all(s.requests > 0 for s in segments)
    assert merged.requests == sum(s.requests for s in segments) == read_points(DATA / "small/runs/001_native_r1/k6.json.gz").requests
    assert merged.requests_all_phases == sum(s.requests_all_phases for s in segments)
    assert merged.failed == sum(s.failed for s in segments) and merged.segments == 3

    # Throughput is the sum of the segments' requests over the window; latency percentiles are
    # those of every segment's durations together: the same numbers as one k6 would give.
    a, b = runs_csv(whole, tmp_path / "out-whole"), runs_csv(split, tmp_path / "out-split")
    pd.testing.assert_frame_equal(a[COMPARED], b[COMPARED])
    window = json.loads((run_dir / "run.json").read_text())["measure_duration_s"]
    first = b[b["run"] == "001_native_r1"].iloc[0]
    assert first["throughput_rps"] == pytest.approx(sum(s.requests for s in segments) / window)


def test_a_run_missing_a_segment_is_left_out_and_named(tmp_path: Path) -> None:
    split = tmp_path / "split"
    shutil.copytree(DATA / "small", split)
    split_into_segments(split, 2)
    (split / "runs" / "002_docker_r1" / "k6.seg2.json.gz").unlink()
    campaign = load_campaign(split)
    problem = next(r.problem for r in campaign.runs if r.name == "002_docker_r1")
    assert problem == "1 k6 output file(s) for 2 load generator segment(s): k6.seg1.json.gz"


def fleet_of(tmp_path: Path, hosts: dict[str, str]) -> Path:
    root = tmp_path / "campaign"
    for target, fixture in hosts.items():
        shutil.copytree(DATA / fixture, root / target)
    return root


def test_the_fleet_report_has_each_hosts_gap_and_the_pooled_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = fleet_of(tmp_path, {"sut-a": "small", "sut-b": "article"})
    assert main([str(root)]) == 0
    printed = capsys.readouterr().out
    for target in ("sut-a", "sut-b"):
        assert {p.name for p in (root / target / "report").iterdir()} == {"runs.csv", "gap.json", "report.md", "report.html"}
        assert f"[{target}] docker vs native" in printed or f"[{target}] docker is " in printed
    assert {p.name for p in (root / "report").iterdir()} == {"fleet.json", "fleet.md", "runs.csv", "report.html"}

    fleet = json.loads((root / "report" / "fleet.json").read_text())
    gaps = {}
    for target in ("sut-a", "sut-b"):
        own = json.loads((root / target / "report" / "gap.json").read_text())
        gaps[target] = next(c["gap_pct"] for c in own["comparisons"] if c["mode"] == "docker" and c["metric"] == "throughput_rps")
        row = next(r for r in fleet["per_host"] if r["target"] == target and r["mode"] == "docker" and r["metric"] == "throughput_rps")
        assert row["gap_pct"] == gaps[target]
    pooled = next(p for p in fleet["pooled"] if p["mode"] == "docker" and p["metric"] == "throughput_rps")
    mean = (gaps["sut-a"] + gaps["sut-b"]) / 2
    sd = abs(gaps["sut-a"] - gaps["sut-b"]) / math.sqrt(2)
    half = stats.t.ppf(0.975, 1) * sd / math.sqrt(2)
    assert pooled["hosts"] == 2
    assert pooled["gap_pct"] == pytest.approx(mean, abs=1e-3)
    assert pooled["between_host_sd_pct"] == pytest.approx(sd, abs=1e-3)
    assert pooled["ci95"] == pytest.approx([mean - half, mean + half], abs=1e-3)
    assert pooled["gap_min_pct"] == pytest.approx(min(gaps.values()), abs=1e-4)
    # native_b is only on sut-a: pooled over one host, with that host's own CI and no spread.
    aa = next(p for p in fleet["pooled"] if p["mode"] == "native_b" and p["metric"] == "throughput_rps")
    assert aa["hosts"] == 1 and aa["between_host_sd_pct"] is None
    assert "fleet of 2 hosts: docker vs native throughput gap" in printed

    runs = pd.read_csv(root / "report" / "runs.csv")
    assert set(runs["target"]) == {"sut-a", "sut-b"}
    assert len(runs) == len(pd.read_csv(root / "sut-a/report/runs.csv")) + len(pd.read_csv(root / "sut-b/report/runs.csv"))
    html = (root / "report" / "report.html").read_text()
    assert 'href="../sut-a/report/report.html"' in html and "data:image/png;base64," in html


def test_one_target_of_a_campaign_folder_is_read_as_that_target(tmp_path: Path) -> None:
    root = fleet_of(tmp_path, {"localhost": "small"})
    assert load_campaign(root).path == root / "localhost"
    two = fleet_of(tmp_path / "two", {"sut-a": "small", "sut-b": "small"})
    with pytest.raises(CampaignError, match=r"a campaign of 2 targets \(sut-a, sut-b\); name one"):
        load_campaign(two)


def test_a_target_folder_that_cannot_be_read_fails_only_its_own_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = fleet_of(tmp_path, {"sut-a": "small", "sut-b": "small"})
    (root / "sut-b" / "manifest.json").write_text("{broken")
    assert main([str(root)]) == 0
    captured = capsys.readouterr()
    assert "sut-b/manifest.json:1: invalid JSON" in captured.err
    assert "fleet: target sut-b left out: " in captured.out
    assert (root / "sut-a" / "report" / "report.html").exists() and not (root / "sut-b" / "report").exists()
    data = json.loads((root / "report" / "fleet.json").read_text())
    assert data["targets"] == ["sut-a"] and "invalid JSON" in data["left_out"]["sut-b"]
    assert 'id="left-out-sut-b"' in (root / "report" / "report.html").read_text()
    (root / "sut-a" / "manifest.json").write_text("{broken")
    assert main([str(root)]) == 2, "no target readable: no report"


def test_fleet_links_to_each_target_report_wherever_out_puts_them(tmp_path: Path) -> None:
    root = fleet_of(tmp_path, {"sut-a": "small", "sut-b": "small"})
    out = tmp_path / "elsewhere" / "reports"
    assert main([str(root), "-o", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert 'href="sut-a/report.html"' in html and (out / "sut-a" / "report.html").exists()
    assert "[report](sut-b/report.html)" in (out / "fleet.md").read_text()
