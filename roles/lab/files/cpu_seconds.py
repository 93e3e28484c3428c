#!/usr/bin/env python3
"""Print the CPU seconds (user + system) used so far by a mode's cgroup.

usage: cpu_seconds.py --cgroup PATH

PATH is the mode's own cgroup (lab_cgroups.py puts every mode there: a native's processes, a
container, and for the bridge network its docker-proxy): its cpuacct.usage (cgroup v1) counts
every process in it and below it.
"""

import argparse
import os
import sys


def cgroup(path: str) -> float:
    with open("/proc/self/mounts") as handle:
        for line in handle:
            _, where, kind, options, *_ = line.split()
            if kind == "cgroup" and "cpuacct" in options.split(","):
                with open(os.path.join(where, path.strip("/"), "cpuacct.usage")) as usage:
                    return int(usage.read()) / 1e9
    raise SystemExit("cpu_seconds: no cgroup v1 cpuacct hierarchy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cgroup", required=True)
    args = parser.parse_args()
    print(f"{cgroup(args.cgroup):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
