"""A study: N campaigns spread in time, each at its moment, resumable, pooled at the end."""

import io
import json
from dataclasses import replace
from pathlib import Path

import pytest

from labcli import study
from labcli.bench import BenchRequest
from labcli.cli import PROJECT, main


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("45m", 2700), ("1h", 3600), ("1h30m", 5400), ("2h0m5s", 7205)])
def test_durations(text: str, seconds: int) -> None:
    assert study.duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "1d", "soon", "h", "5"])
def test_a_bad_duration_is_named(text: str) -> None:
    with pytest.raises(ValueError, match=f"--every {text!r}: a duration such as 90s"):
        study.duration_s(text)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def request(results: Path) -> BenchRequest:
    return BenchRequest(project=PROJECT, results=results, inventory=PROJECT / "inventory/hosts.yml", campaign="", profile="capacity")


def test_each_occasion_starts_at_its_time_and_the_study_is_pooled(tmp_path: Path) -> None:
    clock, ran, pooled = Clock(1000.0), [], list[list[str]]()

    def pool(argv: list[str]) -> int:
        pooled.append(argv)
        return 0

    def bench(r: BenchRequest) -> int:
        ran.append((r.campaign, r.resume, clock.now))
        (r.results / r.campaign).mkdir(parents=True)
        (r.results / r.campaign / "lab.json").write_text(json.dumps({"rc": 0}))
        clock.now += 1200  # a 20-minute campaign
        return 0

    found, problem = study.plan(tmp_path, "s", 3, 3600, request(tmp_path), clock.now)
    assert problem is None
    out = io.StringIO()
    rc = study.run(found, request(tmp_path), bench, pool, out, clock, clock.sleep)
    assert rc == 0
    assert ran == [("s-o1", False, 1000.0), ("s-o2", False, 4600.0), ("s-o3", False, 8200.0)]
    assert clock.slept == [2400.0, 2400.0]
    assert pooled == [[str(tmp_path / "s-o1"), str(tmp_path / "s-o2"), str(tmp_path / "s-o3"), "--json", str(tmp_path / "s.pool.json")]]
    recorded = json.loads((tmp_path / "s.study.json").read_text())
    assert recorded["campaigns"] == ["s-o1", "s-o2", "s-o3"] and recorded["every_s"] == 3600
    assert "occasion 2/3: s-o2 starts at" in out.getvalue()


def test_a_study_resumes_keeping_what_finished_and_resuming_the_cut_campaign(tmp_path: Path) -> None:
    clock = Clock(1000.0)
    found, _ = study.plan(tmp_path, "s", 3, 600, request(tmp_path), clock.now)
    (tmp_path / "s-o1").mkdir()
    (tmp_path / "s-o1" / "lab.json").write_text(json.dumps({"rc": 0}))
    (tmp_path / "s-o2").mkdir()
    (tmp_path / "s-o2" / "lab.json").write_text(json.dumps({"rc": 130}))
    clock.now = 5000.0  # hours later: every occasion's time has passed
    again, problem = study.plan(tmp_path, "s", 3, 600, request(tmp_path), clock.now)
    assert problem is None and again.started_at == found.started_at
    ran: list[tuple[str, bool]] = []

    def bench(r: BenchRequest) -> int:
        ran.append((r.campaign, r.resume))
        return 0 if r.campaign == "s-o2" else 7

    out = io.StringIO()
    assert study.run(again, request(tmp_path), bench, lambda argv: 0, out, clock, clock.sleep) == 7
    assert ran == [("s-o2", True), ("s-o3", False)] and clock.slept == []
    assert "s-o1 finished earlier, kept" in out.getvalue() and "occasion 3 ended with exit 7" in out.getvalue()


def test_a_study_continued_with_other_settings_is_refused_by_name(tmp_path: Path) -> None:
    study.plan(tmp_path, "s", 3, 600, request(tmp_path), 0.0)
    _, problem = study.plan(tmp_path, "s", 4, 600, request(tmp_path), 0.0)
    assert problem == f"{tmp_path / 's.study.json'}: the study has occasions 3, not 4"


def test_the_cli_runs_a_study_and_refuses_its_wrong_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[BenchRequest] = []

    def run(r: BenchRequest, tty: bool | None = None) -> int:
        seen.append(r)
        return 0

    monkeypatch.setattr("labcli.bench.run", run)
    monkeypatch.setattr("analysis.occasions.main", lambda argv: 0)
    monkeypatch.setattr("time.sleep", lambda s: None)
    base = ["bench", "--results", str(tmp_path), "--profile", "smoke_concurrent"]
    assert main([*base, "--occasions", "2", "--every", "1s", "--study", "st"]) == 0
    assert [r.campaign for r in seen] == ["st-o1", "st-o2"] and {r.profile for r in seen} == {"smoke_concurrent"}
    assert main([*base, "--every", "1h"]) == 2
    assert "--every and --study go with --occasions N" in capsys.readouterr().err
    assert main([*base, "--occasions", "2", "--campaign", "c"]) == 2
    assert "give --study, not --campaign" in capsys.readouterr().err
    assert main([*base, "--occasions", "2", "--every", "often"]) == 2
    assert "--every 'often'" in capsys.readouterr().err
    assert replace(seen[0], campaign="x").profile == "smoke_concurrent"
