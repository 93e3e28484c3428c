"""The lab role's run logic (filter_plugins/lab_run.py) and the concurrent window reader, in seconds."""

import gzip
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from lab_run import (
    AnsibleFilterError,
    lab_catalog_resolved,
    lab_concurrent_record,
    lab_k6_argv,
    lab_plan,
    lab_precision,
    lab_profile_resolved,
    lab_round_order,
    lab_run_name,
    lab_sequential_record,
    lab_sha256,
    lab_started_record,
    lab_targets,
)

from analysis.precision import paired_gap, stein_rounds
from analysis.schema import SCHEMA_VERSION, planned_runs
from analysis.window import WindowError, epoch, gmean_ms, windows

PROJECT = Path(__file__).resolve().parents[2]

T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def stamp(t: float) -> str:
    whole = int(t)
    seconds = whole % 60
    minute = (whole // 60) % 60
    hour = (whole // 3600) % 24
    return f"2027-01-15T{hour:02d}:{minute:02d}:{seconds:02d}.{round((t - whole) * 1e9):09d}Z"


def k6_lines(mode: str, times: list[float], phase: str, duration_ms: float = 5.0, failed_every: int = 0) -> list[str]:
    """k6's points of one request at each time; every `failed_every`-th one failed (a 503, as k6 tags it)."""
    lines = []
    for i, t in enumerate(times, start=1):
        failed = bool(failed_every) and i % failed_every == 0
        tags = {"expected_response": "false" if failed else "true", "mode": mode, "phase": phase, "status": "503" if failed else "200"}
        for metric, value in (
            ("http_reqs", 1),
            ("http_req_blocked", 0.4),
            ("http_req_duration", duration_ms),
            ("http_req_failed", int(failed)),
        ):
            point = {"metric": metric, "type": "Point", "data": {"time": stamp(t), "value": value, "tags": tags}}
            lines.append(json.dumps(point, separators=(",", ":")))
    return lines


def write_round(
    folder: Path,
    per_mode: dict[str, tuple[int, float]],
    samples: int = 11,
    other: float | None = None,
    failed_every: dict[str, int] | None = None,
    irq: float | None = None,
    extra_every: dict[str, int] | None = None,
) -> None:
    """A concurrent round: each mode serves `rate` requests/s (warm-up 0-2 s, measured 2-12 s) at `cpu_us` each;
    `other`: cores' worth of the service core's time that went to other work (sampled as @service_core);
    `failed_every`: mode -> every how many measured requests one fails."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['{"type":"Metric","data":{"name":"http_reqs"},"metric":"http_reqs"}']
    for mode, (rate, _) in per_mode.items():
        warm = [T0 + i / rate for i in range(2 * rate)]
        measured = [T0 + 2 + i / rate for i in range(10 * rate)]
        lines += k6_lines(mode, warm, "warmup") + k6_lines(mode, measured, "measure", failed_every=(failed_every or {}).get(mode, 0))
        every = (extra_every or {}).get(mode, 0)
        if every:  # lab.js: the same request once more every `every`-th iteration, tagged extra
            for phase, times in (("warmup", warm), ("measure", measured)):
                extra = [line.replace('"mode":', '"extra":"1","mode":') for line in k6_lines(mode, times[every - 1 :: every], phase)]
                lines += extra
    (folder / "k6.json.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with (folder / "cpu.jsonl").open("w") as handle:
        for i in range(samples + 4):
            t = T0 + 1.5 + i  # 1.5 s, 2.5 s, ... samples; cpu grows with the requests served
            cpu = {mode: round(max(0.0, t - T0) * rate * us * 1000) for mode, (rate, us) in per_mode.items()}
            if other is not None:
                cpu["@service_core"] = sum(cpu.values()) + round(max(0.0, t - T0) * other * 1e9)
            if irq is not None:
                cpu["@service_core:irq"] = round(max(0.0, t - T0) * irq * 1e9)
            handle.write(json.dumps({"t": t, "cpu_ns": cpu}) + "\n")
    summary = {"metrics": {"http_req_failed{phase:measure}": {"values": {"passes": 0, "fails": 10 * sum(r for r, _ in per_mode.values())}}}}
    for name, content in (
        ("time.json", {"user_s": 1.0, "sys_s": 0.5, "max_rss_kb": 5000}),
        ("started.json", {"epoch": T0}),
        ("summary.json", summary),
    ):
        (folder / name).write_text(json.dumps(content))


def test_each_mode_holds_each_position_once_in_every_block_of_n_rounds() -> None:
    modes = ["native", "native_b", "native_cost3", "native_extra3", "native_uncounted3"]
    orders = [lab_round_order(modes, 1, r, "cal-x") for r in range(1, 51)]
    for block in range(10):
        for position in range(5):
            assert sorted(o[position] for o in orders[5 * block : 5 * block + 5]) == sorted(modes)
    assert orders == [lab_round_order(modes, 1, r, "cal-x") for r in range(1, 51)], "a resumed campaign gets the same orders"


def test_which_mode_follows_which_is_redrawn_every_block_and_campaign() -> None:
    """The old design (one seeded order rotated, the same seed in every campaign) put the same
    mode after native in every round of every campaign; a neighbour's effect never averaged out."""
    modes = ["native", "native_b", "native_cost3", "native_extra3", "native_uncounted3"]

    def after_native(campaign: str, rounds: range) -> set[str]:
        found = set()
        for r in rounds:
            order = lab_round_order(modes, 1, r, campaign)
            found.add(order[(order.index("native") + 1) % len(order)])
        return found

    assert after_native("cal-x", range(1, 51)) == set(modes) - {"native"}
    assert len({tuple(lab_round_order(modes, 1, 1, f"c{i}")) for i in range(20)}) > 10, "campaigns draw their own orders"
    with pytest.raises(AnsibleFilterError, match="no modes"):
        lab_round_order([], 1, 1)


def test_the_k6_command_carries_the_targets_in_position_order_and_segments() -> None:
    profile = {"executor": "constant-vus", "vus": 8, "warmup_s": 3, "measure_s": 10}
    k6 = {"bin": "k6", "script": "/l/lab.js", "start_barrier": "/l/start_at.py", "start_at": 12.5, "cpuset": "0", "time_format": "%U"}
    urls = {"native": "http://127.0.0.1:8101/records", "docker": "http://127.0.0.1:8201/records"}
    argv = lab_k6_argv(lab_targets(["docker", "native"], urls), profile, "/s", {"round": "2"}, k6 | {"segment": [0, 1]})
    assert argv[:4] == ["/usr/bin/python3", "/l/start_at.py", "12.500000", "/s/started.json"]
    assert "--execution-segment" not in argv and ["--tag", "round=2"] == argv[argv.index("--tag") : argv.index("--tag") + 2]
    config = json.loads(argv[-2].removeprefix("LAB_K6_CONFIG="))
    assert [t["mode"] for t in config["targets"]] == ["docker", "native"] and config["vus"] == 8
    assert lab_targets(["native", "docker"], urls, {"native": {"extra_request_every": 33}, "docker": {}}) == [
        {"mode": "native", "url": urls["native"], "extra_every": 33},
        {"mode": "docker", "url": urls["docker"]},
    ]
    assert argv[-1] == "/l/lab.js" and "json=/s/k6.json.gz" in argv
    assert argv[argv.index("--address") + 1] == "", "no REST API listening during a run"
    assert "/usr/bin/env" not in argv
    shown = lab_k6_argv(lab_targets(["docker"], urls), profile, "/s", {}, k6 | {"dashboard": True})
    env = shown[shown.index("/usr/bin/env") : shown.index("/usr/bin/time")]
    assert env == [
        "/usr/bin/env",
        "K6_WEB_DASHBOARD=true",
        "K6_WEB_DASHBOARD_PORT=-1",
        "K6_WEB_DASHBOARD_PERIOD=1s",
        "K6_WEB_DASHBOARD_EXPORT=/s/dashboard.html",
    ]
    assert config["jitter_s"] == 0.0
    open_model = profile | {"executor": "constant-arrival-rate", "rate": 100}
    jittered = lab_k6_argv(lab_targets(["docker", "native"], urls), open_model, "/s", {}, k6)
    assert json.loads(jittered[-2].removeprefix("LAB_K6_CONFIG="))["jitter_s"] == 0.01
    alone = lab_k6_argv([{"mode": None, "url": urls["native"]}], open_model, "/s", {}, k6)
    assert json.loads(alone[-2].removeprefix("LAB_K6_CONFIG="))["jitter_s"] == 0.0
    two = lab_k6_argv([{"mode": None, "url": urls["native"]}], profile, "/s", {}, k6 | {"segment": [1, 2]})
    assert two[two.index("--execution-segment") + 1] == "1/2:2/2" and "0/2,1/2,2/2" in two


@pytest.mark.parametrize("text", ["2027-01-15T08:00:00.250000000Z", "2027-01-15T09:00:00.25+01:00", "2027-01-15T07:30:00.25-00:30"])
def test_k6_times_in_any_zone_are_one_epoch(text: str) -> None:
    assert epoch(text) == pytest.approx(T0 + 0.25)


def test_a_window_counts_cpu_and_requests_between_the_same_two_samples(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (200, 400.0), "docker": (150, 500.0)})
    found = windows([tmp_path / "k6.json.gz"], tmp_path / "cpu.jsonl", ["native", "docker"])
    native, docker = found["native"], found["docker"]
    # Samples at 2.5 s .. 11.5 s lie inside the measured phase (2-12 s): a 9 s window.
    assert native.window_s == pytest.approx(9.0) and docker.window_s == pytest.approx(9.0)
    assert native.requests == 9 * 200 and docker.requests == 9 * 150
    assert native.cpu_us_per_request == pytest.approx(400.0, rel=1e-6)
    assert docker.cpu_us_per_request == pytest.approx(500.0, rel=1e-6)
    assert native.measured_requests == 2000 and native.latency_ms[50] == pytest.approx(5.0)
    assert native.throughput_rps == pytest.approx(200.0)
    assert native.latency_gmean_ms == pytest.approx(5.0) and native.as_json()["latency_gmean_ms"] == pytest.approx(5.0)


def test_the_geometric_mean_latency_is_the_exponent_of_the_mean_log_duration() -> None:
    assert gmean_ms([1.0, 100.0]) == pytest.approx(10.0)
    assert gmean_ms([2.0, 8.0, 4.0]) == pytest.approx(4.0)
    assert gmean_ms([]) is None
    # A duration k6 rounded to 0 cannot make the mean of logs -inf.
    assert gmean_ms([0.0, 1.0]) == pytest.approx(1e-3)


def test_a_window_needs_every_mode_and_two_samples_inside(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    with pytest.raises(WindowError, match="no measured requests of docker"):
        windows([tmp_path / "k6.json.gz"], tmp_path / "cpu.jsonl", ["native", "docker"])
    write_round(tmp_path, {"native": (100, 400.0)}, samples=-3)
    with pytest.raises(WindowError, match="CPU sample"):
        windows([tmp_path / "k6.json.gz"], tmp_path / "cpu.jsonl", ["native"])


def test_a_point_of_another_shape_is_named(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    raw = tmp_path / "k6.json.gz"
    lines = gzip.decompress(raw.read_bytes()).decode().splitlines()
    lines[3] = '{"metric":"http_reqs","type":"Point","data":{"value":1}}'
    raw.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    with pytest.raises(WindowError, match=r"k6.json.gz:4: a k6 Point of an unexpected shape"):
        windows([raw], tmp_path / "cpu.jsonl", ["native"])


def test_a_sampler_line_cut_short_at_the_end_is_ignored_but_not_elsewhere(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    samples = tmp_path / "cpu.jsonl"
    samples.write_text(samples.read_text() + '{"t": 18000')
    assert windows([tmp_path / "k6.json.gz"], samples, ["native"])["native"].requests == 900
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join(lines[:3] + ["garbage"] + lines[3:]))
    with pytest.raises(WindowError, match=r"cpu.jsonl:4: not a CPU sample"):
        windows([tmp_path / "k6.json.gz"], samples, ["native"])


def observed_for(modes: list[str], rc: int = 0, payload: str = "[]", stats: dict[str, Any] | None = None) -> dict[str, Any]:
    stats = stats or {}
    primer = [{"item": [m, "records"], "status": 200, "content": payload} for m in modes]
    primer += [{"item": [m, "stats"], "status": 200, "json": stats.get(m, ({}, {}))[0]} for m in modes]
    return {
        "k6_jobs": [{"rc": rc, "stderr": "thresholds on metrics 'http_req_failed' have been crossed" if rc else "", "cmd": ["k6"]}],
        "primer": primer,
        "after": [{"item": m, "status": 200, "json": stats.get(m, ({}, {}))[1]} for m in modes],
        "expected_sha256": {m: lab_sha256("[]") for m in modes},
        "recovered": [],
    }


RUN = {
    "campaign": "c",
    "target": "localhost",
    "profile": "capacity",
    "round": 3,
    "order": 7,
    "started_at": "a",
    "finished_at": "b",
    "warmup_duration_s": 2,
    "measure_duration_s": 10,
    "loadgens": ["localhost"],
    "suffixes": [""],
}


def test_a_round_record_has_every_modes_window_and_the_cores_busy_share(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (1000, 450.0), "native_cost3": (1000, 460.0)})
    stats = {
        "native_cost3": (
            {"busy_loops": 950, "busy_sampled_calls": 10, "busy_sampled_ns": 130_000},
            {"busy_loops": 950, "busy_sampled_calls": 30, "busy_sampled_ns": 390_000},
        )
    }
    record = lab_concurrent_record(
        str(tmp_path), RUN | {"modes": ["native_cost3", "native"]}, observed_for(["native", "native_cost3"], stats=stats)
    )
    assert record["status"] == "ok" and record["error"] is None and record["design"] == "concurrent"
    assert record["schema_version"] == SCHEMA_VERSION
    assert record["modes"] == ["native_cost3", "native"] and record["per_mode"]["native_cost3"]["position"] == 1
    assert record["per_mode"]["native"]["cpu_us_per_request"] == pytest.approx(450.0)
    assert record["per_mode"]["native_cost3"]["busy_us_per_request"] == pytest.approx(13.0)
    assert "busy_us_per_request" not in record["per_mode"]["native"]
    assert record["service_core_busy"] == pytest.approx(1000 * (450 + 460) / 1e6, rel=1e-4)
    assert record["service_core_other"] is None, "samples without @service_core: not measured, not 0"
    assert record["k6_cpu_s"] == 1.5 and record["segments"][0]["started_epoch"] == T0


def test_a_round_record_says_how_much_of_the_service_core_other_work_took(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)}, other=0.3)
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed_for(["native", "docker"]))
    assert record["status"] == "ok" and record["service_core_other"] == pytest.approx(0.3, abs=1e-3)
    assert record["service_core_busy"] == pytest.approx(500 * (450 + 600) / 1e6, rel=1e-4)


def test_a_round_record_says_how_much_of_the_service_core_went_to_interrupts(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)}, other=0.05, irq=0.02)
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed_for(["native", "docker"]))
    assert record["service_core_irq"] == pytest.approx(0.02, abs=1e-4)
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)})
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed_for(["native", "docker"]))
    assert record["service_core_irq"] is None, "not sampled: not measured, not 0"


def test_cpu_per_request_counts_served_requests_and_each_mode_has_its_own_error_threshold(tmp_path: Path) -> None:
    # docker fails 1 request in 40 (2.5%): pooled with two clean modes the round's rate is 0.83%,
    # under the 1% threshold k6 applies to the round, but docker alone is above it.
    modes = {"native": (300, 400.0), "docker": (300, 500.0), "docker_host": (300, 410.0)}
    write_round(tmp_path, modes, failed_every={"docker": 40})
    found = windows([tmp_path / "k6.json.gz"], tmp_path / "cpu.jsonl", list(modes))
    docker = found["docker"]
    assert docker.requests == 9 * 300 and abs(docker.served_requests - 9 * 300 * 39 / 40) <= 1
    assert docker.cpu_us_per_request == pytest.approx(docker.cpu_s / docker.served_requests * 1e6)
    assert docker.cpu_us_per_request > 500.0, "the CPU of the failed requests is charged to the served ones"
    assert found["native"].served_requests == found["native"].requests
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": list(modes), "max_error_rate": 0.01}, observed_for(list(modes)))
    assert record["status"] == "failed"
    assert record["error"] == "docker failed 2.5% of its measured requests (max_error_rate 0.01)"
    assert record["per_mode"]["docker"]["served_requests"] == docker.served_requests
    lenient = lab_concurrent_record(str(tmp_path), RUN | {"modes": list(modes), "max_error_rate": 0.05}, observed_for(list(modes)))
    assert lenient["status"] == "ok"


def test_the_sampler_reads_each_cgroup_and_the_named_cpus(tmp_path: Path) -> None:
    """Against this machine's cgroup v1 cpuacct: the root cgroup as a mode, CPU 0 and every CPU as @names."""
    out = tmp_path / "cpu.jsonl"
    sampler = Path(__file__).resolve().parents[2] / "roles/lab/files/cpu_sampler.py"
    every = f"0-{(os.cpu_count() or 1) - 1}"
    argv = [sys.executable, str(sampler), str(out), f"{time.time() + 30:.3f}", "0.1", "all=/", "@core=0", f"@all_cpus={every}"]
    # Ended as lab_round.py ends it (SIGUSR1: one more sample), once two are written: no deadline
    # to race on a busy machine (a sampler that started late once wrote only two before it).
    sampler_process = subprocess.Popen(argv)
    deadline = time.monotonic() + 20
    while (not out.exists() or len(out.read_text().splitlines()) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    sampler_process.send_signal(signal.SIGUSR1)
    assert sampler_process.wait(timeout=20) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    names = {"all", "@core", "@all_cpus", "@core:irq", "@all_cpus:irq"}
    assert len(lines) >= 3 and all(set(line["cpu_ns"]) == names for line in lines)
    last = lines[-1]["cpu_ns"]
    assert 0 < last["@core"] <= last["@all_cpus"] <= last["all"] * 1.001 + 1e9
    # Interrupt time since boot, from /proc/stat: a part of the CPUs' time, never more.
    assert 0 <= last["@core:irq"] <= last["@all_cpus:irq"] <= last["@all_cpus"]


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("k6 exit 99", "k6 exited 99 (thresholds crossed: error rate above 0.01)"),
        ("payload", "primer of native: status 200 or payload differs from verify"),
        ("no samples", "cpu.jsonl: cannot read the CPU samples"),
        ("truncated time.json", "k6 on localhost: time.json unreadable"),
        ("truncated summary.json", "k6 on localhost: summary.json unreadable"),
        ("truncated started.json", "k6 on localhost: started.json unreadable"),
        ("summary.json of the wrong shape", "k6 on localhost: summary.json has unexpected content"),
        ("started.json of the wrong shape", "k6 on localhost: started.json has unexpected content (epoch 'soon')"),
        ("unhealthy", "native unhealthy after the round (status 503)"),
    ],
)
def test_a_round_that_cannot_be_trusted_fails_saying_why(tmp_path: Path, breakage: str, message: str) -> None:
    write_round(tmp_path, {"native": (100, 400.0), "docker": (100, 400.0)})
    observed = observed_for(["native", "docker"], rc=99 if breakage == "k6 exit 99" else 0)
    if breakage == "payload":
        observed["primer"][0]["content"] = "[{}]"
    elif breakage == "no samples":
        (tmp_path / "cpu.jsonl").unlink()
    elif breakage == "truncated time.json":
        (tmp_path / "time.json").write_text('{"user_s": 1.0, "sys')
    elif breakage == "truncated summary.json":
        (tmp_path / "summary.json").write_text((tmp_path / "summary.json").read_text()[:40])
    elif breakage == "truncated started.json":
        (tmp_path / "started.json").write_text('{"epo')
    elif breakage == "summary.json of the wrong shape":
        (tmp_path / "summary.json").write_text(json.dumps({"metrics": {"http_req_failed{phase:measure}": {"values": {"passes": "x"}}}}))
    elif breakage == "started.json of the wrong shape":
        (tmp_path / "started.json").write_text(json.dumps({"epoch": "soon"}))
    elif breakage == "unhealthy":
        observed["after"][0]["status"] = 503
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed)
    assert record["status"] == "failed" and message in record["error"]


def write_meta(folder: Path, name: str, meta: dict[str, Any]) -> None:
    (folder / "runs" / name).mkdir(parents=True)
    (folder / "runs" / name / "run.json").write_text(json.dumps(meta))


def test_the_stopping_rule_sees_each_comparisons_width_and_only_ok_concurrent_rounds(tmp_path: Path) -> None:
    values = [(400.0, 404.0), (410.0, 412.0), (395.0, 401.0), (420.0, 423.0)]
    for r, (native, docker) in enumerate(values, start=1):
        per_mode = {"native": {"cpu_us_per_request": native}, "docker": {"cpu_us_per_request": docker}}
        write_meta(tmp_path, f"{r:03d}_concurrent_r{r}", {"design": "concurrent", "status": "ok", "round": r, "per_mode": per_mode})
    write_meta(tmp_path, "005_concurrent_r5", {"design": "concurrent", "status": "failed", "round": 5, "per_mode": {}})
    write_meta(tmp_path, "006_native_r1", {"mode": "native", "status": "ok", "round": 1})
    expected = paired_gap([n for n, _ in values], [d for _, d in values])
    assert expected is not None and expected.half_width_pp is not None
    loose = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, expected.half_width_pp + 0.01)
    assert loose["rounds_ok"] == 4 and loose["modes"]["docker"]["pairs"] == 4
    assert loose["modes"]["docker"]["half_width_pp"] == pytest.approx(expected.half_width_pp)
    assert loose["reached"] is True
    assert lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, expected.half_width_pp - 0.01)["reached"] is False
    assert lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 0)["reached"] is False


def test_the_stopping_rule_runs_the_rounds_steins_first_stage_asks_for_less_the_excluded(tmp_path: Path) -> None:
    noise = [0.012, -0.015, 0.004, 0.02, -0.008, 0.001, 0.011, -0.02]
    for r, e in enumerate(noise, start=1):
        per_mode = {"native": {"cpu_us_per_request": 400.0}, "docker": {"cpu_us_per_request": 400.0 * math.exp(0.25 + e)}}
        meta = {"design": "concurrent", "status": "ok", "round": r, "per_mode": per_mode, "service_core_other": 0.02}
        write_meta(tmp_path, f"{r:03d}_concurrent_r{r}", meta)
    busy = {"native": {"cpu_us_per_request": 900.0}, "docker": {"cpu_us_per_request": 900.0}}
    write_meta(
        tmp_path, "009_concurrent_r9", {"design": "concurrent", "status": "ok", "round": 9, "per_mode": busy, "service_core_other": 0.3}
    )
    first = paired_gap([400.0] * 4, [400.0 * math.exp(0.25 + e) for e in noise[:4]])
    assert first is not None
    needed = stein_rounds(first.sd_log, 4, 3.0, first.mean_log)
    assert needed is not None and 4 < needed <= 8
    seen = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 3.0, 4, {"max_other_work": 0.1})
    assert seen["rule"] == "stein_two_stage" and seen["excluded"] == ["009_concurrent_r9"] and seen["rounds_ok"] == 8
    assert seen["modes"]["docker"]["rounds_needed"] == needed == seen["rounds_planned"] and seen["reached"] is True
    # With the threshold above its other work, the busy round counts and is one of the rounds.
    counted = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 3.0, 4, {"max_other_work": 0.5})
    assert counted["excluded"] == [] and counted["rounds_ok"] == 9
    strict = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 0.2, 4, None)
    assert strict["modes"]["docker"]["rounds_needed"] > 8 and strict["reached"] is False
    with pytest.raises(ValueError, match="max_other_work is 'lots'"):
        lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 2.0, 4, {"max_other_work": "lots"})


def test_the_stopping_rule_sizes_at_the_rounds_speeds_as_the_report_does(tmp_path: Path) -> None:
    """adjust_for_speed: each comparison's first-stage spread is what the other modes' level
    leaves, so a gap that moves with the machine's speed asks for fewer rounds, and the width
    is the report's own (paired_gap with the same level)."""
    rng = np.random.default_rng(8)
    speed = np.exp(rng.normal(0, 0.25, 12))
    rows = []
    for r, s in enumerate(speed, start=1):
        values = {
            "native": 1000.0 * s * math.exp(rng.normal(0, 0.01)),
            "other": 1000.0 * s * math.exp(rng.normal(0, 0.01)),
            "docker": 1000.0 * s * math.exp(0.2 - 0.15 * math.log(s) + rng.normal(0, 0.01)),
        }
        rows.append(values)
        per_mode = {m: {"cpu_us_per_request": v} for m, v in values.items()}
        write_meta(tmp_path, f"{r:03d}_concurrent_r{r}", {"design": "concurrent", "status": "ok", "round": r, "per_mode": per_mode})
    plain = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 1.0, 6, {})
    adjusted = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 1.0, 6, {"adjust_for_speed": True})
    assert adjusted["modes"]["docker"]["rounds_needed"] < plain["modes"]["docker"]["rounds_needed"]
    expected = paired_gap([r["native"] for r in rows], [r["docker"] for r in rows], stage_one=6, level=[r["other"] for r in rows])
    assert expected is not None and expected.speed_adjusted
    assert adjusted["modes"]["docker"]["half_width_pp"] == pytest.approx(expected.half_width_pp)


def test_the_stopping_rule_sizes_a_ladders_steps_over_its_rungs_twins(tmp_path: Path) -> None:
    """rungs_with_twins: each step is sized over the rungs' instance means (as the report's ladder),
    each twin still against its own mode."""
    (tmp_path / "manifest.json").write_text(json.dumps({"modes": {"native": {}, "docker": {}, "docker_b": {"twin_of": "docker"}}}))
    rng = np.random.default_rng(2)
    rows = []
    for r in range(1, 9):
        values = {
            "native": 1000.0,
            "docker": 1000.0 * math.exp(0.1 + rng.normal(0, 0.02)),
            "docker_b": 1000.0 * math.exp(0.1 + rng.normal(0, 0.02)),
        }
        rows.append(values)
        per_mode = {m: {"cpu_us_per_request": v} for m, v in values.items()}
        write_meta(tmp_path, f"{r:03d}_concurrent_r{r}", {"design": "concurrent", "status": "ok", "round": r, "per_mode": per_mode})
    profile = {"ladder": ["native", "docker"], "rungs_with_twins": True}
    seen = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 1.0, 4, profile)
    mean = [math.sqrt(r["docker"] * r["docker_b"]) for r in rows]
    expected = paired_gap([1000.0] * 8, mean, stage_one=4)
    assert expected is not None
    assert seen["modes"]["docker vs native"]["half_width_pp"] == pytest.approx(expected.half_width_pp)
    assert seen["modes"]["docker_b vs docker"]["pairs"] == 8 and "docker" in seen["modes"]
    plain = lab_precision(str(tmp_path), "native", "cpu_us_per_request", False, 1.0, 4, {"ladder": ["native", "docker"]})
    assert "docker vs native" not in plain["modes"], "without twins the first step is the mode against the baseline"


def sequential_observed(**changes: Any) -> dict[str, Any]:
    observed = {
        "k6_jobs": [{"rc": 0, "stderr": "", "cmd": ["k6", "run"]}],
        "primer": {"status": 200, "content": "[]"},
        "expected_sha256": lab_sha256("[]"),
        "health_before": {"status": 200},
        "health_after": {"status": 200},
        "cpu_before": {"rc": 0, "stdout": "10.000"},
        "cpu_after": {"rc": 0, "stdout": "12.500"},
    }
    return observed | changes


def test_a_sequential_record_keeps_the_contract_of_run_json(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    record = lab_sequential_record(str(tmp_path), RUN | {"mode": "native", "loadgen_cpuset": "0"}, sequential_observed())
    assert record["status"] == "ok" and record["error"] is None and record["mode"] == "native"
    assert record["service_cpu_s"] == pytest.approx(2.5) and record["k6_cpu_s"] == 1.5 and record["k6_max_rss_kb"] == 5000
    assert record["error_rate"] == 0.0 and record["segments"][0]["measured_requests"] == 1000
    assert record["recovered"] is False and record["loadgen"] == "localhost" and record["start_skew_s"] == 0.0
    assert record["cpu_window"] == "warmup+measure" and record["k6_argv"] == ["k6", "run"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"primer": {"status": 503, "content": ""}}, "primer: status 503 or payload differs from verify"),
        ({"k6_jobs": [{"rc": 107, "stderr": "ReferenceError"}]}, "k6 exited 107: ReferenceError"),
        ({"health_after": {"status": 0}}, "service unhealthy after the run (status 0)"),
    ],
)
def test_a_sequential_run_that_cannot_be_trusted_fails_saying_why(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    record = lab_sequential_record(str(tmp_path), RUN | {"mode": "native"}, sequential_observed(**changes))
    assert record["status"] == "failed" and message in record["error"]


def test_cpu_not_measured_is_recorded_as_none_not_zero(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0)})
    record = lab_sequential_record(str(tmp_path), RUN | {"mode": "native"}, sequential_observed(cpu_after={"rc": 1, "stdout": ""}))
    assert record["service_cpu_s"] is None and record["status"] == "ok"


def test_each_mode_is_found_by_its_pidfile_or_its_container() -> None:
    """By its kind's process in the real kinds table: natives and rootfs modes by pidfile,
    containers by name, bridge containers (both client paths) with their docker-proxy; and
    lab_round.py is told how each restarts by the same split."""
    from lab_run import lab_cgroup_modes, lab_round_spec

    modes_yml = yaml.safe_load((PROJECT / "inventory" / "group_vars" / "all" / "modes.yml").read_text())
    catalog, kinds = modes_yml["lab_mode_catalog"], modes_yml["lab_mode_kinds"]
    containers = {"docker": "lab-docker", "docker_host": "lab-docker_host", "docker_proxy": "lab-docker_proxy"}
    found = lab_cgroup_modes(["native", "native_rootfs", "docker", "docker_host", "docker_proxy"], catalog, kinds, "/d", containers)
    assert lab_cgroup_modes(["native_memcg_shared"], catalog, kinds, "/d", {})["native_memcg_shared"]["inherit"] == ["memory"]
    assert found == {
        "native": {"pidfile": "/d/service-native.pid", "inherit": []},
        "native_rootfs": {"pidfile": "/d/service-native_rootfs.pid", "inherit": []},
        "docker": {"container": "lab-docker", "listener": 8201},
        "docker_host": {"container": "lab-docker_host"},
        "docker_proxy": {"container": "lab-docker_proxy", "listener": 8203},
    }
    with pytest.raises(AnsibleFilterError, match="mode odd: kind 'vm' has no process"):
        lab_cgroup_modes(["odd"], catalog | {"odd": {"kind": "vm", "port": 9000}}, kinds, "/d", {})
    bases = {m: f"http://127.0.0.1:{catalog[m]['port']}" for m in found}
    spec = lab_round_spec({"parent": "lab", "cpuset": "1", "modes": found}, bases, "/d", True, "/bin")
    assert spec["modes"]["native_rootfs"] == {"base": "http://127.0.0.1:8105", "daemon": "/d/service-native_rootfs.restart.json"}
    assert spec["modes"]["docker"] == {"base": "http://127.0.0.1:8201", "container": "lab-docker"}
    assert spec["restart"] is True and spec["cgroups"]["modes"] == found


def test_each_kind_has_its_deploy_tasks_and_prepares_exactly_when_it_has_prepare_tasks() -> None:
    """A kind's `prepare: true` is what runs <kind>_prepare.yml (the native venv, the image's root
    filesystem): without it a host the lab never ran on had no venv and no rootfs (2026-12-07)."""
    kinds = yaml.safe_load((PROJECT / "inventory" / "group_vars" / "all" / "modes.yml").read_text())["lab_mode_kinds"]
    tasks = PROJECT / "roles" / "service_deploy" / "tasks"
    for kind, description in kinds.items():
        assert (tasks / f"{kind}.yml").is_file(), f"kind {kind}: no roles/service_deploy/tasks/{kind}.yml"
        assert bool(description.get("prepare")) == (tasks / f"{kind}_prepare.yml").is_file(), f"kind {kind}: prepare vs {kind}_prepare.yml"


def test_an_open_model_run_that_could_not_offer_its_rate_fails_with_both_rates(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (100, 400.0), "docker": (100, 400.0)})
    summary = json.loads((tmp_path / "summary.json").read_text())
    # k6 tags dropped_iterations with the scenario's name only; the warm-up's drops do not count.
    summary["metrics"]["dropped_iterations{scenario:measure_native}"] = {"values": {"count": 200, "rate": 20.0}}
    summary["metrics"]["dropped_iterations{scenario:measure_docker}"] = {"values": {"count": 150, "rate": 15.0}}
    summary["metrics"]["dropped_iterations"] = {"values": {"count": 9000, "rate": 900.0}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    run = RUN | {"modes": ["native", "docker"], "rate": 120}
    record = lab_concurrent_record(str(tmp_path), run, observed_for(["native", "docker"], rc=99))
    assert record["status"] == "failed"
    assert "350 measured iterations dropped: the load generators could not offer 240 requests/s, achieved 200.0/s" in record["error"]
    assert "error rate" not in record["error"], "no request failed: the error rate is not the reason"
    assert record["segments"][0]["dropped_iterations"] == 350


def test_a_run_is_recorded_as_started_and_the_report_names_it_if_it_never_ends(tmp_path: Path) -> None:
    from analysis.load import _runs

    facts = RUN | {"measure_duration_s": 6, "warmup_duration_s": 3}
    concurrent = lab_started_record({"round": 4, "order": 9, "started_at": "t", "modes": ["native", "docker"]}, facts, "concurrent")
    assert concurrent["status"] == "running" and concurrent["design"] == "concurrent" and concurrent["per_mode"] == {}
    sequential = lab_started_record({"round": 2, "order": 3, "started_at": "t", "mode": "docker"}, facts, "sequential")
    assert sequential["mode"] == "docker" and "design" not in sequential
    for name, record in (("009_concurrent_r4", concurrent), ("003_docker_r2", sequential)):
        write_meta(tmp_path, name, record)
    runs = {run.name: run for run in _runs(tmp_path / "runs", ["native", "docker"])}
    assert all(run.meta["status"] == "running" and run.problem is None for run in runs.values()), "read as recorded"
    from analysis import contract

    for run in runs.values():
        keys = contract.CONCURRENT_KEYS if run.concurrent else contract.SEQUENTIAL_KEYS
        assert all(key in run.meta for key in keys), "the report can read it (and leaves it out: status running)"


def test_a_sequential_plan_shuffles_each_round_by_its_seed_and_skips_what_is_ok(tmp_path: Path) -> None:
    fresh = lab_plan(str(tmp_path), "sequential", ["native", "docker", "docker_host"], 3, 1)
    assert fresh["next_order"] == 1 and fresh["done_rounds"] == [] and fresh["todo"] == fresh["order"]
    assert [r["round"] for r in fresh["order"]] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    for r in (1, 2, 3):
        assert sorted(p["mode"] for p in fresh["order"] if p["round"] == r) == ["docker", "docker_host", "native"]
    # The order is the seed's (as Ansible's shuffle filter gave it: random.Random("<seed>-<round>")).
    assert lab_plan(str(tmp_path), "sequential", ["native", "docker", "docker_host"], 3, 1) == fresh
    assert lab_plan(str(tmp_path), "sequential", ["native", "docker", "docker_host"], 3, 2)["order"] != fresh["order"]

    first, second = fresh["order"][0], fresh["order"][1]
    write_meta(tmp_path, lab_run_name(1, first["mode"], 1), {"status": "ok"})
    write_meta(tmp_path, lab_run_name(2, second["mode"], 1), {"status": "failed"})
    (tmp_path / "runs" / "notes").mkdir()  # not a run folder: ignored
    resumed = lab_plan(str(tmp_path), "sequential", ["native", "docker", "docker_host"], 3, 1)
    assert resumed["todo"] == fresh["order"][1:], "the ok run is skipped, the failed one redone"
    assert resumed["next_order"] == 3, "a failed run's folder keeps its number: nothing recorded is reused"


def test_a_concurrent_plan_lists_the_rounds_already_ok(tmp_path: Path) -> None:
    write_meta(tmp_path, "001_concurrent_r1", {"status": "ok"})
    write_meta(tmp_path, "002_concurrent_r2", {"status": "failed"})
    write_meta(tmp_path, "003_concurrent_r2", {"status": "ok"})
    write_meta(tmp_path, "004_concurrent_r3", {"status": "running"})
    plan = lab_plan(str(tmp_path), "concurrent", ["native", "docker"], 6, 1)
    assert plan == {"order": [], "todo": [], "done_rounds": [1, 2], "next_order": 5}


def test_a_run_folder_name_and_the_manifests_run_order_in_either_shape() -> None:
    assert lab_run_name(7, "docker_host", 12) == "007_docker_host_r12"
    assert lab_run_name("1234", "concurrent", "3") == "1234_concurrent_r3"
    records = [{"mode": "native", "round": 1}, {"mode": "docker", "round": 1}]
    assert planned_runs(records, Path("m.json")) == [{"mode": "native", "round": 1}, {"mode": "docker", "round": 1}]
    before = planned_runs(["native 1", "docker 1"], Path("m.json"))
    assert before == [{"mode": "native", "round": 1}, {"mode": "docker", "round": 1}], "as campaigns recorded it before"


def test_extra_requests_are_served_but_not_counted_and_their_share_is_the_known_cost(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (200, 400.0), "native_extra3": (198, 412.0)}, extra_every={"native_extra3": 33})
    found = windows([tmp_path / "k6.json.gz"], tmp_path / "cpu.jsonl", ["native", "native_extra3"])
    extra = found["native_extra3"]
    assert extra.requests == 9 * 198 and extra.served_requests == 9 * 198 and extra.measured_requests == 1980
    assert extra.extra == 54 and extra.extra_share_pct == pytest.approx(100 * 54 / 1782)
    assert extra.as_json()["extra_requests"] == 54 and found["native"].extra == 0 and found["native"].extra_share_pct is None


def test_a_control_known_by_count_is_recovered_and_a_busy_loop_is_held_to_its_own_time(tmp_path: Path) -> None:
    """Four modes over 8 rounds: native_extra3 and native_uncounted3 pay exactly their share (recovered);
    native_cost3's loop costs the request 1 pp more than the loop's own sampled time (a floor)."""
    from analysis.model import build

    folder = tmp_path / "k" / "localhost"
    modes = ["native", "native_extra3", "native_cost3", "native_uncounted3"]
    for r in range(1, 9):
        run_dir = folder / "runs" / f"{r:03d}_concurrent_r{r}"
        wobble = 1 + (0.004 if r % 2 else -0.004) * (1 + r / 10)
        base = 400.0 * (1 + r / 100)
        per_mode = {
            "native": (200, base),
            "native_extra3": (198, base * (1 + 1 / 33) * wobble),
            "native_cost3": (200, base * 1.04 / wobble),
            "native_uncounted3": (198, base * (1 + 1 / 33) / wobble),
        }
        write_round(run_dir, per_mode, extra_every={"native_extra3": 33, "native_uncounted3": 33})
        busy = {"busy_loops": 950, "busy_sampled_calls": 100, "busy_sampled_ns": round(100 * base * 0.03 * 1000)}
        observed = observed_for(modes, stats={"native_cost3": (busy | {"busy_sampled_calls": 0, "busy_sampled_ns": 0}, busy)})
        record = lab_concurrent_record(str(run_dir), RUN | {"modes": modes, "round": r, "order": r}, observed)
        (run_dir / "run.json").write_text(json.dumps(record | {"started_at": f"2027-01-15T08:0{r}:00Z"}))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "campaign_id": "k",
        "design": "concurrent",
        "baseline": "native",
        "primary_metric": "cpu_us_per_request",
        "profile": {"name": "calibrate", "measure_s": 10, "warmup_s": 2},
        "modes": dict.fromkeys(modes, {}) | {"native_uncounted3": {"uncounted_every": 34}},
        "run_order": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = build(folder)
    controls = {k["mode"]: k for k in report.gap_json()["controls"]}
    count, busy, uncounted = controls["native_extra3"], controls["native_cost3"], controls["native_uncounted3"]
    assert uncounted["known_from"] == "uncounted requests, the same traffic" and uncounted["recovered"]
    assert count["known_from"] == "extra requests, counted" and count["injected_pct"] == pytest.approx(100 * 54 / 1782, abs=0.01)
    assert count["recovered"] and count["ci95"][0] < count["injected_pct"] < count["ci95"][1]
    assert busy["known_from"].startswith("the loop's own CPU time") and busy["injected_pct"] == pytest.approx(3.0, abs=0.01)
    assert not busy["recovered"] and busy["excess_pp"] == pytest.approx(1.0, abs=0.2)
    lines = report.headlines()
    assert any(
        line.startswith("known-cost control native_extra3: +3.03% by count")
        and line.endswith("recovered: the instrument measures a known cost as it is")
        for line in lines
    )
    assert any(line.startswith("busy-work control native_cost3") and "bears more than the loop's own time" in line for line in lines)


def test_rounds_recorded_by_the_plugin_are_reported_and_a_long_pause_makes_a_second_block(tmp_path: Path) -> None:
    """From the lab's records to the report: a concurrent campaign whose fourth round came 2 hours
    after the third (a resume) is reported in two blocks, named, never silently one occasion."""
    from analysis.model import build

    folder = tmp_path / "c" / "localhost"
    starts = ["2027-01-15T08:00:00Z", "2027-01-15T08:01:00Z", "2027-01-15T08:02:00Z", "2027-01-15T10:05:00Z"]
    for r, start in enumerate(starts, start=1):
        run_dir = folder / "runs" / f"{r:03d}_concurrent_r{r}"
        write_round(run_dir, {"native": (200, 400.0 + r), "docker": (200, 500.0 + r)})
        record = lab_concurrent_record(
            str(run_dir), RUN | {"modes": ["native", "docker"], "round": r, "order": r}, observed_for(["native", "docker"])
        )
        (run_dir / "run.json").write_text(json.dumps(record | {"started_at": start}))
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "campaign_id": "c",
        "design": "concurrent",
        "baseline": "native",
        "primary_metric": "cpu_us_per_request",
        "profile": {"name": "capacity", "measure_s": 10, "warmup_s": 2, "max_pause_min": 30},
        "modes": {"native": {}, "docker": {}},
        "run_order": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = build(folder)
    assert report.gap_json()["blocks"] == [[1, 2, 3], [4]]
    assert any("2 blocks separated by pauses longer than the profile's max_pause_min (rounds 1-3, round 4)" in w for w in report.warnings)
    docker = next(c for c in report.comparisons if c.mode == "docker" and c.metric == "cpu_us_per_request")
    assert docker.n_pairs == 4 and docker.gap_pct == pytest.approx(
        100 * (math.exp(np.mean([math.log((500 + r) / (400 + r)) for r in range(1, 5)])) - 1), rel=1e-3
    )
    (folder / "manifest.json").write_text(json.dumps(manifest | {"profile": manifest["profile"] | {"max_pause_min": 300}}))
    assert build(folder).gap_json()["blocks"] == [[1, 2, 3, 4]]


def accounting_report(modes: list[str], outside: dict[str, str] | None = None) -> dict[str, Any]:
    """What lab_cgroups.py --check prints; `outside`: mode -> what is wrong ("cgroup" or "core")."""
    outside = outside or {}
    return {
        "modes": {
            m: {
                "all_inside": outside.get(m) != "cgroup",
                "all_pinned": outside.get(m) != "core",
                "comm": ["docker-proxy", "python"] if m == "docker" else ["python"],
            }
            for m in modes
        }
    }


def test_a_round_whose_accounting_held_records_it_per_mode(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)})
    observed = observed_for(["native", "docker"]) | {"accounting": accounting_report(["native", "docker"])}
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed)
    assert record["status"] == "ok"
    assert record["accounting"]["docker"] == {"all_inside": True, "all_pinned": True, "comm": ["docker-proxy", "python"]}


@pytest.mark.parametrize("what", ["cgroup", "core"])
def test_a_round_with_the_bridges_proxy_left_out_of_its_cgroup_or_core_is_invalid(tmp_path: Path, what: str) -> None:
    """The docker-proxy of the round was outside the bridge mode's cgroup (or off the service core)
    for the window: most of the bridge's cost would be missing, so the round is kept on disk
    (run.json says why) and left out of the gaps (status failed)."""
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)})
    observed = observed_for(["native", "docker"]) | {"accounting": accounting_report(["native", "docker"], {"docker": what})}
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed)
    assert record["status"] == "failed"
    assert "accounting: after the window docker's processes (docker-proxy, python) were not all in its cgroup" in record["error"]
    assert record["per_mode"]["docker"]["cpu_us_per_request"] == pytest.approx(600.0), "the measurement stays on disk"


def test_a_mode_the_accounting_check_does_not_list_fails_the_round(tmp_path: Path) -> None:
    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)})
    observed = observed_for(["native", "docker"]) | {"accounting": accounting_report(["native"])}
    record = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed)
    assert record["status"] == "failed" and "docker's processes (none found)" in record["error"]


def test_the_window_noise_script_splits_a_round_into_halves_of_the_same_cost(tmp_path: Path) -> None:
    sys.path.insert(0, str(PROJECT / "scripts"))
    from window_noise import halves

    write_round(tmp_path, {"native": (500, 450.0), "docker": (500, 600.0)})
    split = halves(tmp_path, ["native", "docker"])
    assert split is not None
    for half in split:
        assert half["native"] == pytest.approx(450.0, rel=0.02) and half["docker"] == pytest.approx(600.0, rel=0.02)


def test_rounds_fall_in_blocks_each_begun_by_the_next_reset_in_turn() -> None:
    from lab_run import lab_block

    profile = {"block_rounds": 3, "block_resets": ["dockerd", "caches"]}
    blocks = [lab_block(r, profile) for r in range(1, 11)]
    assert [b["index"] for b in blocks] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    # The reset runs before a block's first round only; every round of the block records it.
    assert [b["reset"] for b in blocks] == [None, None, None, "dockerd", None, None, "caches", None, None, "dockerd"]
    assert [b["began_with"] for b in blocks][3:7] == ["dockerd", "dockerd", "dockerd", "caches"]
    assert lab_block(5, {}) == {"index": 0, "reset": None, "began_with": None}


def test_a_round_in_one_call_is_recorded_as_the_task_by_task_round_is(tmp_path: Path, lab_file: Callable[[str], Any]) -> None:
    """The action plugin's record is lab_concurrent_record's, from lab_round.py's report."""
    plugin = lab_file("action_plugins/lab_round.py")
    write_round(tmp_path, {"native": (1000, 450.0), "docker": (1000, 480.0)})
    observed = observed_for(["native", "docker"])
    report = {
        "k6": observed["k6_jobs"][0],
        "primer": observed["primer"],
        "after": observed["after"],
        "accounting": {"modes": {m: {"all_inside": True, "all_pinned": True, "comm": ["python"]} for m in ("native", "docker")}},
        "timings_s": {"load": 9.3},
        "unhealthy": [],
    }
    record = plugin.round_record(tmp_path, RUN | {"modes": ["native", "docker"]}, report, observed["expected_sha256"])
    same = lab_concurrent_record(str(tmp_path), RUN | {"modes": ["native", "docker"]}, observed | {"accounting": report["accounting"]})
    assert record["status"] == "ok" and record["per_mode"] == same["per_mode"] and record["steps_s"] == {"load": 9.3}
    assert record["finished_at"] != RUN["finished_at"]


ORPHAN_WORKER = """
import importlib.util, os, subprocess, sys, time
pid = os.fork()
if pid:  # the control node: waits for its worker, as ansible-playbook does
    os.waitpid(pid, 0)
    sys.exit(0)
os.setsid()  # as Ansible's WorkerProcess._detach
spec = importlib.util.spec_from_file_location("lab_round_action", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.orphan_guard(os.getppid(), poll_s=0.05)
load = subprocess.Popen(["sleep", "60"])  # k6, lab_round.py: the worker's children, its group
with open(sys.argv[2], "w") as out:
    out.write(f"{os.getpid()} {load.pid}")
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_a_worker_whose_control_node_is_killed_kills_its_round_and_writes_nothing(tmp_path: Path) -> None:
    """SIGKILL of the control node leaves the worker alive (setsid); its guard then kills the
    worker's whole group (k6 with it) before the round is recorded."""
    pids = tmp_path / "pids"
    plugin = Path(__file__).resolve().parents[2] / "roles/lab/action_plugins/lab_round.py"
    control = subprocess.Popen([sys.executable, "-c", ORPHAN_WORKER, str(plugin), str(pids)], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not (pids.exists() and pids.read_text()):
            assert time.monotonic() < deadline and control.poll() is None, "the worker never started"
            time.sleep(0.05)
        worker, load = (int(p) for p in pids.read_text().split())
        time.sleep(0.5)
        assert alive(worker) and alive(load), "the guard leaves a worker whose control node lives alone"
        control.kill()
        control.wait(5)
        deadline = time.monotonic() + 5
        while (alive(worker) or alive(load)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker) and not alive(load), "the orphaned worker and its load outlived the control node"
    finally:
        if control.poll() is None:
            os.killpg(control.pid, signal.SIGKILL)


def test_a_round_whose_mode_did_not_come_back_fails_naming_it(tmp_path: Path, lab_file: Callable[[str], Any]) -> None:
    plugin = lab_file("action_plugins/lab_round.py")
    report = {
        "k6": None,
        "unhealthy": ["docker"],
        "problems": {"docker": "no 200 from /health within 60 s"},
        "primer": [],
        "after": [],
        "timings_s": {},
    }
    record = plugin.round_record(tmp_path, RUN | {"modes": ["native", "docker"]}, report, {"native": "x", "docker": "y"})
    assert record["status"] == "failed"
    assert record["error"].startswith("modes did not come back after their restart (docker: no 200 from /health within 60 s)")


def test_every_profile_resolves_and_no_task_defaults_a_profile_key() -> None:
    """Typed profiles, resolved once: lab_profile_resolved (analysis.rules) is the one place a
    profile key gets its default; the roles and playbooks read the resolved profile."""
    profiles = yaml.safe_load((PROJECT / "inventory" / "group_vars" / "all" / "profiles.yml").read_text())["lab_profiles"]
    for name, profile in profiles.items():
        resolved = lab_profile_resolved(profile, name)
        assert {"design", "records_source", "primary_metric", "max_error_rate", "restart_each_round"} <= set(resolved), name
    with pytest.raises(AnsibleFilterError, match="lab_profiles.broken has no executor"):
        lab_profile_resolved({k: v for k, v in profiles["capacity"].items() if k != "executor"}, "broken")
    assert task_lines_matching(r"(_lab_profile|_profile)\.[a-z_]+ *\| *default\(") == []


def test_every_mode_resolves_and_no_task_defaults_a_mode_key() -> None:
    """The mode catalog, resolved once (analysis.catalog): every mode of modes.yml resolves with
    MODE_DEFAULTS filled in, a broken entry is refused by its key, and no role or playbook gives
    a catalog key a default of its own."""
    modes_yml = yaml.safe_load((PROJECT / "inventory" / "group_vars" / "all" / "modes.yml").read_text())
    entries, kinds = modes_yml["lab_mode_catalog"], modes_yml["lab_mode_kinds"]
    resolved = lab_catalog_resolved(entries, kinds)
    assert set(resolved) == set(entries)
    assert resolved["native"]["client"] == "loopback" and resolved["docker"]["client"] == "remote"
    assert resolved["native_b"]["twin_of"] == "native" and resolved["native"]["twin_of"] is None
    with pytest.raises(AnsibleFilterError, match=r"lab_mode_catalog.native.port is 80 \(a whole number 1024-65535\)"):
        lab_catalog_resolved(entries | {"native": {"kind": "native", "port": 80}}, kinds, ["native"])
    # A broken entry outside the campaign's modes does not refuse the campaign.
    assert lab_catalog_resolved(entries | {"native_b": {"kind": "vm"}}, kinds, ["native"])["native"]["port"] == 8101
    assert task_lines_matching(r"(catalog\[[a-z_.]+\]|_entry)\.[a-z_]+ *\| *default\(") == []


def task_lines_matching(pattern: str) -> list[str]:
    """file:line of every line of the roles' and playbooks' YAML that matches `pattern`."""
    found = re.compile(pattern)
    return [
        f"{path.relative_to(PROJECT)}:{number}"
        for path in [*(PROJECT / "roles").rglob("*.yml"), *(PROJECT / "playbooks").glob("*.yml")]
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if found.search(line)
    ]


@pytest.mark.parametrize("plugin", ["filter_plugins/lab_run.py", "filter_plugins/lab_lock.py", "action_plugins/lab_round.py"])
def test_the_plugins_import_nothing_heavy(plugin: str) -> None:
    """Ansible loads the lab's plugins afresh for every task it templates: numpy, scipy or pandas
    at import time cost every task of every play about a second (preflight took 75 s, not 8)."""
    role = PROJECT / "roles" / "lab"
    code = (
        "import sys, runpy; "
        f"sys.path.insert(0, {str(role / 'filter_plugins')!r}); "
        f"runpy.run_path({str(role / plugin)!r}); "
        "print(sorted({'numpy', 'scipy', 'pandas', 'statsmodels'} & set(sys.modules)))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True)
    assert found.stdout.strip() == "[]", f"{plugin} imports {found.stdout.strip()} when it is loaded"
