"""The results schema's version, and every fall-back for campaigns recorded before it: one place.

SCHEMA_VERSION is written into manifest.json, every run.json (by the lab role) and gap.json (by
the report). A campaign without it is version 1 (recorded before 2026-12-02): `migrate_manifest`
brings its manifest to the current shape, so the rest of the report reads one shape only:

- `baseline`: "native" when the manifest does not name it;
- `primary_metric`: the profile's, else "throughput_rps";
- `design`: "sequential";
- `modes.<m>.twin_of`: the A/A twin was the mode named native_b before modes.yml said so;
- `run_order`: records {mode, round}; version 1 also wrote "mode round" strings, and campaigns
  recorded outside the lab list run folder names (001_docker_r1), which carry mode and round;
- `modes.<m>.client` (version 3, 2026-12-06): how the load generators reached the mode; before,
  every mode was reached on lab_service_address, so a bridge mode on loopback, through
  docker-proxy: "loopback".

A version newer than this code, or a value no version wrote, ends in a CampaignError naming the
file and the key, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analysis import contract
from analysis.rules import PROFILE_DEFAULTS

SCHEMA_VERSION = 3
LEGACY_BASELINE = "native"
LEGACY_AA_MODE = "native_b"
LEGACY_CLIENT = "loopback"


class SchemaError(ValueError):
    """A results file whose shape the report does not know; the message names the file and key."""


def version_of(data: dict[str, Any], path: Path) -> int:
    value = data.get("schema_version", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SchemaError(f"{path}: schema_version is {value!r} (expected a whole number, 1 or more)")
    if value > SCHEMA_VERSION:
        raise SchemaError(f"{path}: schema_version {value} is newer than this report reads ({SCHEMA_VERSION}): update the lab")
    return value


def migrate_manifest(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """The manifest in the current shape (a new dict; the file is never changed)."""
    version_of(manifest, path)
    found = dict(manifest)
    for key, kind in (("modes", dict), ("profile", dict)):
        if not isinstance(found.get(key), kind):
            raise SchemaError(f"{path}: {key} is {found.get(key)!r} (expected an object)")
    found["baseline"] = str(found.get("baseline") or LEGACY_BASELINE)
    found["primary_metric"] = str(
        found.get("primary_metric") or found["profile"].get("primary_metric") or PROFILE_DEFAULTS["primary_metric"]
    )
    found["design"] = str(found.get("design") or PROFILE_DEFAULTS["design"])
    modes = {m: dict(f) if isinstance(f, dict) else {} for m, f in found["modes"].items()}
    for facts in modes.values():
        facts.setdefault("client", LEGACY_CLIENT)
    if not any("twin_of" in f for f in modes.values()) and LEGACY_AA_MODE in modes:
        modes[LEGACY_AA_MODE]["twin_of"] = found["baseline"]
    found["modes"] = modes
    found["run_order"] = planned_runs(found.get("run_order") or [], path)
    found["schema_version"] = SCHEMA_VERSION
    return found


def planned_runs(run_order: object, path: Path) -> list[dict[str, Any]]:
    """The manifest's run order as records {mode, round} (mode: the unit, `concurrent` for a round)."""
    if not isinstance(run_order, list):
        raise SchemaError(f"{path}: run_order is {run_order!r} (expected a list)")
    found = []
    for i, entry in enumerate(run_order):
        record = _planned(entry)
        if record is None:
            raise SchemaError(
                f'{path}: run_order[{i}] is {entry!r} (expected {{"mode": ..., "round": ...}}, "mode round" or a run folder name '
                "such as 001_docker_r1)"
            )
        found.append(record)
    return found


def _planned(entry: object) -> dict[str, Any] | None:
    if isinstance(entry, dict):
        mode, round_ = entry.get("mode"), entry.get("round")
        if isinstance(mode, str) and mode and _whole(round_):
            return {"mode": mode, "round": int(str(round_))}
        return None
    if not isinstance(entry, str):
        return None
    identity = contract.run_identity(entry)
    if identity is not None:
        return {"mode": identity[1], "round": identity[2]}
    words = entry.split()
    if len(words) == 2 and words[1].isdigit():
        return {"mode": words[0], "round": int(words[1])}
    return None


def _whole(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())


def check_run(meta: dict[str, Any], path: Path) -> None:
    """A run.json's version is one this report reads."""
    version_of(meta, path)
