#!/usr/bin/python3
"""Sample the CPU time of each mode's cgroup until a deadline, as JSON lines.

usage: cpu_sampler.py OUT UNTIL_EPOCH INTERVAL_S NAME=CGROUP [NAME=CGROUP ...] [@NAME=CPULIST]

Every INTERVAL_S: {"t": <epoch>, "cpu_ns": {NAME: cpuacct.usage of CGROUP, ...}}. The report
takes the samples that bracket a concurrent run's measured window and counts each mode's
requests between the same two instants, so CPU and requests cover exactly one window.
@NAME=CPULIST (e.g. @service_core=1): the time those CPUs spent on any task at all (the root
cgroup's cpuacct.usage_percpu), so the record can say how much of the service core went to
work other than the modes; and @NAME:irq, the time /proc/stat charges to hard and soft
interrupts on those CPUs (ns; counted in clock ticks, and without CONFIG_IRQ_TIME_ACCOUNTING only
when a tick lands in an interrupt: a coarse view, the task it interrupted is charged the rest).
SIGUSR1: the load has ended; take one more sample at the next tick and stop (lab_round.py sends
it when k6 exits, so a round does not wait out UNTIL's margin).
"""

import json
import os
import signal
import sys
import time
from pathlib import Path


def cpuacct_root() -> Path:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup" and "cpuacct" in options.split(","):
            return Path(where)
    raise SystemExit("cpu_sampler: no cgroup v1 cpuacct hierarchy")


def cpu_list(text: str) -> list[int]:
    """ "0-1,3" -> [0, 1, 3]."""
    found: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        found += range(int(low), int(high or low) + 1)
    return found


TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def irq_ns(cpus: list[int]) -> int:
    """irq + softirq time of these CPUs from /proc/stat (USER_HZ ticks, as ns)."""
    total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            total += int(fields[5]) + int(fields[6])
    return total * TICK_NS


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, until, interval = Path(argv[1]), float(argv[2]), float(argv[3])
    root = cpuacct_root()
    pairs = [arg.split("=", 1) for arg in argv[4:]]
    files = {name: root / cgroup.strip("/") / "cpuacct.usage" for name, cgroup in pairs if not name.startswith("@")}
    cores = {name: cpu_list(cpus) for name, cpus in pairs if name.startswith("@")}
    percpu = root / "cpuacct.usage_percpu"
    ended = [until]
    signal.signal(signal.SIGUSR1, lambda *_: ended.__setitem__(0, 0.0))
    with out.open("w", encoding="utf-8") as handle:
        tick = time.time()
        while True:
            usage = {name: int(path.read_text()) for name, path in files.items()}
            if cores:
                # Left out (not 0) where this cgroup view does not list those CPUs: the record then says "not measured".
                per_cpu = [int(v) for v in percpu.read_text().split()]
                usage |= {name: sum(per_cpu[i] for i in cpus) for name, cpus in cores.items() if max(cpus) < len(per_cpu)}
                usage |= {f"{name}:irq": irq_ns(cpus) for name, cpus in cores.items()}
            now = time.time()
            handle.write(json.dumps({"t": round(now, 6), "cpu_ns": usage}) + "\n")
            handle.flush()
            if now >= ended[0]:
                return 0
            tick += interval
            time.sleep(max(0.0, tick - time.time()))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
