"""The concurrent design on this machine: every mode loaded at once, equal-weight cgroups, ASLR
off during the measure phase and restored, one CPU window per round, the stopping rule."""

import json
from pathlib import Path

import pytest

from labrun import ansible_playbook

PHASES = ("playbooks/preflight.yml", "playbooks/deploy.yml", "playbooks/verify.yml", "playbooks/measure.yml", "playbooks/report.yml")
MODES = ["docker", "docker_host", "native"]


def aslr() -> str:
    return Path("/proc/sys/kernel/randomize_va_space").read_text().strip()


def campaign(results: Path, campaign_id: str, **extra: object) -> tuple[Path, str]:
    before = aslr()
    settings = {"lab_profile": "smoke_concurrent", "lab_results_dir": str(results), "lab_campaign_id": campaign_id} | extra
    result = ansible_playbook(*PHASES, "-e", json.dumps(settings))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert aslr() == before, "the measure phase must restore kernel.randomize_va_space"
    return results / campaign_id / "localhost", result.stdout


@pytest.fixture(scope="module")
def rounds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    # ASLR off (not the default) so that the disable-and-restore path is exercised.
    return campaign(tmp_path_factory.mktemp("results"), "ci-concurrent", lab_disable_aslr=True)


def test_each_round_loads_every_mode_at_once_over_one_cpu_window(rounds: tuple[Path, str]) -> None:
    folder, _ = rounds
    names = sorted(p.name for p in (folder / "runs").iterdir())
    assert names == ["001_concurrent_r1", "002_concurrent_r2"]
    positions = []
    for name in names:
        meta = json.loads((folder / "runs" / name / "run.json").read_text())
        assert meta["status"] == "ok", meta["error"]
        assert meta["design"] == "concurrent" and sorted(meta["modes"]) == MODES
        assert sorted(meta["per_mode"]) == MODES
        windows = {m["window_s"] for m in meta["per_mode"].values()}
        # The last measured requests end up to one latency after the 4 s phase (graceful stop): 4.0003 s seen.
        assert len(windows) == 1 and 2.0 < windows.pop() <= 4.25, "every mode over the same window, about the 4 s measured phase"
        for mode in MODES:
            values = meta["per_mode"][mode]
            assert values["requests"] > 100 and 50 < values["cpu_us_per_request"] < 5000
        # Saturated: the modes together keep the service core busy.
        assert meta["service_core_busy"] > 0.8
        positions.append(meta["modes"])
        for raw in ("k6.json.gz", "cpu.jsonl", "summary.json", "time.json", "started.json"):
            assert (folder / "runs" / name / raw).stat().st_size > 0
    assert positions[0] != positions[1], "positions rotate from round to round"


def test_every_mode_is_in_its_own_equal_weight_cgroup(rounds: tuple[Path, str]) -> None:
    folder, _ = rounds
    verify = json.loads((folder / "verify.json").read_text())
    manifest = json.loads((folder / "manifest.json").read_text())
    for accounting in (verify["accounting"], manifest["accounting"]):
        assert accounting["equal_weight"] is True and accounting["parent"] == "/lab"
        for mode in MODES:
            entry = accounting["modes"][mode]
            assert entry["cgroup"] == f"/lab/{mode}" and entry["cpu_shares"] == 1024 and entry["all_inside"]
            for cgroups in entry["processes"].values():
                assert all(path == f"/lab/{mode}" or path.startswith(f"/lab/{mode}/") for path in cgroups.values())
        # The bridge mode's docker-proxy is accounted with it.
        assert "docker-proxy" in accounting["modes"]["docker"]["comm"]
    assert verify["checks"]["equal_weight_accounting"] is True
    assert manifest["processes"]["aslr_disabled"] is True
    assert manifest["design"] == "concurrent" and manifest["primary_metric"] == "cpu_us_per_request"


def test_the_report_says_what_the_campaign_resolves(rounds: tuple[Path, str]) -> None:
    folder, stdout = rounds
    gap = json.loads((folder / "report" / "gap.json").read_text())
    assert gap["primary_metric"] == "cpu_us_per_request" and gap["design"] == "concurrent"
    assert sorted(gap["resolution"]) == ["docker", "docker_host"]
    for mode, resolution in gap["resolution"].items():
        assert resolution["n_pairs"] == 2 and resolution["ci_half_width_pp"] > 0
        assert any(line.startswith(f"{mode}: this campaign resolves ±") for line in gap["verdicts"])
    assert any("these CIs are this occasion's" in line and "lab pool results/" in line for line in gap["verdicts"])
    assert "CPU per request" in stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["precision"]["stop_reason"] == "all 2 rounds allowed were run"


def test_the_stopping_rule_stops_at_the_target_width_or_the_budget(tmp_path: Path) -> None:
    # A 10,000 pp target is reached as soon as the minimum rounds (2) are done.
    folder, _ = campaign(tmp_path, "wide", lab_target_ci_pp=10000, lab_max_rounds=5)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(list((folder / "runs").iterdir())) == 2
    assert manifest["precision"]["stop_reason"].startswith("every primary comparison reached the target half-width")
    # A budget of 0.01 minutes is spent by the first round: it stops there, saying so.
    folder, _ = campaign(tmp_path, "budget", lab_target_ci_pp=0.01, lab_max_minutes=0.01, lab_max_rounds=5)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(list((folder / "runs").iterdir())) == 1
    assert "time budget of 0.01 min" in manifest["precision"]["stop_reason"]
