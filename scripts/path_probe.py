"""Where each mode's kernel work runs: each mode loaded alone, the whole machine accounted.

usage: python scripts/path_probe.py results/<id>/<target> [--modes native,docker_host,docker,docker_proxy]
                                    [--seconds 8] [--repeat 3] [--vus 8] [-o probe.json]

The lab charges a mode what its cgroup burns on the service core. Some of a request's kernel
work runs elsewhere: on the NAT path the DNAT, conntrack and veth hop run largely in the sender's
context (k6, on the load generator's core), and interrupt time goes to whichever task runs.
This probe loads one deployed mode at a time (k6, pinned to lab_cpuset_loadgen's core 0) and
reads, per request: the mode's cgroup CPU (what the lab counts), k6's own user and system CPU
(its rusage), and the whole machine's busy time from /proc/stat. What the lab does not see of a
path is the rise of k6's system time and of the rest over the native mode's.

Run it with the lab deployed (`lab verify --profile ladder`) and nothing else on the machine; each
mode is reached where that campaign's verify.json says the lab reached it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CPUACCT = Path("/sys/fs/cgroup/cpuacct")
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
SCRIPT = """import http from 'k6/http';
export const options = { vus: __ENV.VUS * 1, duration: __ENV.SECONDS + 's', discardResponseBodies: true };
export default function () { http.get(__ENV.URL); }
"""


def addresses(campaign: Path) -> dict[str, str]:
    """Each mode's URL as the campaign reached it (verify.json: its address and port)."""
    modes = json.loads((campaign / "verify.json").read_text())["modes"]
    return {m: f"http://{f['address']}:{f['port']}/records" for m, f in modes.items() if f.get("address")}


def machine_busy() -> tuple[float, float, float]:
    """All CPUs' busy time, the service core's (CPU 1) busy time and its irq+softirq time (µs)."""
    lines = [line.split() for line in Path("/proc/stat").read_text().splitlines() if line.startswith("cpu")]
    rows = {words[0]: [int(v) for v in words[1:]] for words in lines}

    def busy(v: list[int]) -> float:
        return (sum(v[:8]) - v[3] - v[4]) * TICK_US  # all but idle and iowait

    return busy(rows["cpu"]), busy(rows["cpu1"]), (rows["cpu1"][5] + rows["cpu1"][6]) * TICK_US


def one(mode: str, url: str, seconds: int, vus: int, script: Path) -> dict[str, float]:
    usage = CPUACCT / "lab" / mode / "cpuacct.usage"
    summary = script.with_suffix(f".{mode}.json")
    cgroup0, (all0, core0, irq0) = int(usage.read_text()), machine_busy()
    argv = ["taskset", "-c", "0", "k6", "run", "--quiet", "--no-usage-report", "--summary-export", str(summary)]
    env = os.environ | {"URL": url, "VUS": str(vus), "SECONDS": str(seconds)}
    proc = subprocess.Popen([*argv, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, rusage = os.wait4(proc.pid, 0)
    cgroup1, (all1, core1, irq1) = int(usage.read_text()), machine_busy()
    if status != 0:
        raise SystemExit(f"k6 against {mode} ({url}) exited {status}")
    metrics = json.loads(summary.read_text())["metrics"]
    n = float(metrics["http_reqs"]["count"])
    return {
        "requests": n,
        "mode_cgroup_us": (cgroup1 - cgroup0) / 1e3 / n,
        "k6_user_us": rusage.ru_utime * 1e6 / n,
        "k6_sys_us": rusage.ru_stime * 1e6 / n,
        "machine_us": (all1 - all0) / n,
        "service_core_us": (core1 - core0) / n,
        "service_core_irq_us": (irq1 - irq0) / n,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaign", type=Path, help="a campaign's target folder whose verify.json lists the modes")
    parser.add_argument("--modes", default="native,docker_host,docker,docker_proxy")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--vus", type=int, default=8)
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args(argv)
    urls = addresses(args.campaign)
    modes = args.modes.split(",")
    unknown = [m for m in modes if m not in urls]
    if unknown:
        parser.error(f"--modes: {', '.join(unknown)} not in {args.campaign / 'verify.json'}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "probe.js"
        script.write_text(SCRIPT)
        for r in range(args.repeat):
            for mode in modes[r % len(modes) :] + modes[: r % len(modes)]:
                rows.append({"mode": mode, "repeat": r + 1} | one(mode, urls[mode], args.seconds, args.vus, script))
                time.sleep(1)
    keys = [k for k in rows[0] if k not in ("mode", "repeat", "requests")]
    mean = {m: {k: sum(r[k] for r in rows if r["mode"] == m) / args.repeat for k in keys} for m in modes}
    print("µs per request (mean of", args.repeat, "runs):", " ".join(f"{k:>20}" for k in keys))
    for m in modes:
        print(f"{m:>18}", " ".join(f"{mean[m][k]:>20.1f}" for k in keys))
    if args.out:
        args.out.write_text(json.dumps({"runs": rows, "mean": mean}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
