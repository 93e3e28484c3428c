"""The concurrent design on this machine: every mode of the ladder loaded at once (the natives,
the image's root filesystem, the containers with and without seccomp, docker_host's twin, the
bridge through NAT and through the proxy, each with its twin), equal-weight cgroups, each mode's equivalence checks,
ASLR off during the measure phase and restored, one CPU window per round, the decomposition,
the stopping rule."""

import json
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from labrun import Campaign, ansible_playbook, wait_for_side_tests

PHASES = ("playbooks/preflight.yml", "playbooks/deploy.yml", "playbooks/verify.yml", "playbooks/measure.yml", "playbooks/report.yml")
MODES = sorted(
    ["native", "native_rootfs", "docker_unconfined", "docker_host", "docker_host_b", "docker", "docker_b", "docker_proxy", "docker_proxy_b"]
)
NAT_ADDRESS = "172.17.0.1"


def aslr() -> str:
    return Path("/proc/sys/kernel/randomize_va_space").read_text().strip()


def campaign(results: Path, campaign_id: str, profile: str = "smoke_concurrent", **extra: object) -> tuple[Path, str]:
    wait_for_side_tests()  # the stopping rule counts the rounds that are not left out
    before = aslr()
    settings = {"lab_profile": profile, "lab_results_dir": str(results), "lab_campaign_id": campaign_id} | extra
    result = ansible_playbook(*PHASES, "-e", json.dumps(settings))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert aslr() == before, "the measure phase must restore kernel.randomize_va_space"
    return results / campaign_id / "localhost", result.stdout


@pytest.fixture(scope="module")
def rounds(ladder_campaign: Campaign) -> tuple[Path, str]:
    """The session's smoke_ladder campaign (conftest.py): its folder and ansible-playbook's output."""
    return ladder_campaign.folder, ladder_campaign.log


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
            assert values["requests"] > 50 and 50 < values["cpu_us_per_request"] < 5000
        # Saturated: the modes together keep the service core busy.
        assert meta["service_core_busy"] > 0.8
        # Interrupt time on the service core is recorded (tick-sampled, so possibly 0), and the
        # accounting held for every mode after the window.
        assert meta["service_core_irq"] is not None and 0 <= meta["service_core_irq"] < 0.5
        assert sorted(meta["accounting"]) == MODES and all(a["all_inside"] and a["all_pinned"] for a in meta["accounting"].values())
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
        # A bridge mode's docker-proxy is accounted with it, on either client path.
        for bridge in ("docker", "docker_b", "docker_proxy", "docker_proxy_b"):
            assert "docker-proxy" in accounting["modes"][bridge]["comm"], bridge
    assert verify["checks"]["equal_weight_accounting"] is True
    # Modes start on both cores (their interpreters import side by side) and placement pins every
    # thread of every process to the service core: a container's own cpuset still allows both.
    assert manifest["cpusets"]["start"] == "0-1" and manifest["cpusets"]["service"] == "1"
    for mode in MODES:
        assert set(manifest["accounting"]["modes"][mode]["cpus"].values()) == {"1"}, mode
    inspect = subprocess.run(["docker", "inspect", "--format", "{{.HostConfig.CpusetCpus}}", "lab-docker"], capture_output=True, text=True)
    assert inspect.stdout.strip() == "0-1"
    # Every kind passed the same equivalence checks: payload, packages, interpreter, listeners.
    assert all(verify["checks"].values()), verify["checks"]
    assert sorted(verify["modes"]) == MODES
    kinds = {m: (f["kind"], f["network"], f["client"], f["seccomp"]) for m, f in manifest["modes"].items()}
    assert kinds["native_rootfs"] == ("rootfs", "host", "loopback", None)
    assert kinds["docker_unconfined"] == ("docker", "host", "loopback", "unconfined")
    assert kinds["docker"] == ("docker", "bridge", "remote", "default") and manifest["modes"]["docker"]["address"] == NAT_ADDRESS
    assert (
        kinds["docker_proxy"] == ("docker", "bridge", "loopback", "default") and manifest["modes"]["docker_proxy"]["address"] == "127.0.0.1"
    )
    # The bridge rungs' twins: the same definitions on ports of their own.
    assert kinds["docker_b"] == kinds["docker"] and manifest["modes"]["docker_b"]["address"] == NAT_ADDRESS
    assert kinds["docker_proxy_b"] == kinds["docker_proxy"] and manifest["modes"]["docker_proxy_b"]["address"] == "127.0.0.1"
    assert manifest["processes"]["aslr_disabled"] is True
    assert manifest["design"] == "concurrent" and manifest["primary_metric"] == "cpu_us_per_request"


def test_the_report_says_what_the_campaign_resolves(rounds: tuple[Path, str]) -> None:
    folder, stdout = rounds
    gap = json.loads((folder / "report" / "gap.json").read_text())
    assert gap["primary_metric"] == "cpu_us_per_request" and gap["design"] == "concurrent"
    assert sorted(gap["resolution"]) == [m for m in MODES if m != "native"]
    for mode, resolution in gap["resolution"].items():
        assert resolution["n_pairs"] == 2 and resolution["ci_half_width_pp"] > 0
        assert any(line.startswith(f"{mode}: this campaign resolves ±") for line in gap["verdicts"])
    assert any("these CIs are this occasion's" in line and "lab pool results/" in line for line in gap["verdicts"])
    assert "CPU per request" in stdout
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["precision"]["stop_reason"] == "all 2 rounds allowed were run"


def test_the_report_decomposes_the_cost_and_checks_the_container_twin(rounds: tuple[Path, str]) -> None:
    folder, _ = rounds
    gap = json.loads((folder / "report" / "gap.json").read_text())
    ladder = gap["ladder"]
    assert ladder["rungs"] == ["native", "native_rootfs", "docker_unconfined", "docker_host", "docker", "docker_proxy"]
    assert [(s["from"], s["to"]) for s in ladder["steps"]] == list(zip(ladder["rungs"], ladder["rungs"][1:], strict=False))
    assert all(s["n_pairs"] == 2 and s["ci95"] for s in ladder["steps"]) and ladder["total"]["to"] == "docker_proxy"
    assert abs(ladder["log_sum_pct"] - ladder["total"]["gap_pct"]) < 0.01
    # adjust_for_speed is on (as in ladder), but two rounds leave no fit: the plain intervals stand, said so.
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["profile"]["adjust_for_speed"] is True
    assert not any(s["ci_at_rounds_speeds"] for s in ladder["steps"]) and ladder["ci_note"] is None
    # Each rung with twins is their mean a round (rungs_with_twins); each twin is its mode's A/A.
    assert ladder["instances"]["docker_host"] == ["docker_host", "docker_host_b"]
    assert ladder["instances"]["docker"] == ["docker", "docker_b"] and ladder["instances"]["docker_proxy"] == [
        "docker_proxy",
        "docker_proxy_b",
    ]
    assert ladder["instances"]["native"] == ["native"]
    twins = {t["mode"]: t for t in gap["twins"]}
    assert {m: t["twin_of"] for m, t in twins.items()} == {
        "docker_b": "docker",
        "docker_host_b": "docker_host",
        "docker_proxy_b": "docker_proxy",
    }
    assert all(t["n_pairs"] == 2 for t in twins.values())
    assert any(line.startswith("where the cost comes from: docker_proxy vs native") for line in gap["verdicts"])
    assert "Where the cost comes from" in (folder / "report" / "report.md").read_text()


def proxy_cpu_ticks(port: int) -> int:
    """utime + stime of the docker-proxy listening on `port`."""
    listing = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    (pid,) = {int(p) for p in re.findall(r'"docker-proxy",pid=(\d+)', listing)}
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def test_the_nat_path_goes_past_docker_proxy_and_the_loopback_path_through_it(rounds: tuple[Path, str]) -> None:
    """Load for a few seconds on each bridge mode as the lab sends it (the NAT mode at lab_nat_address,
    the proxy mode on loopback): only the loopback path's proxy spends CPU."""
    ports = {"docker": 8201, "docker_proxy": 8203}
    before = {m: proxy_cpu_ticks(p) for m, p in ports.items()}
    for address, port in ((NAT_ADDRESS, 8201), ("127.0.0.1", 8203)):
        for _ in range(400):
            with urllib.request.urlopen(f"http://{address}:{port}/records", timeout=5) as answer:
                assert answer.status == 200
    spent = {m: proxy_cpu_ticks(p) - before[m] for m, p in ports.items()}
    assert spent["docker"] <= 2 < spent["docker_proxy"], spent


def test_the_stopping_rule_stops_at_the_target_width_or_the_budget_in_either_kind_of_round(tmp_path: Path) -> None:
    # A 10,000 pp target is reached as soon as the minimum rounds (2) are done. Its rounds run
    # task by task (round_tasks.yml), as with load generators elsewhere; the others in one call.
    two = ["native", "docker"]  # this test is about when a campaign stops, not its modes
    folder, _ = campaign(tmp_path, "wide", lab_modes=two, lab_target_ci_pp=10000, lab_max_rounds=5, _lab_round_in_one=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(list((folder / "runs").iterdir())) == 2
    assert manifest["precision"]["stop_reason"].startswith("every primary comparison reached the target half-width")
    for run in (folder / "runs").iterdir():
        record = json.loads((run / "run.json").read_text())
        assert record["status"] == "ok", record["error"]
        assert set(record["steps_s"]) == {"prepare", "after", "problems"} and record["per_mode"]["docker"]["cpu_s"] > 0
        assert all(a["all_inside"] and a["all_pinned"] for a in record["accounting"].values())
    # A budget of 0.01 minutes is spent by the first round: it stops there, saying so.
    folder, _ = campaign(tmp_path, "budget", lab_modes=two, lab_target_ci_pp=0.01, lab_max_minutes=0.01, lab_max_rounds=5)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(list((folder / "runs").iterdir())) == 1
    assert "time budget of 0.01 min" in manifest["precision"]["stop_reason"]
