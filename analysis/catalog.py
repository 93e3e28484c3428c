"""The mode catalog (`lab_mode_catalog` in modes.yml), checked and resolved in one place.

A mode is data: a kind (a key of `lab_mode_kinds`), a port and optional keys whose meaning,
when an entry leaves them out, is MODE_DEFAULTS. The lab role and service_deploy read the
resolved catalog (the `lab_catalog_resolved` filter); preflight refuses a campaign whose modes
have problems, each named by its key (`lab_catalog_problems`). Nothing else gives a mode key a
default.

Standard library only: the lab role's filter plugin imports it on the control node.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

MODE_REQUIRED = ("kind", "port")
MODE_DEFAULTS: dict[str, Any] = {
    # An identical deployment of that mode: an A/A control.
    "twin_of": None,
    # A known cost injected into every request (LAB_BUSY_LOOPS).
    "busy_loops": 0,
    # Known by count: every N-th request sent twice (the second uncounted), or left uncounted.
    "extra_request_every": 0,
    "uncounted_every": 0,
    # A container's network, and where a bridge mode's clients reach its published port.
    "network": "host",
    "client": "loopback",
    "seccomp": "default",
    # Extra environment variables, and cgroup controllers a daemon keeps as it inherited them.
    "env": {},
    "inherit_cgroups": [],
}
NETWORKS = ("bridge", "host")
CLIENTS = ("loopback", "remote")
SECCOMP = ("default", "unconfined")
MAX_BUSY_LOOPS = 10_000_000
MAX_EVERY = 10_000
_LOOPBACK = re.compile(r"^(127[.]|::1$|localhost$|$)")


def _whole(value: Any) -> int | None:
    """A whole number >= 0 given as an int or its digits (an -e value arrives as a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _with_defaults(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry with MODE_DEFAULTS filled in (a fresh copy: no two entries share a default's list)."""
    return copy.deepcopy(MODE_DEFAULTS) | {k: v for k, v in entry.items() if v is not None}


def mode_problems(name: str, entry: Any, catalog: Mapping[str, Any], kinds: Mapping[str, Any]) -> list[str]:
    """What is wrong with one catalog entry, each problem naming its key; [] when nothing is."""
    where = f"lab_mode_catalog.{name}"
    if not isinstance(entry, Mapping):
        return [f"{where} is {entry!r}: a mapping with {' and '.join(MODE_REQUIRED)}"]
    found = [f"{where} has no {key}" for key in MODE_REQUIRED if key not in entry]
    unknown = sorted(set(entry) - set(MODE_REQUIRED) - set(MODE_DEFAULTS))
    if unknown:
        found.append(f"{where} has unknown keys {', '.join(unknown)} (known: {', '.join(MODE_REQUIRED + tuple(MODE_DEFAULTS))})")
    given = _with_defaults(entry)
    kind = entry.get("kind")
    if "kind" in entry and kind not in kinds:
        found.append(f"{where}.kind is {kind!r} (one of {', '.join(kinds)}: lab_mode_kinds in modes.yml)")
    port = _whole(entry.get("port"))
    if "port" in entry and (port is None or not 1024 <= port <= 65535):
        found.append(f"{where}.port is {entry.get('port')!r} (a whole number 1024-65535)")
    described = kinds.get(kind) if isinstance(kind, str) else None
    container = isinstance(described, Mapping) and described.get("process") == "container"
    if container and given["network"] not in NETWORKS:
        found.append(f"{where}.network is {given['network']!r} (one of {', '.join(NETWORKS)})")
    if given["client"] not in CLIENTS:
        found.append(f"{where}.client is {given['client']!r} (one of {', '.join(CLIENTS)})")
    if given["seccomp"] not in SECCOMP:
        found.append(f"{where}.seccomp is {given['seccomp']!r} (one of {', '.join(SECCOMP)})")
    loops = _whole(given["busy_loops"])
    if loops is None or loops > MAX_BUSY_LOOPS:
        found.append(f"{where}.busy_loops is {given['busy_loops']!r} (optional, a whole number 0-{MAX_BUSY_LOOPS})")
    twin = given["twin_of"]
    if twin is not None and (twin not in catalog or twin == name):
        found.append(f"{where}.twin_of is {twin!r} (optional, another mode of the catalog)")
    every: dict[str, int | None] = {}
    for key in ("extra_request_every", "uncounted_every"):
        number = every[key] = _whole(given[key])
        if number is None or not (number == 0 or 2 <= number <= MAX_EVERY):
            found.append(f"{where}.{key} is {given[key]!r} (optional, a whole number 2-{MAX_EVERY})")
    if every["extra_request_every"] and every["uncounted_every"]:
        found.append(f"{where}: extra_request_every and uncounted_every together (one of the two)")
    env = given["env"]
    if not isinstance(env, Mapping) or not all(isinstance(k, str) for k in env):
        found.append(f"{where}.env is {env!r} (optional, a mapping of variable names to values)")
    inherit = given["inherit_cgroups"]
    if not isinstance(inherit, list) or not all(isinstance(c, str) for c in inherit):
        found.append(f"{where}.inherit_cgroups is {inherit!r} (optional, a list of cgroup controllers)")
    return found


def catalog_problems(
    catalog: Mapping[str, Any],
    kinds: Mapping[str, Any],
    modes: Iterable[str],
    design: str | None = None,
    nat_address: str | None = None,
) -> list[str]:
    """The problems of a campaign's modes: each entry's own (mode_problems), then what the
    campaign adds: the known-count controls need the concurrent design, a remote client needs a
    NAT address that is not loopback (or its requests would go through docker-proxy)."""
    if not isinstance(catalog, Mapping):
        return [f"lab_mode_catalog is {catalog!r}: a mapping of mode names to entries"]
    found: list[str] = []
    holders: dict[int, str] = {}
    for name in modes:
        if name not in catalog:
            continue  # lab_modes' own check names it
        entry = catalog[name]
        problems = mode_problems(name, entry, catalog, kinds)
        found += problems
        if problems:
            continue
        given = _with_defaults(entry)
        port = _whole(given["port"])
        if port in holders:
            other = holders[port]
            found.append(
                f"lab_mode_catalog.{name}.port is {port}, the port of {other} too: two modes of a campaign cannot listen on one port"
            )
        holders.setdefault(port, name)  # type: ignore[arg-type]
        counted = [k for k in ("extra_request_every", "uncounted_every") if _whole(given[k])]
        if counted and design is not None and design != "concurrent":
            found.append(f"lab_mode_catalog.{name}.{counted[0]}: a known-count control needs a concurrent profile (this one is {design})")
        if given["client"] == "remote" and nat_address is not None and _LOOPBACK.match(str(nat_address)):
            found.append(
                f"lab_mode_catalog.{name}.client is remote: a remote client needs lab_nat_address, an address of the target "
                f"that is not loopback (is {nat_address!r}), or the request would go through docker-proxy like a loopback client's"
            )
    return found


def resolve_catalog(catalog: Mapping[str, Any], kinds: Mapping[str, Any], modes: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every entry with MODE_DEFAULTS filled in and its numbers as ints; the entries of `modes`
    (every entry when None) must have no problems, or ValueError names them all. Entries outside
    `modes` are resolved as given: a campaign is not refused for a mode it does not run."""
    checked = list(catalog) if modes is None else [m for m in modes if m in catalog]
    problems = [p for name in checked for p in mode_problems(name, catalog[name], catalog, kinds)]
    if problems:
        raise ValueError("; ".join(problems))
    resolved: dict[str, dict[str, Any]] = {}
    for name, entry in catalog.items():
        if not isinstance(entry, Mapping):
            continue
        found = _with_defaults(entry)
        for key in ("port", "busy_loops", "extra_request_every", "uncounted_every"):
            number = _whole(found.get(key))
            if number is not None:
                found[key] = number
        resolved[name] = found
    return resolved
