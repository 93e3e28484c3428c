#!/usr/bin/python3
"""A concurrent round's work on the target, each half in one process.

usage: lab_round.py prepare SPEC_JSON
       lab_round.py after SPEC_JSON
       lab_round.py round SPEC_JSON      (prepare, the load, after: a target that loads itself)

SPEC_JSON: {"modes": {NAME: {"base": URL, "daemon": RESTART_FILE} | {"base": URL, "container": NAME}},
            "restart": true, "timeout_s": 60, "cgroups": SPEC (lab_cgroups.py's), "bin": DIR,
            "order": [NAME, ...] (optional: the round's order of positions; every walk over the
            modes, restarts, placement, priming and reading, goes in it, so no mode is always first)}

prepare: a fresh instance of every mode at once (each mode's restart runs in its own thread: a
daemon's recorded stop and start commands, RESTART_FILE, which the daemon role writes; a
container's `docker restart --time 0`), every mode's /health awaited, every mode put in its cgroup
(lab_cgroups.py), then every mode primed
(/records, whose payload the record checks) and its counters read (/stats). With "restart"
false, only the health check, the placement and the priming.
after: where every process of every mode is now (lab_cgroups.py --check) and each mode's
counters after the window.

round (SPEC_JSON also has "load": {"scratch": DIR, "k6_argv": [...], "sampler_argv": [...],
"duration_s": S, "limit_s": S}): prepare; unless a mode did not come back, the CPU sampler and
k6 started at once, "{start_at}" in k6's argv and "{until}" in the sampler's replaced by now and
by now + duration_s + 1; k6 awaited (killed at limit_s), then the sampler told that the load
has ended (SIGUSR1: one more sample, then it stops); then after. k6's exit, output and
argv come back as `k6` (the shape of an async job's status).

Prints one JSON object: the results in the shapes the round's record reads (lab_run.py's
lab_concurrent_record), the modes that did not come back (`unhealthy`, each with why) and how
long each step took (`timings_s`). Exit 0 whenever it could report, 2 on bad input.

Why one process: a round restarted, checked, primed and read each mode in ~60 Ansible tasks,
two thirds of a round's wall time for a third of it under load; these steps need no decision
from the control node between them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

POLL_S = 0.05


def get(url: str, timeout: float = 10.0) -> dict[str, Any]:
    """A GET as the uri module reports it: status (-1 when no answer), content, json when it parses."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status, body = answer.status, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read().decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        return {"status": -1, "msg": str(exc), "url": url}
    found: dict[str, Any] = {"status": status, "content": body, "url": url}
    try:
        found["json"] = json.loads(body)
    except ValueError:
        pass
    return found


def run(argv: list[str], ok: tuple[int, ...] = (0,)) -> str | None:
    """Run argv; None when it exited with one of `ok`, else why not."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}"
    if done.returncode in ok:
        return None
    return f"{' '.join(argv[:3])}… exited {done.returncode}: {' '.join((done.stderr or done.stdout).split())[:300]}"


def restart(how: dict[str, Any]) -> str | None:
    """Restart one mode; None when it went, else why not."""
    if "container" in how:
        # --time 0: the old instance is killed at once (nothing of it is kept; a graceful stop
        # took ~1 s of every round, the new instance's start ~0.3 s).
        return run(["docker", "restart", "--time", "0", str(how["container"])])
    recipe = json.loads(Path(str(how["daemon"])).read_text())
    # start-stop-daemon --stop exits 1 when nothing ran: then there is nothing to stop.
    return run([str(a) for a in recipe["stop"]], ok=(0, 1)) or run([str(a) for a in recipe["start"]])


def healthy(base: str, deadline: float) -> bool:
    while True:
        if get(f"{base}/health", timeout=2.0)["status"] == 200:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)


def in_order(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's modes in the round's order (spec["order"]), any not named there after them."""
    modes: dict[str, Any] = spec["modes"]
    first = [m for m in spec.get("order") or [] if m in modes]
    return {m: modes[m] for m in first + [m for m in modes if m not in first]}


def cgroups(spec: dict[str, Any], modes: dict[str, Any], check: bool) -> dict[str, Any]:
    """lab_cgroups.py's report on `modes` (placed, or with `check` only looked at), in their order."""
    placed = dict(spec["cgroups"])
    placed["modes"] = {m: placed["modes"][m] for m in modes if m in placed["modes"]}
    argv = [f"{spec['bin']}/lab_cgroups.py", *(["--check"] if check else []), json.dumps(placed)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    try:
        return json.loads(done.stdout) | {"rc": done.returncode}
    except ValueError:
        return {"rc": done.returncode, "error": " ".join(done.stderr.split())[:500], "equal_weight": False, "modes": {}}


def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    modes = in_order(spec)
    timings: dict[str, float] = {}
    started = time.monotonic()
    problems: dict[str, str] = {}
    if spec.get("restart", True):
        with ThreadPoolExecutor(max_workers=len(modes)) as pool:
            for mode, why in zip(modes, pool.map(restart, modes.values()), strict=True):
                if why:
                    problems[mode] = why
        timings["restart"] = time.monotonic() - started
    mark = time.monotonic()
    deadline = mark + float(spec.get("timeout_s", 60))
    with ThreadPoolExecutor(max_workers=len(modes)) as pool:
        for mode, ok in zip(modes, pool.map(lambda how: healthy(how["base"], deadline), modes.values()), strict=True):
            if not ok:
                problems.setdefault(mode, f"no 200 from /health within {spec.get('timeout_s', 60)} s")
    timings["health"] = time.monotonic() - mark
    mark = time.monotonic()
    accounting = cgroups(spec, {m: h for m, h in modes.items() if m not in problems}, check=False) if len(problems) < len(modes) else {}
    timings["cgroups"] = time.monotonic() - mark
    mark = time.monotonic()
    primer = [
        get(f"{how['base']}/{what}") | {"item": [mode, what]}
        for mode, how in modes.items()
        if mode not in problems
        for what in ("records", "stats")
    ]
    timings["prime"] = time.monotonic() - mark
    timings["total"] = time.monotonic() - started
    return {
        "restarted": bool(spec.get("restart", True)),
        "unhealthy": sorted(problems),
        "problems": problems,
        "accounting": accounting,
        "primer": primer,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def after(spec: dict[str, Any]) -> dict[str, Any]:
    modes = in_order(spec)
    started = time.monotonic()
    accounting = cgroups(spec, modes, check=True)
    stats = [get(f"{how['base']}/stats") | {"item": mode} for mode, how in modes.items()]
    return {"accounting": accounting, "after": stats, "timings_s": {"total": round(time.monotonic() - started, 3)}}


def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the sampler and k6 at once; k6's result as Ansible's async_status reports a job."""
    plan = spec["load"]
    Path(plan["scratch"]).mkdir(parents=True, exist_ok=True, mode=0o750)
    now = time.time()
    until = f"{now + float(plan['duration_s']) + 1:.3f}"
    sampler_argv = [str(a).replace("{until}", until) for a in plan["sampler_argv"]]
    k6_argv = [str(a).replace("{start_at}", f"{now:.6f}") for a in plan["k6_argv"]]
    sampler = subprocess.Popen(sampler_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    k6 = subprocess.Popen(k6_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    limit = float(plan.get("limit_s", 600))
    try:
        out, err = k6.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        k6.kill()
        out, err = k6.communicate()
        err += f"\nlab_round: k6 killed after {limit:g} s"
    # The load has ended: one more sample at the sampler's next tick brackets the window.
    sampler.send_signal(signal.SIGUSR1)
    try:
        sampler.communicate(timeout=max(float(until) - time.time(), 0) + 10)
    except subprocess.TimeoutExpired:
        sampler.kill()
        sampler.communicate()
    return {"cmd": k6_argv, "rc": k6.returncode, "stdout": out, "stderr": err, "finished": 1, "sampler_rc": sampler.returncode}


def one_round(spec: dict[str, Any]) -> dict[str, Any]:
    """prepare, the load unless a mode did not come back, after."""
    before = prepare(spec)
    if before["unhealthy"]:
        return before | {"k6": None, "after": [], "timings_s": {"prepare": before["timings_s"]}}
    mark = time.monotonic()
    k6 = load(spec)
    loaded = time.monotonic() - mark
    done = after(spec)
    return {
        "restarted": before["restarted"],
        "unhealthy": [],
        "problems": {},
        "placement": before["accounting"],
        "primer": before["primer"],
        "k6": k6,
        "accounting": done["accounting"],
        "after": done["after"],
        "timings_s": {"prepare": before["timings_s"], "load": round(loaded, 3), "after": done["timings_s"]},
    }


def validate(spec: Any) -> str | None:
    if not isinstance(spec, dict) or not isinstance(spec.get("modes"), dict) or not spec["modes"]:
        return "SPEC_JSON needs a non-empty object 'modes'"
    for mode, how in spec["modes"].items():
        if not isinstance(how, dict) or "base" not in how or ("daemon" in how) == ("container" in how):
            return f"mode {mode}: needs 'base' and one of 'daemon' (its restart file) or 'container' (its name): {how!r}"
    if not isinstance(spec.get("cgroups"), dict) or not isinstance(spec["cgroups"].get("modes"), dict) or "bin" not in spec:
        return "SPEC_JSON needs 'cgroups' (lab_cgroups.py's spec) and 'bin' (where lab_cgroups.py is)"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("prepare", "after", "round"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        spec = json.loads(argv[2])
    except json.JSONDecodeError as exc:
        print(f"lab_round: SPEC_JSON is not JSON: {exc}", file=sys.stderr)
        return 2
    why = validate(spec)
    if not why and argv[1] == "round":
        plan = spec.get("load")
        if not isinstance(plan, dict) or not all(k in plan for k in ("scratch", "k6_argv", "sampler_argv", "duration_s")):
            why = "round needs 'load' with scratch, k6_argv, sampler_argv and duration_s"
    if why:
        print(f"lab_round: {why}", file=sys.stderr)
        return 2
    print(json.dumps({"prepare": prepare, "after": after, "round": one_round}[argv[1]](spec), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
