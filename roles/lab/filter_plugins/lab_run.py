"""The lab role's run logic, as plain functions: Ansible only starts, waits, fetches and writes.

- lab_plan: what is left to run of a campaign (sequential runs as {mode, round} records in each
  round's seeded order, the concurrent rounds already done) and the next run folder's number,
  from the run folders already recorded (a resumed campaign skips its ok runs).
- lab_run_name: a run folder's name (analysis.contract).
- lab_profile_resolved: a profile with its defaults (analysis.rules.PROFILE_DEFAULTS).
- lab_catalog_resolved / lab_catalog_problems: the mode catalog with its defaults
  (analysis.catalog.MODE_DEFAULTS), and what is wrong with a campaign's modes.
- lab_round_order: the positions of the modes in one concurrent round (blocks of n rounds, each
  block a fresh random order of the n modes rotated through its n places in a random sequence:
  every mode holds every position once per block, and which mode follows which is re-drawn
  every block and every campaign).
- lab_targets / lab_k6_argv: the k6 command line of one load generator for one run or round.
- lab_sequential_record / lab_concurrent_record: run.json from what was fetched and observed,
  the status and the error sentence included.
- lab_precision: the stopping rule's view of a campaign (Stein's two-stage rule): the rounds
  each primary comparison needs in all, from its first stage's spread, and its CI half-width
  so far (widths only: the estimate is never looked at).

Each raises AnsibleFilterError with a sentence a user can act on. Tested in tests/unit/.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

try:
    from ansible.errors import AnsibleFilterError
except ImportError:  # imported by the unit tests without Ansible's plugin loader

    class AnsibleFilterError(Exception):  # type: ignore[no-redef]
        pass


PROJECT = Path(__file__).resolve().parents[3]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from analysis import catalog, contract, rules, schema  # noqa: E402
from analysis.window import WindowError, other_work, windows  # noqa: E402


def lab_plan(campaign_dir: str, design: str, modes: list[str], rounds: Any, seed: Any) -> dict[str, Any]:
    """The campaign's plan against what its run folders already hold.

    order: every planned sequential run, {mode, round}, each round's modes shuffled by the seed
    "<seed>-<round>" (as Ansible's shuffle filter did: random.Random(seed).shuffle); todo: those
    not yet ok; done_rounds: the concurrent rounds already ok; next_order: one past the highest
    run folder number (failed folders count: nothing recorded is reused).
    """
    ok: set[tuple[str, int]] = set()
    highest = 0
    for folder in Path(campaign_dir, "runs").glob("*"):
        identity = contract.run_identity(folder.name)
        if identity is None or not folder.is_dir():
            continue
        order, unit, round_number = identity
        highest = max(highest, order)
        meta, _ = _json_file(folder / "run.json")
        if meta is not None and meta.get("status") == "ok":
            ok.add((unit, round_number))
    planned: list[dict[str, Any]] = []
    if design == "sequential":
        for round_number in range(1, int(rounds) + 1):
            shuffled = list(modes)
            random.Random(f"{seed}-{round_number}").shuffle(shuffled)
            planned += [{"mode": mode, "round": round_number} for mode in shuffled]
    return {
        "order": planned,
        "todo": [run for run in planned if (run["mode"], run["round"]) not in ok],
        "done_rounds": sorted(r for unit, r in ok if unit == contract.CONCURRENT),
        "next_order": highest + 1,
    }


def lab_run_name(order: Any, unit: str, round_number: Any) -> str:
    return contract.run_name(int(order), unit, int(round_number))


def lab_profile_resolved(profile: Any, name: Any) -> dict[str, Any]:
    """The profile with every default applied (analysis.rules.resolve_profile): the one place a
    profile key gets its default; a profile without a required key is refused by name."""
    try:
        return rules.resolve_profile(str(name), profile)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def lab_catalog_resolved(entries: Any, kinds: Any, modes: Any = None) -> dict[str, Any]:
    """The mode catalog with every default applied (analysis.catalog.resolve_catalog), the
    modes given checked: the one place a mode key gets its default."""
    try:
        return catalog.resolve_catalog(entries, kinds, modes)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def lab_catalog_problems(entries: Any, kinds: Any, modes: Any, design: Any = None, nat_address: Any = None) -> list[str]:
    """What is wrong with a campaign's modes, each problem naming its catalog key."""
    return catalog.catalog_problems(entries, kinds, modes, design, nat_address)


def lab_round_order(modes: list[str], seed: Any, round_number: Any, campaign: Any = "") -> list[str]:
    """The modes in the round's order of positions (k6's scenarios, lab_round.py's walks).

    Rounds come in blocks of n (the number of modes). Each block draws its own order of the
    modes (seeded by seed, campaign and block) and takes its n rotations in a random sequence:
    within a block every mode holds every position once; across blocks and campaigns, which mode
    sits next to which is random. Until 2026-12-07 one seeded order was rotated for the whole
    campaign, and the seed was the same in every campaign: native was followed by the same
    mode in every calibrate round of every campaign, so an effect of a neighbour could never
    average out, in a campaign or over campaigns.
    """
    if not modes:
        raise AnsibleFilterError("lab_round_order: no modes")
    block, step = divmod(int(round_number) - 1, len(modes))
    draw = random.Random(f"{seed}-{campaign}-{block}")
    base = list(modes)
    draw.shuffle(base)
    shifts = list(range(len(base)))
    draw.shuffle(shifts)
    shift = shifts[step]
    return base[shift:] + base[:shift]


def lab_targets(order: list[str], urls: dict[str, str], catalog: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The k6 targets of a concurrent round: every mode in position order.

    The known-count controls (lab.js tags the request extra="1"; the report does not count it as
    served): `extra_request_every: N` sends the same request once more every N-th iteration (a
    mode dearer by the share of extra requests, if a request costs what a request costs);
    `uncounted_every: N` leaves every N-th iteration's one request uncounted (the same traffic as
    its twin, dearer per counted request by exactly 1/(N-1)).
    """
    found = []
    for mode in order:
        target: dict[str, Any] = {"mode": mode, "url": urls[mode]}
        entry = (catalog or {}).get(mode) or {}
        for key, name in (("extra_request_every", "extra_every"), ("uncounted_every", "uncounted_every")):
            if int(entry.get(key) or 0):
                target[name] = int(entry[key])
        found.append(target)
    return found


def lab_k6_argv(
    targets: list[dict[str, Any]], profile: dict[str, Any], scratch: str, tags: dict[str, str], k6: dict[str, Any]
) -> list[str]:
    """One load generator's command: the start barrier, GNU time, taskset, then k6 with a scenario pair per target.

    targets: [{mode, url}] (mode None: a sequential run, one target untagged by the script).
    tags: --tag pairs in order. k6: {bin, script, start_barrier, start_at, cpuset, time_format,
    segment: [i, n], dashboard (optional: k6's web dashboard exported to dashboard.html, its HTTP
    server off)}.
    """
    if not targets:
        raise AnsibleFilterError("lab_k6_argv: no target to load")
    profile = rules.PROFILE_DEFAULTS | {k: v for k, v in profile.items() if v is not None}
    config = {
        "targets": targets,
        "executor": profile["executor"],
        "vus": int(profile["vus"]),
        "rate": int(profile["rate"]),
        "sleep_s": float(profile["sleep_s"]),
        "warmup_s": int(profile["warmup_s"]),
        "measure_s": int(profile["measure_s"]),
        "summary_path": f"{scratch}/summary.json",
        "max_error_rate": float(profile["max_error_rate"]),
        # Several modes at a fixed rate each: a random start within each request's slot (lab.js).
        "jitter_s": round(1.0 / float(profile["rate"]), 6)
        if profile["executor"] == "constant-arrival-rate" and len(targets) > 1 and float(profile["rate"]) > 0
        else 0.0,
    }
    index, count = (int(x) for x in k6.get("segment", (0, 1)))
    segment: list[str] = []
    if count > 1:
        sequence = ",".join(f"{i}/{count}" for i in range(count + 1))
        segment = [
            "--execution-segment",
            f"{index}/{count}:{index + 1}/{count}",
            "--execution-segment-sequence",
            sequence,
            "--tag",
            f"segment={index + 1}/{count}",
        ]
    # "{start_at}": filled in by lab_round.py when it starts k6 (a round run in one call).
    start_at = k6["start_at"] if k6["start_at"] == "{start_at}" else f"{float(k6['start_at']):.6f}"
    argv = ["/usr/bin/python3", k6["start_barrier"], start_at, f"{scratch}/started.json"]
    if k6.get("dashboard"):
        exported = f"{scratch}/dashboard.html"
        # A 1 s period: k6 skips the report of a run shorter than a few periods (10 s by default).
        argv += ["/usr/bin/env", "K6_WEB_DASHBOARD=true", "K6_WEB_DASHBOARD_PORT=-1", "K6_WEB_DASHBOARD_PERIOD=1s"]
        argv += [f"K6_WEB_DASHBOARD_EXPORT={exported}"]
    argv += ["/usr/bin/time", "-f", k6["time_format"], "-o", f"{scratch}/time.json"]
    # --address '': no REST API (k6 1.x listens on localhost:6565 unless told not to).
    argv += ["/usr/bin/taskset", "-c", str(k6["cpuset"]), str(k6["bin"]), "run", "--quiet", "--no-usage-report", "--address", ""]
    for key, value in tags.items():
        argv += ["--tag", f"{key}={value}"]
    argv += segment
    argv += ["--out", f"json={scratch}/k6.json.gz", "--env", "LAB_K6_CONFIG=" + json.dumps(config, sort_keys=True), k6["script"]]
    return argv


def _json_file(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """A small JSON file k6 or a helper wrote; GNU time may prefix a line before its JSON."""
    if not path.exists():
        return None, f"{path.name} missing"
    text = path.read_text(encoding="utf-8", errors="replace")
    found = re.search(r"\{.*\}", text, re.S)
    try:
        data = json.loads(found.group(0) if found else text)
    except json.JSONDecodeError as exc:
        return None, f"{path.name} unreadable ({exc.msg})"
    return (data, None) if isinstance(data, dict) else (None, f"{path.name} is not a JSON object")


def _measured_failures(summary: dict[str, Any] | None) -> tuple[int | None, int | None]:
    """Failed and total measured requests, from k6's summary (the http_req_failed{phase:measure} submetric)."""
    for name, metric in ((summary or {}).get("metrics") or {}).items():
        if name.startswith("http_req_failed{phase:measure}"):
            values = metric.get("values") or {}
            passes, fails = int(values.get("passes") or 0), int(values.get("fails") or 0)
            return passes, passes + fails
    return None, None


def _dropped_iterations(summary: dict[str, Any] | None) -> int | None:
    """Measured iterations an open-model k6 could not start, summed over the measured scenarios
    (dropped_iterations{scenario:measure...}: the metric has the scenario's name, not its tags); None when not counted."""
    counts = [
        int((metric.get("values") or {}).get("count") or 0)
        for name, metric in ((summary or {}).get("metrics") or {}).items()
        if name.startswith("dropped_iterations{scenario:measure")
    ]
    return sum(counts) if counts else None


def _segment(
    run_dir: Path, suffix: str, job: dict[str, Any], loadgen: str, label: str, offset_s: float = 0.0
) -> tuple[dict[str, Any], list[str]]:
    """One load generator's k6: its exit, CPU, memory, start, and its own count of measured requests."""
    problems = []
    usage, why = _json_file(run_dir / f"time{suffix}.json")
    if why:
        problems.append(why)
    started, why = _json_file(run_dir / f"started{suffix}.json")
    if why:
        problems.append(why)
    summary, why = _json_file(run_dir / f"summary{suffix}.json")
    if why:
        problems.append(why)
    # Parsed JSON of the wrong shape (k6 or GNU time cut short, a disk that filled up) fails the
    # run with the file's name, never the play.
    try:
        failed, measured = _measured_failures(summary)
        dropped = _dropped_iterations(summary)
    except (AttributeError, TypeError, ValueError) as exc:
        failed = measured = dropped = None
        problems.append(f"summary{suffix}.json has unexpected content ({exc})")
    try:
        cpu = None if usage is None else round(float(usage.get("user_s", 0)) + float(usage.get("sys_s", 0)), 3)
    except (TypeError, ValueError) as exc:
        cpu = None
        problems.append(f"time{suffix}.json has unexpected content ({exc})")
    epoch = None if started is None else started.get("epoch")
    if epoch is not None and (isinstance(epoch, bool) or not isinstance(epoch, int | float)):
        problems.append(f"started{suffix}.json has unexpected content (epoch {epoch!r})")
        epoch = None
    return {
        "loadgen": loadgen,
        "segment": label,
        "k6_exit": int(job.get("rc", -1)),
        "k6_cpu_s": cpu,
        "k6_max_rss_kb": None if usage is None else usage.get("max_rss_kb"),
        "failed_requests": failed,
        "measured_requests": measured,
        "dropped_iterations": dropped,
        # This host's clock at exec, and the same moment on the control node's clock.
        "started_epoch": epoch,
        "started_epoch_control": None if epoch is None else round(float(epoch) - offset_s, 6),
        "clock_offset_applied_s": offset_s,
    }, problems


def _segments(folder: Path, run: dict[str, Any], jobs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    segments, errors = [], []
    offsets = run.get("clock_offsets") or {}
    for i, (loadgen, suffix, job) in enumerate(zip(run["loadgens"], run["suffixes"], jobs, strict=True)):
        label = f"{i + 1}/{len(run['loadgens'])}"
        segment, problems = _segment(folder, suffix, job, loadgen, label, float(offsets.get(loadgen) or 0.0))
        segments.append(segment)
        if segment["k6_exit"] != 0:
            stderr = " ".join(str(job.get("stderr") or job.get("msg") or "").split())[:300]
            why = f" (thresholds crossed: {_crossed(run, segment, len(run['loadgens']))})" if segment["k6_exit"] == 99 else ""
            errors.append(f"k6 exited {segment['k6_exit']}{why}: {stderr}")
        elif problems:
            errors.append(f"k6 on {loadgen}: " + ", ".join(problems))
    return segments, errors


def _crossed(run: dict[str, Any], segment: dict[str, Any], loadgens: int) -> str:
    """Which of lab.js's thresholds a k6 that exited 99 crossed, with the numbers behind it."""
    reasons = []
    dropped = segment.get("dropped_iterations")
    if dropped:
        seconds = float(run.get("measure_duration_s") or 0)
        offered = float(run.get("rate") or 0) * len(run.get("modes") or [run.get("mode")])
        achieved = (segment.get("measured_requests") or 0) * loadgens / seconds if seconds else 0.0
        reasons.append(
            f"{dropped} measured iterations dropped: the load generators could not offer {offered:g} requests/s, achieved {achieved:.1f}/s"
        )
    failed, measured = segment.get("failed_requests"), segment.get("measured_requests")
    if not reasons or (measured and failed is not None and failed / measured > float(run.get("max_error_rate", 0.01))):
        reasons.append(f"error rate above {run.get('max_error_rate', 0.01)}")
    return "; ".join(reasons)


def _skew(segments: list[dict[str, Any]]) -> float | None:
    starts = [float(s["started_epoch_control"]) for s in segments if s["started_epoch_control"] is not None]
    return round(max(starts) - min(starts), 6) if starts and len(starts) == len(segments) else None


def _record(run: dict[str, Any], errors: list[str], segments: list[dict[str, Any]], observed: dict[str, Any]) -> dict[str, Any]:
    """What every run.json holds, whatever the design."""
    cpus = [s["k6_cpu_s"] for s in segments if s["k6_cpu_s"] is not None]
    return {
        "schema_version": schema.SCHEMA_VERSION,
        "campaign": run["campaign"],
        "target": run["target"],
        "round": int(run["round"]),
        "order": int(run["order"]),
        "profile": run["profile"],
        "status": "failed" if errors else "ok",
        "error": "; ".join(errors) or None,
        "started_at": run["started_at"],
        "finished_at": run["finished_at"],
        "warmup_duration_s": int(run["warmup_duration_s"]),
        "measure_duration_s": int(run["measure_duration_s"]),
        "k6_argv": (observed["k6_jobs"][0].get("cmd") if observed["k6_jobs"] else None) or [],
        "k6_exit": next((s["k6_exit"] for s in segments if s["k6_exit"] != 0), 0),
        # The busiest load generator (each runs on its own lab_cpuset_loadgen).
        "k6_cpu_s": max(cpus) if cpus else None,
        # One entry per k6 instance (execution segment); the report merges their points.
        "segments": segments,
        "start_skew_s": _skew(segments),
    }


STARTED_ERROR = "started but never recorded: the control node stopped during the run; resuming the campaign runs it again"


def lab_started_record(run: dict[str, Any], facts: dict[str, Any], design: str) -> dict[str, Any]:
    """The run.json a run has from its start (status running), replaced by its record at its end.

    A control node killed in between leaves this behind: the report leaves the run out by name
    (status running), `lab status` counts it as not done, and a resume runs it again.
    """
    record: dict[str, Any] = {
        "schema_version": schema.SCHEMA_VERSION,
        "campaign": facts["campaign"],
        "target": facts["target"],
        "profile": facts["profile"],
        "round": int(run["round"]),
        "order": int(run["order"]),
        "status": "running",
        "error": STARTED_ERROR,
        "started_at": run["started_at"],
        "measure_duration_s": int(facts["measure_duration_s"]),
        "warmup_duration_s": int(facts["warmup_duration_s"]),
    }
    if design == contract.CONCURRENT:
        return record | {"design": contract.CONCURRENT, "modes": list(run["modes"]), "per_mode": {}}
    return record | {"mode": run["mode"]}


def lab_sequential_record(run_dir: str, run: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """run.json of one sequential run (one mode, one k6 per load generator).

    run: campaign, target, profile, mode, round, order, started_at, finished_at,
    warmup_duration_s, measure_duration_s, loadgens, suffixes, clock_offsets, loadgen_cpuset,
    max_error_rate. observed: k6_jobs (async_status results), primer (uri result),
    expected_sha256, health_before, health_after (uri results), cpu_before, cpu_after
    (cpu_seconds.py command results).
    """
    folder = Path(run_dir)
    segments, k6_errors = _segments(folder, run, observed["k6_jobs"])
    primer = observed["primer"]
    payload_ok = primer.get("status") == 200 and lab_sha256(primer.get("content") or "") == observed["expected_sha256"]
    healthy_after = observed["health_after"].get("status") == 200
    errors = [] if payload_ok else [f"primer: status {primer.get('status')} or payload differs from verify"]
    errors += k6_errors
    if not healthy_after:
        errors.append(f"service unhealthy after the run (status {observed['health_after'].get('status')})")
    counted = [s for s in segments if s["measured_requests"] is not None]
    measured = sum(s["measured_requests"] for s in counted)
    cpu_before, cpu_after = observed["cpu_before"], observed["cpu_after"]
    cpu_ok = cpu_before.get("rc") == 0 and cpu_after.get("rc") == 0
    rss = [int(s["k6_max_rss_kb"]) for s in segments if s["k6_max_rss_kb"] is not None]
    return _record(run, errors, segments, observed) | {
        "mode": run["mode"],
        "service_cpu_s": round(float(cpu_after["stdout"]) - float(cpu_before["stdout"]), 3) if cpu_ok else None,
        "cpu_window": "warmup+measure",
        "error_rate": sum(s["failed_requests"] for s in counted) / measured if measured else None,
        "recovered": observed["health_before"].get("status") != 200,
        "k6_max_rss_kb": max(rss) if rss else None,
        "loadgen": ",".join(run["loadgens"]),
        "loadgen_cpuset": run.get("loadgen_cpuset"),
    }


def lab_concurrent_record(run_dir: str, run: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """run.json of one concurrent round.

    run: campaign, target, profile, round, order, modes (in position order), started_at,
    finished_at, warmup_duration_s, measure_duration_s, loadgens, suffixes.
    observed: k6_jobs (async_status results, one per load generator), primer (uri results
    looped over [mode, "records" | "stats"] before the round), after (uri results of /stats
    per mode after it), expected_sha256 (mode -> verify's payload hash), recovered (modes).
    """
    folder = Path(run_dir)
    modes: list[str] = list(run["modes"])
    before = {r["item"][0]: r for r in observed["primer"] if r["item"][1] == "stats"}
    records = {r["item"][0]: r for r in observed["primer"] if r["item"][1] == "records"}
    after = {r["item"]: r for r in observed["after"]}
    segments, errors = _segments(folder, run, observed["k6_jobs"])
    for mode in modes:
        primer = records.get(mode, {})
        if primer.get("status") != 200 or lab_sha256(primer.get("content", "")) != observed["expected_sha256"].get(mode):
            errors.append(f"primer of {mode}: status {primer.get('status')} or payload differs from verify")
        if after.get(mode, {}).get("status") != 200:
            errors.append(f"{mode} unhealthy after the round (status {after.get(mode, {}).get('status')})")
    accounting = round_accounting(modes, observed.get("accounting"))
    for mode, check in accounting.items():
        if not (check["all_inside"] and check["all_pinned"]):
            errors.append(
                f"accounting: after the window {mode}'s processes ({', '.join(check['comm']) or 'none found'}) were not all in "
                f"its cgroup and on the service core (inside {check['all_inside']}, pinned {check['all_pinned']}): its CPU time "
                "is not all counted; the round is invalid"
            )
    per_mode: dict[str, dict[str, Any]] = {}
    busy = other = irq = None
    if not any(s["k6_exit"] != 0 for s in segments):
        raws = [folder / f"k6{suffix}.json.gz" for suffix in run["suffixes"]]
        try:
            found = windows(raws, folder / contract.SAMPLES_FILE, modes)
        except WindowError as exc:
            errors.append(str(exc))
        else:
            window_s = next(iter(found.values())).window_s
            busy = round(sum(w.cpu_s for w in found.values()) / window_s, 4) if window_s > 0 else None
            extra = other_work(found)
            other = None if extra is None else round(extra, 4)
            first = next(iter(found.values()))
            irq = None if first.core_irq_s is None or window_s <= 0 else round(first.core_irq_s / window_s, 4)
            limit = float(run.get("max_error_rate", 0.01))
            for position, mode in enumerate(modes, start=1):
                stats = (before.get(mode, {}).get("json") or {}, after.get(mode, {}).get("json") or {})
                per_mode[mode] = {"position": position} | found[mode].as_json() | _injected(*stats)
                # Each mode on its own: k6's threshold pools every mode of the round.
                if found[mode].error_rate > limit:
                    errors.append(f"{mode} failed {found[mode].error_rate:.1%} of its measured requests (max_error_rate {limit:g})")
    return _record(run, errors, segments, observed) | {
        "design": "concurrent",
        "modes": modes,
        # The block of rounds (profile block_rounds) and the level re-done before it (reset.yml).
        "block": run.get("block") or {"index": 0, "began_with": None},
        "recovered": sorted(observed.get("recovered") or []),
        "cpu_window": "samples bracketing the measured phase (cpu.jsonl)",
        "service_core_busy": busy,
        # Cores' worth of the service CPUs' time that went to anything but the modes in the window.
        "service_core_other": other,
        # Cores' worth of the service CPUs' time in hard and soft interrupts in the window
        # (/proc/stat, tick-sampled; charged to whichever mode ran without CONFIG_IRQ_TIME_ACCOUNTING).
        "service_core_irq": irq,
        # lab_cgroups.py --check after the window, per mode ({} when the round ran none).
        "accounting": accounting,
        # Seconds each step outside the load took (lab_round.py), for the round's own cost.
        "steps_s": observed.get("steps_s") or {},
        "per_mode": per_mode,
    }


def round_accounting(modes: list[str], report: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each mode's accounting as lab_cgroups.py --check found it after the round's window: every
    process (a bridge mode's docker-proxy of this round included) in the mode's cgroup and
    pinned to the service core. {} when the round ran no check; a mode the check does not list
    counts as failed."""
    if report is None:
        return {}
    found = report.get("modes") or {}
    checks = {mode: found.get(mode) or {} for mode in modes}
    return {
        mode: {"all_inside": bool(c.get("all_inside")), "all_pinned": bool(c.get("all_pinned")), "comm": list(c.get("comm") or [])}
        for mode, c in checks.items()
    }


def _injected(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The busy work's own CPU per call over the round, from the service's /stats (controls only)."""
    calls = int(after.get("busy_sampled_calls", 0)) - int(before.get("busy_sampled_calls", 0))
    if not after.get("busy_loops") or calls <= 0:
        return {}
    ns = int(after["busy_sampled_ns"]) - int(before["busy_sampled_ns"])
    return {"busy_loops": int(after["busy_loops"]), "busy_us_per_request": round(ns / calls / 1000, 4)}


def lab_cgroup_modes(
    modes: list[str], catalog: dict[str, Any], kinds: dict[str, Any], daemon_dir: str, containers: dict[str, str]
) -> dict[str, Any]:
    """How lab_cgroups.py finds each mode's processes, by its kind's process (lab_mode_kinds): a
    daemon's pidfile (and the controllers it keeps as inherited: inherit_cgroups, a probe); a
    container by name (its init process looked up at each placement) and, on the bridge network,
    the docker-proxy listening on its published port (idle when clients are DNAT-ed past it,
    still accounted)."""
    found: dict[str, Any] = {}
    for mode in modes:
        entry = catalog.get(mode) or {}
        process = (kinds.get(entry.get("kind")) or {}).get("process")
        if process == "daemon":
            found[mode] = {"pidfile": f"{daemon_dir}/service-{mode}.pid", "inherit": list(entry.get("inherit_cgroups") or [])}
        elif process == "container":
            found[mode] = {"container": containers[mode]} | ({"listener": int(entry["port"])} if entry.get("network") == "bridge" else {})
        else:
            raise AnsibleFilterError(f"mode {mode}: kind {entry.get('kind')!r} has no process (daemon or container) in lab_mode_kinds")
    return found


def lab_block(round_number: Any, profile: dict[str, Any]) -> dict[str, Any]:
    """The block a concurrent round belongs to (a profile's block_rounds, 0: one block) and the
    reset that began it, on its first round only (block_resets, in turn; reset.yml does them)."""
    size = int(profile.get("block_rounds") or 0)
    resets = list(profile.get("block_resets") or [])
    if size <= 0 or not resets:
        return {"index": 0, "reset": None, "began_with": None}
    index = (int(round_number) - 1) // size
    began_with = resets[(index - 1) % len(resets)] if index > 0 else None
    first = (int(round_number) - 1) % size == 0
    return {"index": index, "reset": began_with if first else None, "began_with": began_with}


def lab_round_spec(
    cgroup_spec: dict[str, Any], bases: dict[str, str], daemon_dir: str, restart: bool, bin_dir: str, order: list[str] | None = None
) -> dict[str, Any]:
    """lab_round.py's SPEC_JSON: each mode's address, how it restarts (a daemon's recorded stop
    and start commands, a container by name), the cgroup spec, where lab_cgroups.py is, and the
    round's order of the modes (every walk over them follows it)."""
    modes: dict[str, Any] = {}
    for mode, how in cgroup_spec["modes"].items():
        if "container" in how:
            modes[mode] = {"base": bases[mode], "container": how["container"]}
        else:
            modes[mode] = {"base": bases[mode], "daemon": f"{daemon_dir}/service-{mode}.restart.json"}
    # A mode not restarted answers /health at once or is down: then recovery, not a long wait.
    return {"modes": modes, "restart": bool(restart), "timeout_s": 60 if restart else 5, "cgroups": cgroup_spec, "bin": bin_dir} | (
        {"order": list(order)} if order else {}
    )


def lab_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lab_precision(
    campaign_dir: str,
    baseline: str,
    metric: str,
    higher_is_better: bool,
    target_pp: float,
    stage_one: Any = 0,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The stopping rule's view of the campaign (Stein's two-stage rule, analysis.precision).

    Over the ok concurrent rounds so far, less those analysis.rules excludes (as the report
    does): once `stage_one` rounds are in, their spread fixes each mode's rounds in all, and the
    campaign has reached its target when every mode has them. Widths only: the estimate is
    never looked at.
    """
    # Imported here, not at the top: numpy and scipy take ~1 s to import, and Ansible loads this
    # plugin afresh in the worker of every task it templates (every task of every play paid it).
    from analysis.precision import others_level, paired_gap, rung_instances, rung_rounds, stein_rounds

    rounds: dict[int, dict[str, float]] = {}
    excluded = []
    for path in sorted(Path(campaign_dir, "runs").glob("*/run.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if meta.get("design") != "concurrent" or meta.get("status") != "ok":
            continue
        if rules.exclusion(meta, profile):
            excluded.append(path.parent.name)
            continue
        values = {m: v.get(metric) for m, v in (meta.get("per_mode") or {}).items()}
        rounds[int(meta["round"])] = {m: float(v) for m, v in values.items() if isinstance(v, int | float)}
    first = int(stage_one or 0)
    # The CIs at the rounds' speeds (analysis.precision), as the report computes them.
    resolved = rules.with_defaults(profile)
    adjusted = resolved.get("adjust_for_speed") is True
    modes = sorted({m for values in rounds.values() for m in values} - {baseline})
    ordered = [r for _, r in sorted(rounds.items())]
    rungs = [str(r) for r in resolved.get("ladder") or []]
    twin_of = _twins(campaign_dir)
    # A ladder whose rungs average their twins (rungs_with_twins): its steps over those averages.
    instances = rung_instances(rungs, twin_of, list(twin_of)) if resolved.get("rungs_with_twins") is True else {}
    on_rungs = rung_rounds(ordered, instances) if instances else ordered
    steps = [
        (high, low, on_rungs)
        for low, high in zip(rungs, rungs[1:], strict=False)
        if low != baseline or low in instances or high in instances
    ]
    twins = [(m, str(of), ordered) for m, of in sorted(twin_of.items()) if of and of != baseline and (m, of) not in {s[:2] for s in steps}]
    widths = {}
    for mode, low, source in [(m, baseline, ordered) for m in modes] + steps + twins:
        key = mode if low == baseline and source is ordered else f"{mode} vs {low}"
        paired = [r for r in source if r.get(low, 0) > 0 and r.get(mode, 0) > 0]
        base, other = [r[low] for r in paired], [r[mode] for r in paired]
        level = others_level(paired, (low, mode)) if adjusted else None
        gap = paired_gap(base, other, higher_is_better, stage_one=first or None, level=level) if paired else None
        needed = None
        if gap is not None and first >= 2 and len(paired) >= first:
            head = paired_gap(base[:first], other[:first], higher_is_better, level=level[:first] if level else None)
            sd0 = head.sd_log if head else None
            needed = stein_rounds(sd0, first, target_pp, head.mean_log if head else 0.0, speed_adjusted=bool(head and head.speed_adjusted))
        widths[key] = {"pairs": len(paired), "half_width_pp": None if gap is None else gap.half_width_pp, "rounds_needed": needed}
    planned = [int(w["rounds_needed"]) for w in widths.values() if w["rounds_needed"] is not None]
    if first >= 2:
        done = bool(widths) and target_pp > 0 and len(planned) == len(widths)
        done = done and all(w["pairs"] >= int(w["rounds_needed"] or 0) for w in widths.values())
    else:
        known = [w["half_width_pp"] for w in widths.values()]
        done = bool(widths) and target_pp > 0 and all(w is not None and w <= target_pp for w in known)
    return {
        "rule": rules.STOPPING_RULE if first >= 2 and target_pp > 0 else "fixed" if target_pp <= 0 else "width",
        "stage_one": first,
        "rounds_ok": len(rounds),
        "rounds_planned": max(planned) if widths and len(planned) == len(widths) else None,
        "excluded": excluded,
        "modes": widths,
        # Each mode's half-width alone: what lab_event's precision event shows.
        "half_widths_pp": {m: w["half_width_pp"] for m, w in widths.items()},
        "target_pp": target_pp,
        "reached": done,
    }


def _twins(campaign_dir: str) -> dict[str, str | None]:
    """Each mode of the campaign's manifest and what it is the A/A twin of (None: no twin); the
    stopping rule sizes each twin's gap to its mode, and each step of the profile's ladder, so
    that their CIs reach the target too."""
    try:
        manifest = json.loads(Path(campaign_dir, "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        manifest = {}
    modes = manifest.get("modes") or {}
    return {str(m): (str(f["twin_of"]) if isinstance(f, dict) and f.get("twin_of") else None) for m, f in sorted(modes.items())}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "lab_plan": lab_plan,
            "lab_run_name": lab_run_name,
            "lab_round_order": lab_round_order,
            "lab_targets": lab_targets,
            "lab_k6_argv": lab_k6_argv,
            "lab_started_record": lab_started_record,
            "lab_sequential_record": lab_sequential_record,
            "lab_concurrent_record": lab_concurrent_record,
            "lab_precision": lab_precision,
            "lab_sha256": lab_sha256,
            "lab_cgroup_modes": lab_cgroup_modes,
            "lab_round_spec": lab_round_spec,
            "lab_block": lab_block,
            "lab_profile_resolved": lab_profile_resolved,
            "lab_catalog_resolved": lab_catalog_resolved,
            "lab_catalog_problems": lab_catalog_problems,
        }
