"""What a campaign's rounds cost in time: how much of the measure phase was load.

usage: python scripts/round_cost.py results/<id>/<target> [results/<id>/<target> ...]

From each round's run.json: the rounds' span (the first started_at to the last finished_at),
seconds per round, the share of that span under load (warm-up + measured seconds) and measured,
and, for rounds run in one call (steps_s), the median seconds of each step. The issue's target
for the default profile: load >= 70% of the measure phase.
"""

from __future__ import annotations

import json
import statistics
import sys
from datetime import datetime
from pathlib import Path
from typing import Any


def _moment(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _steps(record: dict[str, Any]) -> dict[str, float]:
    steps = record.get("steps_s") or {}
    flat = {f"prepare.{k}": v for k, v in (steps.get("prepare") or {}).items()}
    flat |= {f"control.{k}": v for k, v in (steps.get("control") or {}).items()}
    if isinstance(steps.get("load"), int | float):
        flat["load"] = steps["load"]
    return {k: float(v) for k, v in flat.items() if isinstance(v, int | float)}


def cost(folder: Path) -> str:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("runs/*/run.json"))]
    runs = [r for r in runs if r.get("finished_at") and r.get("started_at")]
    if not runs:
        return f"{folder}: no finished round"
    span = max(_moment(r["finished_at"]) for r in runs) - min(_moment(r["started_at"]) for r in runs)
    load = sum(int(r["warmup_duration_s"]) + int(r["measure_duration_s"]) for r in runs)
    measured = sum(int(r["measure_duration_s"]) for r in runs)
    line = f"{folder}: {len(runs)} rounds, {span / len(runs):.1f} s per round"
    line += f", load {100 * load / span:.1f}%, measured {100 * measured / span:.1f}%"
    steps = [_steps(r) for r in runs]
    names = sorted({k for s in steps for k in s})
    if names:
        line += "\n  median s: " + ", ".join(f"{n} {statistics.median(s[n] for s in steps if n in s):.2f}" for n in names)
    return line


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for arg in argv:
        folder = Path(arg)
        if not (folder / "runs").is_dir():
            print(f"round_cost: {folder} has no runs/ folder (give results/<id>/<target>)", file=sys.stderr)
            return 2
        print(cost(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
