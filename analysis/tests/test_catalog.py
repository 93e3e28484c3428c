"""The mode catalog's checks and defaults (analysis.catalog): every problem named by its key."""

from __future__ import annotations

from typing import Any

import pytest

from analysis import catalog

KINDS = {"native": {"process": "daemon"}, "docker": {"process": "container"}}
ENTRIES = {
    "native": {"kind": "native", "port": 8101},
    "native_b": {"kind": "native", "port": "8102", "twin_of": "native"},
    "docker": {"kind": "docker", "port": 8201, "network": "bridge", "client": "remote"},
    "extra": {"kind": "native", "port": 8108, "extra_request_every": 33},
}


def test_defaults_fill_every_key_and_numbers_become_ints() -> None:
    resolved = catalog.resolve_catalog(ENTRIES, KINDS)
    assert resolved["native"] == catalog.MODE_DEFAULTS | {"kind": "native", "port": 8101}
    assert resolved["native_b"]["port"] == 8102 and resolved["native_b"]["twin_of"] == "native"
    assert resolved["docker"]["seccomp"] == "default" and resolved["docker"]["client"] == "remote"
    # The defaults are not shared between entries (a caller mutating one changes no other).
    resolved["native"]["env"]["X"] = "1"
    assert catalog.MODE_DEFAULTS["env"] == {}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("native", "lab_mode_catalog.m is 'native': a mapping with kind and port"),
        ({"port": 8101}, "lab_mode_catalog.m has no kind"),
        ({"kind": "vm", "port": 8101}, "lab_mode_catalog.m.kind is 'vm' (one of native, docker: lab_mode_kinds in modes.yml)"),
        ({"kind": "native", "port": 99999}, "lab_mode_catalog.m.port is 99999 (a whole number 1024-65535)"),
        ({"kind": "native", "port": True}, "lab_mode_catalog.m.port is True"),
        ({"kind": "docker", "port": 8201, "network": "overlay"}, "lab_mode_catalog.m.network is 'overlay' (one of bridge, host)"),
        ({"kind": "native", "port": 8101, "client": "lan"}, "lab_mode_catalog.m.client is 'lan' (one of loopback, remote)"),
        ({"kind": "native", "port": 8101, "seccomp": "strict"}, "lab_mode_catalog.m.seccomp is 'strict'"),
        ({"kind": "native", "port": 8101, "busy_loops": -1}, "lab_mode_catalog.m.busy_loops is -1 (optional, a whole number 0-10000000)"),
        ({"kind": "native", "port": 8101, "twin_of": "m"}, "lab_mode_catalog.m.twin_of is 'm' (optional, another mode of the catalog)"),
        (
            {"kind": "native", "port": 8101, "uncounted_every": 1},
            "lab_mode_catalog.m.uncounted_every is 1 (optional, a whole number 2-10000)",
        ),
        (
            {"kind": "native", "port": 8101, "uncounted_every": 34, "extra_request_every": 33},
            "lab_mode_catalog.m: extra_request_every and uncounted_every together",
        ),
        ({"kind": "native", "port": 8101, "env": ["A=1"]}, "lab_mode_catalog.m.env is ['A=1']"),
        ({"kind": "native", "port": 8101, "inherit_cgroups": "memory"}, "lab_mode_catalog.m.inherit_cgroups is 'memory'"),
        ({"kind": "native", "port": 8101, "prot": 8101}, "lab_mode_catalog.m has unknown keys prot"),
    ],
)
def test_a_broken_entry_is_refused_by_its_key(entry: object, message: str) -> None:
    problems = catalog.catalog_problems(ENTRIES | {"m": entry}, KINDS, ["m"])
    assert any(message in p for p in problems), problems
    with pytest.raises(ValueError, match="lab_mode_catalog.m"):
        catalog.resolve_catalog(ENTRIES | {"m": entry}, KINDS, ["m"])


def test_what_the_campaign_adds_design_and_nat_address() -> None:
    assert catalog.catalog_problems(ENTRIES, KINDS, list(ENTRIES), "concurrent", "172.17.0.1") == []
    sequential = catalog.catalog_problems(ENTRIES, KINDS, ["extra"], "sequential", "172.17.0.1")
    assert sequential == [
        "lab_mode_catalog.extra.extra_request_every: a known-count control needs a concurrent profile (this one is sequential)"
    ]
    for address in ("127.0.0.1", "", "localhost", "::1"):
        (problem,) = catalog.catalog_problems(ENTRIES, KINDS, ["docker"], "concurrent", address)
        assert problem.startswith("lab_mode_catalog.docker.client is remote: a remote client needs lab_nat_address")
    # Modes not in the catalog are lab_modes' own check; modes not run are not checked.
    assert catalog.catalog_problems(ENTRIES | {"broken": {"kind": "vm"}}, KINDS, ["native", "nowhere"]) == []
    not_a_mapping: Any = "x"
    assert catalog.catalog_problems(not_a_mapping, KINDS, ["native"]) == ["lab_mode_catalog is 'x': a mapping of mode names to entries"]


def test_two_modes_of_a_campaign_on_one_port_are_refused() -> None:
    entries = ENTRIES | {"twin": {"kind": "native", "port": 8101}}
    assert catalog.catalog_problems(entries, KINDS, ["native", "twin"]) == [
        "lab_mode_catalog.twin.port is 8101, the port of native too: two modes of a campaign cannot listen on one port"
    ]
    assert catalog.catalog_problems(entries, KINDS, ["native_b", "twin"]) == []
