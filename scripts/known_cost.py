"""How far each known-count control's per-round gap sits from its known share.

usage: python scripts/known_cost.py results/<id>/<target> [results/<id>/<target> ...]

For every mode of a concurrent campaign with extra requests (a control of the calibrate profile:
uncounted_every or extra_request_every), per ok round: log(mode / baseline) minus log1p(extra /
served), in pp, from run.json's per-mode windows; then their mean, sd and standard error. The
report's `controls` test the campaign's CI against the known share; this shows the bias and its
uncertainty round by round, to pool by hand over campaigns. Rounds the report left out (other work
above max_other_work) are left out here too.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path


def offsets(folder: Path, baseline: str = "native") -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    limit = float((json.loads((folder / "manifest.json").read_text()).get("profile") or {}).get("max_other_work", 0.10))
    for path in sorted(folder.glob("runs/*/run.json")):
        record = json.loads(path.read_text())
        if record.get("status") != "ok" or (record.get("service_core_other") or 0) > limit:
            continue
        per_mode = record.get("per_mode") or {}
        base = (per_mode.get(baseline) or {}).get("cpu_us_per_request")
        for mode, window in per_mode.items():
            extra, served = window.get("extra_requests") or 0, window.get("served_requests") or 0
            if mode == baseline or not extra or not served or not base or not window.get("cpu_us_per_request"):
                continue
            gap = 100.0 * math.log(window["cpu_us_per_request"] / base)
            found.setdefault(mode, []).append(gap - 100.0 * math.log1p(extra / served))
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv[1:]:
        folder = Path(name)
        if not (folder / "manifest.json").is_file():
            print(f"{folder}: no manifest.json (give results/<id>/<target>)", file=sys.stderr)
            return 2
        for mode, values in sorted(offsets(folder).items()):
            sd = statistics.stdev(values) if len(values) > 1 else float("nan")
            se = sd / math.sqrt(len(values))
            mean = statistics.fmean(values)
            print(f"{folder}: {mode}: log-gap minus known {mean:+.2f} pp (sd {sd:.2f}, se {se:.2f}, {len(values)} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
