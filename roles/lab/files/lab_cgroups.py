#!/usr/bin/python3
"""Put every mode of the lab under the same CPU accounting and the same scheduling weight.

usage: lab_cgroups.py [--check] SPEC_JSON

SPEC_JSON: {"parent": "lab", "cpuset": "1", "modes": {NAME: {"pidfile": F, "inherit": [...]} | {"container": C, "listener": PORT}}}

Each mode gets one cgroup, PARENT/NAME, in the cpu and cpuacct hierarchies (cgroup v1), with
the default weight (cpu.shares 1024), all of them siblings: the scheduler splits a shared core
evenly between modes, and cpuacct.usage of PARENT/NAME is everything the mode burns.
Every process of every mode is pinned to CPUSET (taskset, every thread): modes start wherever
the deployment let them (lab_cpuset_start, so that their interpreters start side by side) and
are measured on CPUSET alone.
- native ({"pidfile"}): the process and all its descendants are moved into PARENT/NAME, in the
  memory hierarchy too, as Docker puts a container (and systemd a unit): a process left in the
  memory cgroup it inherited shares its page counters and LRU lists with whatever started it
  (on the lab's machine: the control node and k6). "inherit": controllers to leave as they are
  (a probe of what the placement changes).
- container ({"container"}: its name; or {"pid"}: its init process): Docker made its cgroup under PARENT/NAME
  (cgroup_parent); checked here. "listener": the host process listening on that port
  (docker-proxy, the bridge mode's userland path) is moved into PARENT/NAME beside the
  container and pinned to CPUSET like the container.
Prints a JSON report per mode (cgroup, cpu.shares, pids and their cgroups, each process's
allowed CPUs) and `equal_weight`: every mode's every process is inside its own cgroup and all
weights are equal. Exit 0 when that holds, 1 when not, 2 on bad input or without cgroup v1
cpu/cpuacct.
--check: move nothing, only report where every process is now (after a round's window: a
docker-proxy spawned since, or a process that left its cgroup or the service core, shows).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

CONTROLLERS = ("cpu", "cpuacct", "memory")
SHARES = 1024


def mounts() -> dict[str, Path]:
    """Where each v1 controller of CONTROLLERS is mounted (they may share one hierarchy)."""
    found: dict[str, Path] = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options, *_ = line.split()
        if kind == "cgroup":
            for controller in set(options.split(",")) & set(CONTROLLERS):
                found[controller] = Path(where)
    missing = [c for c in CONTROLLERS if c not in found]
    if missing:
        raise SystemExit(f"lab_cgroups: no cgroup v1 hierarchy for {', '.join(missing)} (cgroup v2 is not supported here)")
    return found


def cgroup_of(pid: int, controller: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return ""


def container_pids(names: dict[str, str]) -> dict[str, int]:
    """Each container's init process, by mode (0 when it does not run)."""
    if not names:
        return {}
    out = subprocess.run(
        ["docker", "inspect", "--format", "{{.Name}} {{.State.Pid}}", *names.values()], capture_output=True, text=True, timeout=60
    ).stdout
    pids = {name.lstrip("/"): int(pid) for name, pid in (line.split() for line in out.splitlines() if line.strip())}
    return {mode: pids.get(name, 0) for mode, name in names.items()}


def tree(root: int) -> list[int]:
    """The process and its descendants (live ones)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, grew = {root}, True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in found} - found
        found |= children
        grew = bool(children)
    return sorted(found)


def listeners(port: int) -> list[int]:
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return sorted({int(pid) for pid in re.findall(r"pid=(\d+)", out)})


def ensure(hierarchies: dict[str, Path], path: str) -> None:
    for controller, mount in hierarchies.items():
        folder = mount / path.strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        if controller == "cpu":
            (folder / "cpu.shares").write_text(str(SHARES))


def move(hierarchies: dict[str, Path], path: str, pid: int) -> None:
    for mount in hierarchies.values():
        (mount / path.strip("/") / "cgroup.procs").write_text(str(pid))


def pin(cpuset: str, pid: int) -> None:
    """Every thread of the process on `cpuset` (nothing when it is empty)."""
    if cpuset:
        subprocess.run(["taskset", "-a", "-p", "-c", cpuset, str(pid)], capture_output=True, check=True)


def allowed_cpus(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return ""


def place(spec: dict[str, object], check: bool = False) -> dict[str, object]:
    hierarchies = mounts()
    parent = str(spec.get("parent") or "lab").strip("/")
    cpuset = str(spec.get("cpuset") or "")
    modes = spec.get("modes")
    if not isinstance(modes, dict) or not modes:
        raise SystemExit("lab_cgroups: SPEC_JSON needs a non-empty object 'modes'")
    report: dict[str, object] = {}
    ok = True
    pids_of = container_pids(
        {n: str(h["container"]) for n, h in modes.items() if isinstance(h, dict) and "container" in h and "pid" not in h}
    )
    for name, how in modes.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name) or not isinstance(how, dict):
            raise SystemExit(f"lab_cgroups: bad mode entry {name!r}: {how!r}")
        path = f"/{parent}/{name}"
        if not check:
            ensure(hierarchies, path)
        inherit = set(how.get("inherit") or [])
        placed = {c: m for c, m in hierarchies.items() if c not in inherit}
        if "pidfile" in how:
            pids = tree(int(Path(str(how["pidfile"])).read_text().strip()))
            helpers: list[int] = []
            for pid in [] if check else pids:
                move(placed, path, pid)
        elif "pid" in how or "container" in how:
            pid = int(how["pid"]) if "pid" in how else pids_of[name]
            pids = tree(pid) if pid else []
            helpers = listeners(int(how["listener"])) if how.get("listener") else []
            for pid in [] if check else helpers:
                move(hierarchies, path, pid)
        else:
            raise SystemExit(f"lab_cgroups: mode {name} needs 'pidfile', 'container' or 'pid'")
        for pid in [] if check else pids + helpers:
            pin(cpuset, pid)
        where = {str(pid): {c: cgroup_of(pid, c) for c in CONTROLLERS} for pid in pids + helpers}
        inside = all(cg == path or cg.startswith(path + "/") for cgs in where.values() for c, cg in cgs.items() if c not in inherit)
        cpus = {str(pid): allowed_cpus(pid) for pid in pids + helpers}
        pinned = not cpuset or all(c == cpuset for c in cpus.values())
        shares = int((hierarchies["cpu"] / path.strip("/") / "cpu.shares").read_text())
        ok = ok and inside and shares == SHARES and bool(pids)
        report[name] = {
            "cgroup": path,
            "cpu_shares": shares,
            "processes": where,
            "helpers": helpers,
            "all_inside": inside,
            "inherited": sorted(inherit),
            "cpus": cpus,
            "all_pinned": pinned,
            "comm": sorted({Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids + helpers}),
        }
    siblings = {str(entry["cgroup"]).rsplit("/", 1)[0] for entry in report.values() if isinstance(entry, dict)}
    return {"parent": f"/{parent}", "modes": report, "equal_weight": ok and len(siblings) == 1, "cpu_shares": SHARES}


def main(argv: list[str]) -> int:
    check = argv[1:2] == ["--check"]
    args = argv[2:] if check else argv[1:]
    if len(args) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        spec = json.loads(args[0])
    except json.JSONDecodeError as exc:
        print(f"lab_cgroups: SPEC_JSON is not JSON: {exc}", file=sys.stderr)
        return 2
    result = place(spec, check)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["equal_weight"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
