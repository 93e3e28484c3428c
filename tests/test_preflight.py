"""Bad inputs stop the play in preflight, before any change, with a message naming the variable.

Those marked `side` run only preflight (no lock, no change): `make test` runs them beside the
lab's campaigns; the lock's and the fleet-shaped ones stay with the campaigns."""

import json
from pathlib import Path

import pytest

from labrun import ansible_playbook

BAD_PROFILE = {
    "smoke": {
        "executor": "constant-vus",
        "vus": 4,
        "sleep_s": 0,
        "warmup_s": 2,
        "measure_s": "ten",
        "rounds": 1,
        "client_lifecycle": "shared",
        "modes": ["native"],
    }
}


@pytest.mark.side
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"mongodb_engine": "postgres"}, "value of mongodb_engine must be one of: embedded, official, external, got: postgres"),
        ({"mongodb_port": 70000}, "mongodb_port is 70000 (allowed: 1-65535)"),
        ({"mongodb_engine": "external"}, "mongodb_engine is 'external' but mongodb_external_uri is empty"),
        ({"docker_engine_source": "snap"}, "value of docker_engine_source must be one of: distro, docker-ce, got: snap"),
        ({"k6_version": "1.x"}, "k6_version is '1.x' (expected X.Y.Z"),
        ({"dataset_count": 0}, "dataset_count is 0 (allowed: 1-1000000)"),
        (
            {"lab_profile": "fast"},
            "lab_profile is 'fast'; allowed: capacity, ladder, why_host, levels, latency, aa, calibrate, seed, saturation, open, smoke, "
            "smoke_concurrent, smoke_ladder.",
        ),
        ({"lab_modes": ["native", "podman"]}, "lab_modes is ['native', 'podman']"),
        (
            {
                "lab_modes": ["native", "native_b"],
                "lab_mode_catalog": {"native": {"kind": "native", "port": 8101}, "native_b": {"kind": "vm", "port": 8102}},
            },
            "lab_mode_catalog.native_b.kind is 'vm' (one of native, rootfs, docker",
        ),
        (
            {
                "lab_modes": ["native", "native_b"],
                "lab_mode_catalog": {"native": {"kind": "native", "port": 8101}, "native_b": {"kind": "native", "port": 8101}},
            },
            "lab_mode_catalog.native_b.port is 8101, the port of native too: two modes of a campaign cannot listen on one port",
        ),
        (
            {"lab_modes": ["native", "docker"], "lab_nat_address": "127.0.0.1"},
            "lab_mode_catalog.docker.client is remote: a remote client needs lab_nat_address, "
            "an address of the target that is not loopback (is '127.0.0.1')",
        ),
        ({"lab_profile": "ladder", "lab_modes": ["native", "docker"]}, "profile ladder: ladder is ['native', 'native_rootfs'"),
        ({"lab_rounds": -1}, "lab_rounds is '-1' (expected a whole number"),
        ({"lab_profile": "smoke", "lab_profiles": BAD_PROFILE}, "warmup_s/measure_s/vus whole numbers"),
        ({"lab_cpuset_service": "7"}, "lab_cpuset_service '7'"),
        ({"lab_cpuset_start": "0-5"}, "lab_cpuset_start '0-5'"),
        ({"lab_on_failure": "retry"}, "value of lab_on_failure must be one of: continue, abort, got: retry"),
        ({"lab_loadgens": ["nowhere"]}, "target localhost: its load generators are ['nowhere']"),
        ({"lab_parallel_targets": "maybe"}, "argument 'lab_parallel_targets' is of type str and we were unable to convert to bool"),
        ({"lab_target_ci_pp": "-1"}, "lab_target_ci_pp '-1' and lab_max_minutes '17' must be numbers >= 0"),
        ({"lab_max_minutes": "soon"}, "lab_target_ci_pp '1.0' and lab_max_minutes 'soon' must be numbers >= 0"),
        ({"lab_max_rounds": 0}, "lab_max_rounds '0' a whole number 1-1000"),
        ({"lab_disable_aslr": "maybe"}, "argument 'lab_disable_aslr' is of type str and we were unable to convert to bool"),
        ({"lab_profile": "smoke", "lab_target_ci_pp": 1}, "a target only with the concurrent design"),
        ({"lab_modes": ["docker", "docker_host"]}, "the baseline mode 'native' (lab_baseline_mode) must be one of the campaign's modes"),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "design": "parallel"}}},
            "design is 'parallel'",
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "primary_metric": "speed"}}},
            "primary_metric 'speed'",
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "records_source": "disk"}}},
            "records_source 'disk'",
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "max_other_work": "lots"}}},
            "lab_profiles.smoke.max_other_work is 'lots': a share of the service core above 0",
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "adjust_for_speed": "yes"}}},
            'profile smoke: adjust_for_speed is "yes": true or false, and true only in a concurrent profile',
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "adjust_for_speed": True}}},
            "profile smoke: adjust_for_speed is true: true or false, and true only in a concurrent profile",
        ),
        (
            {"lab_profile": "smoke", "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "rungs_with_twins": True}}},
            "profile smoke: rungs_with_twins is true: true or false, and true only in a profile with a ladder",
        ),
        (
            {
                "lab_profile": "smoke",
                "lab_profiles": {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "block_rounds": 3, "block_resets": ["reboot"]}},
            },
            "lab_profiles.smoke: block_rounds '3' and block_resets ['reboot'] go together, with the concurrent design",
        ),
        (
            {"lab_mode_catalog": {"native": {"kind": "native", "port": 8101, "busy_loops": "lots"}}, "lab_modes": ["native"]},
            "lab_mode_catalog.native.busy_loops is 'lots' (optional, a whole number 0-10000000)",
        ),
        (
            {
                "lab_mode_catalog": {"native": {"kind": "native", "port": 8101, "twin_of": "nativ", "extra_request_every": 1}},
                "lab_modes": ["native"],
            },
            "lab_mode_catalog.native.twin_of is 'nativ' (optional, another mode of the catalog); "
            "lab_mode_catalog.native.extra_request_every is 1 (optional, a whole number 2-10000)",
        ),
        ({"lab_service_hash_seed": "-1"}, "lab_service_hash_seed is '-1': a whole number 0-4294967295 (PYTHONHASHSEED), or random"),
        ({"lab_k6_dashboard": "maybe"}, "argument 'lab_k6_dashboard' is of type str and we were unable to convert to bool"),
        ({"lab_expected_rps": "lots"}, "argument 'lab_expected_rps' is of type str and we were unable to convert to float"),
        ({"lab_campaign_id": ".."}, "lab_campaign_id is '..' (letters, digits, . _ - only; not . or .."),
        (
            {"lab_results_dir": "/nonexistent-lab-parent/results"},
            "lab_results_dir '/nonexistent-lab-parent/results' does not exist and its parent '/nonexistent-lab-parent' does not exist",
        ),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else None,
)
def test_bad_input_fails_in_preflight_naming_it(extra: dict[str, object], message: str) -> None:
    result = ansible_playbook("playbooks/preflight.yml", "-e", json.dumps(extra))
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-2000:]
    assert message in output, output[-3000:]


@pytest.mark.side
def test_results_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    result = ansible_playbook("playbooks/preflight.yml", "-e", json.dumps({"lab_results_dir": str(blocker)}))
    assert result.returncode != 0
    assert f"lab_results_dir '{blocker}' exists but is not a writable folder" in " ".join(result.stdout.split())
    assert blocker.read_text() == "not a folder"


@pytest.mark.side
def test_bench_stops_before_changing_anything() -> None:
    result = ansible_playbook("bench.yml", "-e", json.dumps({"lab_profile": "fast"}))
    assert result.returncode != 0
    assert "lab_profile is 'fast'" in " ".join(result.stdout.split())
    assert "changed=0" in result.stdout.split("PLAY RECAP")[-1]
    assert "Provision" not in result.stdout.split("PLAY RECAP")[0].split("Check every input")[-1]


@pytest.mark.side
def test_a_port_held_by_another_program_is_refused() -> None:
    """A plain HTTP server on a mode's port (not the lab service) stops the campaign in preflight."""
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        catalog = {"native": {"kind": "native", "port": port}}
        result = ansible_playbook("playbooks/preflight.yml", "-e", json.dumps({"lab_mode_catalog": catalog, "lab_modes": ["native"]}))
    finally:
        server.shutdown()
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert f"port {port} of mode native (lab_mode_catalog.native.port) is in use by another program" in output


@pytest.mark.side
def test_an_empty_mode_list_in_a_profile_is_refused() -> None:
    profiles = {"smoke": BAD_PROFILE["smoke"] | {"measure_s": 5, "modes": []}}
    result = ansible_playbook("playbooks/preflight.yml", "-e", json.dumps({"lab_profile": "smoke", "lab_profiles": profiles}))
    assert result.returncode != 0
    assert "give at least one mode" in " ".join(result.stdout.split())


def test_parallel_targets_sharing_a_load_generator_are_refused(tmp_path: Path) -> None:
    """Two targets (both this machine, under two names) and the one load generator."""
    inventory = tmp_path / "two-targets.yml"
    inventory.write_text("all:\n  children:\n    targets:\n      hosts:\n        twin:\n          ansible_connection: local\n")
    args = ("-i", "inventory/hosts.yml", "-i", str(inventory), "playbooks/preflight.yml")
    result = ansible_playbook(*args, "-e", "lab_parallel_targets=true")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-2000:]
    assert "lab_parallel_targets is true but these load generators serve more than one target: localhost" in output
    assert ansible_playbook(*args).returncode == 0


TARGET_LOCK = Path("/var/lib/container-cost-lab/campaign.lock")


def test_one_campaign_at_a_time_and_a_stale_lock_is_taken_over(tmp_path: Path) -> None:
    import os
    import signal
    import socket
    import subprocess

    holder = subprocess.Popen(["bash", "-c", "exec -a ansible-playbook sleep 600"])
    lock = tmp_path / ".lock"
    lock.write_text(json.dumps({"campaign": "c-running", "controller": socket.gethostname(), "pid": holder.pid, "started_at": "t0"}))
    settings = json.dumps({"lab_results_dir": str(tmp_path), "lab_campaign_id": "c-new"})
    try:
        refused = ansible_playbook("playbooks/lock.yml", "-e", settings)
        assert refused.returncode != 0
        text = " ".join(refused.stdout.split())
        assert f"{lock} is held by campaign c-running (ansible-playbook pid {holder.pid} on {socket.gethostname()}, started t0)" in text
        assert json.loads(lock.read_text())["campaign"] == "c-running", "the running campaign's lock is untouched"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    try:
        taken = ansible_playbook("playbooks/lock.yml", "-e", settings)
        assert taken.returncode == 0, taken.stdout[-3000:]
        assert "took over the stale lock of campaign c-running" in " ".join(taken.stdout.split())
        ours = json.loads(lock.read_text())
        assert ours["campaign"] == "c-new" and ours["pid"] != holder.pid
        assert json.loads(TARGET_LOCK.read_text())["campaign"] == "c-new"
        # Another ansible-playbook (this one is gone): its locks are stale, restore.yml gives them back.
        restored = ansible_playbook("playbooks/restore.yml", "-e", settings)
        assert restored.returncode == 0, restored.stdout[-3000:]
        assert not lock.exists() and not TARGET_LOCK.exists()
    finally:
        lock.unlink(missing_ok=True)
        TARGET_LOCK.unlink(missing_ok=True)
