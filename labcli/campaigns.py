"""Every campaign in a results folder at a glance: what it measured, how far it got, what it found.

A campaign is results/<id>/ with one <target>/manifest.json per target (the results contract in
the README). `lab bench` also leaves results/<id>/lab.json (its pid, start and exit code), which
tells a running campaign from an interrupted one; campaigns started with ansible-playbook have
none, and are running or interrupted by their manifests alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAB_FILE = "lab.json"


@dataclass(frozen=True)
class Campaign:
    id: str
    profile: str
    modes: list[str]
    targets: list[str]
    runs_ok: int
    runs_failed: int
    runs_left: int | None  # None: the campaign stops on precision, not on a count
    state: str  # complete, running, interrupted, unreadable
    headline: str
    resume: str  # the command that resumes it ('' when complete)
    problem: str = ""

    def row(self) -> dict[str, str]:
        left = "-" if self.runs_left is None else str(self.runs_left)
        return {
            "campaign": self.id,
            "profile": self.profile,
            "modes": ",".join(self.modes),
            "ok/failed/left": f"{self.runs_ok}/{self.runs_failed}/{left}",
            "state": self.state,
            "headline": self.problem or self.headline,
        }


def scan(results: Path) -> list[Campaign]:
    """Every campaign folder under `results`, oldest first; unreadable ones say why instead of failing the list."""
    if not results.is_dir():
        return []
    return [read(folder) for folder in sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith("."))]


def read(folder: Path) -> Campaign:
    lab = read_json(folder / LAB_FILE) or {}
    targets = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").exists())
    if (folder / "manifest.json").exists():
        targets = [folder]
    if not targets:
        state = "running" if _alive(lab) else "interrupted"
        return Campaign(
            folder.name, str(lab.get("profile", "?")), [], [], 0, 0, None, state, "", _resume(folder.name, lab), "no manifest yet"
        )
    manifests = []
    for target in targets:
        manifest = read_json(target / "manifest.json")
        if manifest is None:
            return Campaign(folder.name, "?", [], [], 0, 0, None, "unreadable", "", "", f"{target / 'manifest.json'}: not valid JSON")
        manifests.append((target, manifest))
    first = manifests[0][1]
    profile = first.get("profile") or {}
    # The modes measured (the manifest's, lab_modes included), else the profile's.
    modes = list(first.get("modes") or profile.get("modes") or [])
    ok = failed = 0
    planned: int | None = 0
    for target, manifest in manifests:
        statuses = [(read_json(run / "run.json") or {}).get("status") for run in sorted((target / "runs").glob("*/"))]
        ok += sum(1 for s in statuses if s == "ok")
        # "running": started, not recorded yet (or never: the campaign stopped); neither ok nor failed.
        failed += sum(1 for s in statuses if s not in ("ok", "running"))
        planned = None if planned is None else _planned(manifest, planned)
    finished = all(m.get("finished_at") for _, m in manifests)
    if _alive(lab):
        state = "running"
    elif finished:
        state = "complete"
    else:
        state = "interrupted"
    left = None if planned is None else max(0, planned - ok - failed)
    if finished and left is not None:
        left = 0 if state == "complete" and left == 0 else left
    return Campaign(
        id=folder.name,
        profile=str(profile.get("name", "?")),
        modes=modes,
        targets=[t.name for t, _ in manifests],
        runs_ok=ok,
        runs_failed=failed,
        runs_left=left,
        state=state,
        headline=_headline(folder, manifests),
        resume="" if state != "interrupted" else _resume(folder.name, lab),
    )


def _planned(manifest: dict[str, Any], so_far: int) -> int | None:
    """Runs planned for a target: rounds × modes (sequential), or None when rounds stop on precision."""
    profile = manifest.get("profile") or {}
    precision = manifest.get("precision") or {}
    if manifest.get("design") == "concurrent":
        if precision.get("target_ci_pp") or precision.get("max_minutes"):
            return None
        return so_far + int(profile.get("rounds") or 0)
    return so_far + int(profile.get("rounds") or 0) * len(profile.get("modes") or manifest.get("modes") or [])


def _headline(folder: Path, manifests: list[tuple[Path, dict[str, Any]]]) -> str:
    """Each mode's gap on the primary metric with its 95% CI, from the (first) target's gap.json; '' before the report."""
    for target, _ in manifests:
        gap = read_json(target / "report" / "gap.json") or {}
        metric = gap.get("primary_metric")
        shown = [
            f"{c['mode']} {c['gap_pct']:+.2f}% [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]"
            for c in gap.get("comparisons") or []
            if c.get("metric") == metric and isinstance(c.get("gap_pct"), int | float) and len(c.get("ci95") or []) == 2
        ]
        if shown:
            more = f" ({target.name}; {len(manifests)} targets)" if len(manifests) > 1 else ""
            return f"{metric}: " + ", ".join(shown) + more
    return ""


def recorded_request(folder: Path) -> dict[str, Any]:
    """The options `lab bench` started this campaign with (lab.json), or {} for a campaign it did not start."""
    request = (read_json(folder / LAB_FILE) or {}).get("request")
    return request if isinstance(request, dict) else {}


def _resume(campaign: str, lab: dict[str, Any]) -> str:
    return f"lab bench --resume {campaign}" + (f" --inventory {lab['inventory']}" if lab.get("inventory") else "")


def _alive(lab: dict[str, Any]) -> bool:
    """True while the `lab bench` that wrote lab.json still runs (same pid, no exit code yet)."""
    pid = lab.get("pid")
    if not isinstance(pid, int) or "rc" in lab:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from `path`, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def table(campaigns: list[Campaign]) -> str:
    """A plain-text table, one campaign a row, then how to resume the interrupted ones."""
    rows = [c.row() for c in campaigns]
    if not rows:
        return "no campaigns"
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys[:-1]}
    lines = ["  ".join(k.ljust(widths[k]) if k in widths else k for k in keys)]
    lines += ["  ".join(r[k].ljust(widths[k]) if k in widths else r[k] for k in keys) for r in rows]
    resumes = [f"  {c.id}: {c.resume}" for c in campaigns if c.resume]
    if resumes:
        lines += ["", "resume with:", *resumes]
    return "\n".join(lines)
