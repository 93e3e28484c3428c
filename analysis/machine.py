"""The machine's view of a campaign's gaps: this campaign and the earlier ones beside it, one occasion each.

A campaign's 95% CI covers its rounds. On the lab's machine campaigns of the same profile and
code disagreed beyond those CIs, from hour to hour and day to day (for the bridge and for
docker_host), so what holds for the machine is read across occasions. The report finds, in the
same results folder, the earlier campaigns of the same profile on the same host with the same
packages and dataset (`comparable_facts`, ASLR included) whose report was written, and pools
their gaps with this one, each campaign one draw:

- occasions: how many campaigns the view rests on, this one included;
- ci95_machine: a Student t interval over the campaigns' gaps (k - 1 degrees of freedom);
- prediction95: where the next campaign's gap should fall, mean +- t * sd * sqrt(1 + 1/k);
- machine_note: which campaigns, or why the fields are null (one occasion).

Both need two occasions; with few they are wide, as they should be (t with 1 df is 12.7).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy import stats

from analysis import rules, schema

MODE_DEFINITION = ("kind", "network", "client", "seccomp")


def comparable_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    """What must be equal for two campaigns to measure the same thing."""
    host = manifest.get("host", {})
    # With the defaults filled in: a manifest that recorded the profile as given (before
    # 2026-12-07) and one that recorded it resolved mean the same.
    profile = {k: v for k, v in rules.with_defaults(manifest.get("profile")).items() if k not in ("rounds",)}
    return {
        "host": {k: host.get(k) for k in ("cpu_model", "cores", "memory_mb", "kernel")},
        "profile": profile,
        "packages": sorted(set((manifest.get("packages_sha256") or {}).values())),
        "dataset": (manifest.get("db") or {}).get("dataset", {}).get("sha256"),
    }


def mode_definitions(manifest: dict[str, Any]) -> dict[str, Any]:
    """What each mode is and how it is reached: a bridge mode through docker-proxy and one
    DNAT-ed past it measure different paths under one name, and are never pooled."""
    modes = manifest.get("modes") or {}
    return {m: {k: (f or {}).get(k) for k in MODE_DEFINITION} for m, f in sorted(modes.items()) if isinstance(f, dict)}


def _pooling_facts(manifest: dict[str, Any]) -> dict[str, Any]:
    processes = manifest.get("processes") or {}
    return comparable_facts(manifest) | {
        "aslr_disabled": processes.get("aslr_disabled"),
        "baseline": manifest.get("baseline"),
        "modes": mode_definitions(manifest),
        # Interrupts steered off the service core during the measure phase (since 2026-12-06).
        "interrupts_steered": bool((manifest.get("interrupts") or {}).get("steer")),
    }


@dataclass
class Occasion:
    """An earlier campaign: its id, when it started and each (mode, metric)'s gap."""

    campaign: str
    started_at: str
    gaps: dict[tuple[str, str], float] = field(default_factory=dict)


def earlier_occasions(folder: Path, manifest: dict[str, Any]) -> tuple[list[Occasion], list[str]]:
    """The comparable campaigns that started before this one, beside it in its results folder
    (results/<id>/<target>/, or results/<id>/ for one-target campaigns of the old layout), oldest
    first; and a note for each comparable one passed over (its report missing or unreadable)."""
    started = str(manifest.get("started_at") or "")
    campaign = str(manifest.get("campaign_id"))
    flat = folder.name == campaign
    results = folder.parent if flat else folder.parent.parent
    if not results.is_dir() or not started:
        return [], []
    facts = _pooling_facts(manifest)
    found, notes = [], []
    for other in sorted(p for p in results.iterdir() if p.is_dir()):
        place = other if flat else other / folder.name
        if place.resolve() == folder.resolve():
            continue
        theirs = _json(place / "manifest.json")
        if theirs is None or str(theirs.get("started_at") or "") >= started:
            continue
        try:
            theirs = schema.migrate_manifest(theirs, place / "manifest.json")
        except schema.SchemaError as exc:
            notes.append(f"{other.name} left out: {exc}")
            continue
        if (theirs.get("profile") or {}).get("name") != (manifest.get("profile") or {}).get("name") or _pooling_facts(theirs) != facts:
            continue
        gap = _json(place / "report" / "gap.json")
        rows = (gap or {}).get("comparisons")
        if not isinstance(rows, list):
            notes.append(f"{theirs.get('campaign_id', other.name)} left out: no readable report/gap.json (lab report {place})")
            continue
        gaps = {
            (str(r["mode"]), str(r["metric"])): float(r["gap_pct"])
            for r in rows
            if isinstance(r, dict) and isinstance(r.get("gap_pct"), int | float) and "mode" in r and "metric" in r
        }
        found.append(Occasion(str(theirs.get("campaign_id", other.name)), str(theirs["started_at"]), gaps))
    return sorted(found, key=lambda o: o.started_at), notes


def view(gap_pct: float, mode: str, metric: str, earlier: list[Occasion], profile: str, passed_over: list[str]) -> dict[str, Any]:
    """The machine-level fields of one comparison row of gap.json."""
    prior = [(o.campaign, o.gaps[(mode, metric)]) for o in earlier if (mode, metric) in o.gaps]
    gaps = [g for _, g in prior] + [gap_pct]
    k = len(gaps)
    skipped = f"; {'; '.join(passed_over)}" if passed_over else ""
    if k < 2:
        return {
            "occasions": 1,
            "ci95_machine": None,
            "prediction95": None,
            "machine_note": f"one occasion: no earlier campaign of profile {profile} on this host with these packages "
            "in this results folder" + skipped,
        }
    mean = sum(gaps) / k
    sd = math.sqrt(sum((g - mean) ** 2 for g in gaps) / (k - 1))
    t = float(stats.t.ppf(0.975, k - 1))
    ci, pi = t * sd / math.sqrt(k), t * sd * math.sqrt(1 + 1 / k)
    return {
        "occasions": k,
        "ci95_machine": [round(mean - ci, 4), round(mean + ci, 4)],
        "prediction95": [round(mean - pi, 4), round(mean + pi, 4)],
        "machine_note": f"{k} occasions, each one draw: {', '.join(c for c, _ in prior)} and this campaign; "
        f"mean gap {mean:+.2f}%, between-campaign sd {sd:.2f} pp" + skipped,
        "machine_gap_pct": round(mean, 4),
    }


def _json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing or unreadable (an earlier campaign's problem, not this report's)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
