"""Faults injected into real campaigns: every result is kept, failures are named, the lab recovers.

Loopback and the lab's own containers only; every wait bounded (tests/faults.py).
"""

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from faults import DAEMONS, FAULT_PROFILE, PHASES_AFTER_BUILD, CampaignRun, pid_of, wait_until
from labrun import ROOT, ansible_playbook

DB_PID = DAEMONS / "mongodb.pid"


def stop_db() -> None:
    subprocess.run(["start-stop-daemon", "--stop", "--pidfile", str(DB_PID), "--retry", "TERM/10/KILL/5"], check=True)


def db_answers() -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", 27017)) == 0


@pytest.fixture
def db_restored() -> Iterator[None]:
    """Whatever a test does to the database, the lab's database runs again afterwards."""
    yield
    if not db_answers():  # a test that brought it back itself has nothing left to restore
        result = ansible_playbook("playbooks/database.yml")
        assert result.returncode == 0, result.stdout[-3000:]
    assert db_answers()


def statuses(run: CampaignRun) -> dict[str, str]:
    return {name: str(meta["status"]) for name, meta in run.runs().items()}


def test_a_service_killed_mid_run_fails_that_run_and_comes_back_for_the_next_round(tmp_path: Path) -> None:
    """One campaign, two kills in round 1: the native daemon (SIGKILL) and the mode's container."""
    kills = {
        "native": lambda: os.kill(pid_of("service-native"), signal.SIGKILL),
        "docker": lambda: docker.from_env().containers.get("lab-docker").kill(),
    }
    run = CampaignRun(tmp_path, "kills").start()
    wait_until(run.run_order, 240, "the campaign's manifest")
    first_round = [str(entry["mode"]) for entry in run.run_order() or [] if int(str(entry["round"])) == 1]
    assert sorted(first_round) == sorted(kills), first_round
    for mode in first_round:  # in the order the campaign runs them
        run.wait_for_measuring(mode, 1)
        kills[mode]()
    rc, log = run.finish()
    assert rc == 0, log[-3000:]
    runs = run.runs()
    assert len(runs) == 4, runs.keys()
    assert sorted(statuses(run).values()) == ["failed", "failed", "ok", "ok"]
    for mode in kills:
        killed = next(meta for meta in runs.values() if meta["mode"] == mode and meta["round"] == 1)
        later = next(meta for meta in runs.values() if meta["mode"] == mode and meta["round"] == 2)
        assert killed["status"] == "failed", killed
        assert "k6 exited 99" in str(killed["error"]) or "unhealthy after the run" in str(killed["error"]), killed["error"]
        assert later["status"] == "ok" and later["recovered"] is True, later
        killed_dir = next(run.folder.glob(f"runs/*_{mode}_r1"))
        assert (killed_dir / "k6.json.gz").stat().st_size > 0 and (killed_dir / "k6.stderr.txt").exists()


def test_abort_policy_stops_after_the_failed_run(tmp_path: Path) -> None:
    run = CampaignRun(tmp_path, "abort", lab_on_failure="abort").start()
    run.wait_for_measuring("native", 1)
    os.kill(pid_of("service-native"), signal.SIGKILL)
    rc, log = run.finish()
    assert rc != 0
    assert "failed and lab_on_failure is abort" in log
    assert any(meta["status"] == "failed" for meta in run.runs().values())
    # The service comes back for the next campaign.
    result = ansible_playbook("playbooks/deploy.yml", "-e", json.dumps({"lab_profile": "smoke"}))
    assert result.returncode == 0


def test_database_stopped_before_verify_fails_verify_naming_it(tmp_path: Path, db_restored: None) -> None:
    stop_db()
    result = ansible_playbook("playbooks/verify.yml", "-e", json.dumps({"lab_results_dir": str(tmp_path), "lab_campaign_id": "no-db"}))
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "the database at 127.0.0.1:27017 does not answer" in output
    assert not list(tmp_path.glob("no-db/*/runs/*"))


def test_database_stopped_mid_run_fails_that_run_and_later_runs_proceed(tmp_path: Path, db_restored: None) -> None:
    run = CampaignRun(tmp_path, "db-down").start()
    run.wait_for_measuring("native", 1)
    stop_db()
    run.wait_for_run_json("native", 1)
    restored = ansible_playbook("playbooks/database.yml")
    assert restored.returncode == 0, restored.stdout[-2000:]
    rc, log = run.finish()
    assert rc == 0, log[-3000:]
    runs = run.runs()
    hit = next(meta for meta in runs.values() if meta["mode"] == "native" and meta["round"] == 1)
    assert hit["status"] == "failed" and hit["error_rate"] > 0.01
    later = [m["status"] for m in runs.values() if m["order"] > hit["order"]]
    assert later and set(later) == {"ok"}


def test_missing_k6_fails_each_run_and_keeps_its_stderr(tmp_path: Path) -> None:
    run = CampaignRun(tmp_path, "no-k6", {**FAULT_PROFILE, "rounds": 1}, lab_k6_bin="/nonexistent/k6").start()
    rc, log = run.finish()
    assert rc == 0, log[-3000:]
    runs = run.runs()
    assert len(runs) == 2 and {m["status"] for m in runs.values()} == {"failed"}
    first = sorted(run.folder.glob("runs/*"))[0]
    assert "k6 exited" in str(json.loads((first / "run.json").read_text())["error"])
    assert "/nonexistent/k6" in (first / "k6.stderr.txt").read_text()


def test_interrupted_campaign_resumes_keeping_what_finished(tmp_path: Path) -> None:
    one_round = {**FAULT_PROFILE, "rounds": 1}  # two runs: one kept, one cut
    run = CampaignRun(tmp_path, "interrupted", one_round).start()
    wait_until(lambda: len(run.runs()) >= 1 and run.k6_running(*_second(run)), 240, "the second run to measure")
    run.interrupt()
    kept = run.runs()
    assert len(kept) == 1 and next(iter(kept.values()))["status"] == "ok"
    cut = {name: meta for name, meta in run.records().items() if name not in kept}
    assert [meta["status"] for meta in cut.values()] == ["running"], "the cut run is recorded as started, never finished"
    again = CampaignRun(tmp_path, "interrupted", one_round).start()
    rc, log = again.finish()
    assert rc == 0, log[-3000:]
    runs = again.runs()
    assert len(runs) == 2 and {m["status"] for m in runs.values()} == {"ok"}
    assert kept.items() <= runs.items()
    assert {name: again.records()[name]["status"] for name in cut} == {name: "running" for name in cut}, "kept, not overwritten"
    assert "1 runs this time" in log


def test_a_killed_control_node_cuts_a_concurrent_round_and_the_resume_keeps_it(tmp_path: Path) -> None:
    """A concurrent round is one action call in an Ansible worker, which outlives a SIGKILL of the
    control node (workers call setsid): its guard kills the round, k6 with it, and nothing is
    recorded after the kill; the resumed campaign runs the round again beside the cut one."""
    profile = {**FAULT_PROFILE, "design": "concurrent", "records_source": "memory", "rounds": 1}
    run = CampaignRun(tmp_path, "cut-concurrent", profile).start()
    k6 = ["pgrep", "-f", f"k6 run .*--tag round=1 --tag campaign={run.campaign_id}"]
    wait_until(lambda: subprocess.run(k6, capture_output=True).returncode == 0, 240, "round 1's k6")
    run.interrupt()
    wait_until(lambda: subprocess.run(k6, capture_output=True).returncode != 0, 10, "round 1's k6 to end with its control node")
    time.sleep(float(profile["warmup_s"]) + float(profile["measure_s"]) + 5)  # past the round's own end
    (cut,) = run.records().items()
    assert cut[1]["status"] == "running", "the cut round stays as it began"
    assert not (run.folder / "runs" / cut[0] / "k6.json.gz").exists(), "nothing of the killed round came home"
    again = CampaignRun(tmp_path, "cut-concurrent", profile).start()
    rc, log = again.finish()
    assert rc == 0, log[-3000:]
    # The resumed round is recorded, ok or failed by name: on 2026-12-08 the first round after
    # such a kill failed the accounting check for docker (its processes not all placed), an
    # open bug (docs/2026-12-08-ladder-at-the-rounds-speeds.md); never a round left running.
    (resumed,) = again.runs().values()
    assert resumed["status"] == "ok" or "accounting" in str(resumed["error"]), resumed["error"]
    assert again.records()[cut[0]]["status"] == "running", "kept, not overwritten"


def _second(run: CampaignRun) -> tuple[str, int]:
    second = (run.run_order() or [])[1]
    return str(second["mode"]), int(str(second["round"]))


def test_preflight_refuses_a_results_folder_without_room(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        result = ansible_playbook("playbooks/preflight.yml", "-e", json.dumps({"lab_results_dir": str(small), "lab_profile": "saturation"}))
        output = " ".join(result.stdout.split())
        assert result.returncode != 0
        assert f"lab_results_dir '{small}' has" in output and "MB free; the saturation campaign needs about" in output
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_a_password_in_the_database_uri_never_shows(tmp_path: Path) -> None:
    """An external URI with a password, at a closed loopback port: verify fails naming the DB, never the password."""
    secret = "s3cret-Pw-4-lab"
    uri = f"mongodb://lab:{secret}@127.0.0.1:9/?directConnection=true"
    extra = {"mongodb_target_uris": {"native": uri, "bridge": uri}, "lab_results_dir": str(tmp_path), "lab_campaign_id": "secret"}
    result = ansible_playbook("playbooks/verify.yml", "-e", json.dumps(extra))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "the database at 127.0.0.1:9 does not answer (URI mongodb://lab:***@127.0.0.1:9/" in " ".join(output.split())
    assert secret not in output
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and secret in p.read_text(errors="ignore")]


def test_an_unreachable_target_is_named_and_the_others_results_kept(tmp_path: Path) -> None:
    """A second target at a loopback address with nothing listening (never a real network address)."""
    inventory = tmp_path / "extra.yml"
    inventory.write_text(
        "all:\n  children:\n    targets:\n      hosts:\n        ghost:\n"
        "          ansible_host: 127.0.0.2\n          ansible_connection: ssh\n          ansible_port: 22\n"
    )
    run = CampaignRun(tmp_path, "ghost", profile={**FAULT_PROFILE, "rounds": 1, "modes": ["native"]})
    # One playbook, as bench.yml is: ansible-playbook stops at the first of several playbooks that fails.
    playbook = tmp_path / "phases.yml"
    playbook.write_text("".join(f"- ansible.builtin.import_playbook: {ROOT / phase}\n" for phase in PHASES_AFTER_BUILD))
    rc, log = run.start("-i", "inventory/hosts.yml", "-i", str(inventory), str(playbook)).finish()
    assert rc == 4, log[-3000:]
    assert "fatal: [ghost]: UNREACHABLE!" in log and "127.0.0.2" in log
    runs = run.runs()
    assert len(runs) == 1 and next(iter(runs.values()))["status"] == "ok"


def test_an_open_model_run_over_capacity_fails_with_offered_and_achieved_rates(tmp_path: Path) -> None:
    # 3000 requests/s with 2 VUs: far more than one core serves (~1,300/s measured), so k6 drops iterations.
    over = {"executor": "constant-arrival-rate", "rate": 3000, "vus": 2, "measure_s": 4, "rounds": 1, "modes": ["native"]}
    profile = FAULT_PROFILE | over
    run = CampaignRun(tmp_path, "over-capacity", profile).start()
    rc, log = run.finish()
    assert rc == 0, log[-3000:]
    (meta,) = run.runs().values()
    assert meta["status"] == "failed", meta
    error = str(meta["error"])
    assert "measured iterations dropped: the load generators could not offer 3000 requests/s, achieved" in error, error
    achieved = float(error.split("achieved ")[1].split("/s")[0])
    assert 0 < achieved < 3000
    assert (next(run.folder.glob("runs/*_native_r1")) / "k6.json.gz").stat().st_size > 0, "the raw output is kept"
