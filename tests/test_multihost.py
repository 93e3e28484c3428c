"""bench.yml over separate hosts: the db and two load generators in the project's own containers,
the target this machine (inventory/fleet.yml). One smoke campaign, then what it left behind.

`make test` provisions the container hosts beside the lab's other tests (`make side-tests` ends
with `make fleet-hosts`); the campaign waits for that, then finds them provisioned. Alone, it
provisions them itself."""

import gzip
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from labrun import ansible_playbook, wait_for_side_tests

LOADGENS = ["lab-loadgen-1", "lab-loadgen-2"]


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    results = tmp_path_factory.mktemp("results")
    # Two modes of the smoke profile: the fleet's plumbing is the point, not the modes.
    settings = {"lab_profile": "smoke", "lab_modes": ["native", "docker"], "lab_results_dir": str(results), "lab_campaign_id": "ci-fleet"}
    extra = json.dumps(settings)
    wait_for_side_tests()
    result = ansible_playbook("-i", "inventory/fleet.yml", "bench.yml", "-e", extra, timeout=2400)
    try:
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        yield results / "ci-fleet", result.stdout
    finally:
        removed = ansible_playbook("-i", "inventory/fleet.yml", "playbooks/hosts.yml", "-e", "lab_hosts_state=absent")
        # Point this machine's modes back at its own database, as the other tests expect.
        restored = ansible_playbook("playbooks/deploy.yml")
        assert removed.returncode == 0, removed.stdout[-3000:]
        assert restored.returncode == 0, restored.stdout[-3000:]


def db_address() -> str:
    found = docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "lab-db")
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def test_the_database_is_its_own_host_and_listens_only_where_the_target_reaches_it(fleet: tuple[Path, str]) -> None:
    folder, _ = fleet
    address = db_address()
    manifest = json.loads((folder / "localhost" / "manifest.json").read_text())
    assert manifest["db"]["host"] == "lab-db"
    assert manifest["db"]["uri"] == f"mongodb://{address}:27017/?directConnection=true"
    probe = (
        "import socket\n"
        f"for host in ('127.0.0.1', '{address}'):\n"
        "    s = socket.socket(); s.settimeout(2)\n"
        "    print(host, s.connect_ex((host, 27017)))\n"
    )
    seen = docker("exec", "lab-db", "python3", "-c", probe)
    assert seen.returncode == 0, seen.stderr
    answers = dict(line.split() for line in seen.stdout.splitlines())
    assert answers[address] == "0" and answers["127.0.0.1"] != "0", answers


def test_every_run_was_split_across_both_load_generators(fleet: tuple[Path, str]) -> None:
    folder, _ = fleet
    manifest = json.loads((folder / "localhost" / "manifest.json").read_text())
    assert sorted(manifest["loadgens"]) == LOADGENS
    for loadgen in manifest["loadgens"].values():
        assert loadgen["k6_version"].startswith("k6 v")
        assert abs(loadgen["clock"]["offset_s"]) <= loadgen["clock"]["uncertainty_s"] + 0.05  # one kernel clock here
    runs = sorted((folder / "localhost" / "runs").iterdir())
    assert len(runs) == 2
    for run in runs:
        meta = json.loads((run / "run.json").read_text())
        assert meta["status"] == "ok", meta
        assert [s["loadgen"] for s in meta["segments"]] == LOADGENS
        assert [s["segment"] for s in meta["segments"]] == ["1/2", "2/2"]
        assert meta["start_skew_s"] is not None and meta["start_skew_s"] < 0.5, meta["start_skew_s"]
        assert "--execution-segment" in meta["k6_argv"] and "0/2:1/2" in meta["k6_argv"]
        for i, loadgen in enumerate(LOADGENS, start=1):
            with gzip.open(run / f"k6.seg{i}.json.gz", "rt") as handle:
                point = next(json.loads(line) for line in handle if '"type":"Point"' in line and "http_reqs" in line)
            assert point["data"]["tags"]["loadgen"] == loadgen and point["data"]["tags"]["segment"] == f"{i}/2"
        assert not (run / "k6.json.gz").exists()


def test_the_report_counts_each_run_as_the_sum_of_its_segments(fleet: tuple[Path, str]) -> None:
    folder, stdout = fleet
    runs = pd.read_csv(folder / "localhost" / "report" / "runs.csv").set_index("run")
    for run in sorted((folder / "localhost" / "runs").iterdir()):
        meta = json.loads((run / "run.json").read_text())
        # What each k6 instance counted itself (its end-of-test summary), summed over segments.
        per_segment = [s["measured_requests"] for s in meta["segments"]]
        assert all(n > 0 for n in per_segment)
        assert runs.loc[run.name, "requests"] == sum(per_segment)
        assert runs.loc[run.name, "throughput_rps"] == pytest.approx(sum(per_segment) / meta["measure_duration_s"], rel=1e-5)
    fleet_json = json.loads((folder / "report" / "fleet.json").read_text())
    assert fleet_json["targets"] == ["localhost"]
    assert fleet_json["hosts"]["localhost"]["db_host"] == "lab-db"
    assert "[localhost] docker" in stdout and "fleet of 1 host" in stdout
