#!/usr/bin/env python3
"""Print the CPU seconds (user + system) used so far by a process tree or a container.

usage: cpu_seconds.py (--cgroup PATH | --pidfile FILE | --container ID) [--plus-listener PORT]

--cgroup: a mode's own cgroup (lab_cgroups.py), the lab's accounting for every mode: its
cpuacct.usage (cgroup v1) counts every process in it and below it.

A process tree: the process and all its descendants, from /proc (live processes only).
A container: its cgroup's cpuacct.usage (cgroup v1) or cpu.stat usage_usec (cgroup v2).
--plus-listener adds the host process listening on 127.0.0.1:PORT (docker-proxy, for a
published port): part of what the bridge mode costs, outside the container's cgroup.
"""

import argparse
import glob
import os
import re
import subprocess
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float]:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def process_tree(root: int) -> float:
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)], cpu[int(entry)] = _stat(int(entry))
            except (OSError, IndexError):
                continue
    if root not in cpu:
        raise SystemExit(f"cpu_seconds: no process {root}")
    tree, grew = {root}, True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return sum(cpu[pid] for pid in tree)


def container(container_id: str) -> float:
    v1 = glob.glob(f"/sys/fs/cgroup/cpuacct*/**/{container_id}*/cpuacct.usage", recursive=True)
    if v1:
        with open(v1[0]) as handle:
            return int(handle.read()) / 1e9
    for path in glob.glob(f"/sys/fs/cgroup/**/*{container_id}*/cpu.stat", recursive=True):
        with open(path) as handle:
            for line in handle:
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) / 1e6
    raise SystemExit(f"cpu_seconds: no cgroup found for container {container_id}")


def cgroup(path: str) -> float:
    with open("/proc/self/mounts") as handle:
        for line in handle:
            _, where, kind, options, *_ = line.split()
            if kind == "cgroup" and "cpuacct" in options.split(","):
                with open(os.path.join(where, path.strip("/"), "cpuacct.usage")) as usage:
                    return int(usage.read()) / 1e9
    raise SystemExit("cpu_seconds: no cgroup v1 cpuacct hierarchy")


def listener(port: int) -> float:
    found = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    pids = {int(pid) for pid in re.findall(r"pid=(\d+)", found)}
    return sum(process_tree(pid) for pid in pids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--cgroup")
    which.add_argument("--pidfile")
    which.add_argument("--container")
    parser.add_argument("--plus-listener", type=int)
    args = parser.parse_args()
    if args.cgroup:
        seconds = cgroup(args.cgroup)
    elif args.pidfile:
        with open(args.pidfile) as handle:
            seconds = process_tree(int(handle.read().strip()))
    else:
        seconds = container(args.container)
    if args.plus_listener:
        seconds += listener(args.plus_listener)
    print(f"{seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
