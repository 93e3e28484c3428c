#!/usr/bin/python3
"""Sample the CPU time of each mode's cgroup until a deadline, as JSON lines.

usage: cpu_sampler.py OUT UNTIL_EPOCH INTERVAL_S NAME=CGROUP [NAME=CGROUP ...]

Every INTERVAL_S: {"t": <epoch>, "cpu_ns": {NAME: cpuacct.usage of CGROUP, ...}}. The report
takes the samples that bracket a concurrent run's measured window and counts each mode's
requests between the same two instants, so CPU and requests cover exactly one window.
"""

import json
import sys
import time
from pathlib import Path


def cpuacct_root() -> Path:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and "cpuacct" in options.split(","):
            return Path(where)
    raise SystemExit("cpu_sampler: no cgroup v1 cpuacct hierarchy")


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, until, interval = Path(argv[1]), float(argv[2]), float(argv[3])
    root = cpuacct_root()
    files = {name: root / cgroup.strip("/") / "cpuacct.usage" for name, cgroup in (arg.split("=", 1) for arg in argv[4:])}
    with out.open("w", encoding="utf-8") as handle:
        tick = time.time()
        while True:
            usage = {name: int(path.read_text()) for name, path in files.items()}
            now = time.time()
            handle.write(json.dumps({"t": round(now, 6), "cpu_ns": usage}) + "\n")
            handle.flush()
            if now >= until:
                return 0
            tick += interval
            time.sleep(max(0.0, tick - time.time()))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
