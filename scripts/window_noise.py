"""How much of a concurrent campaign's round-to-round spread is the window's own noise.

usage: python scripts/window_noise.py results/<id>/<target> [--baseline native]

Each ok round's measured window is cut in two at its middle CPU sample; each half gives every
mode's CPU per served request, and so each mode's log-ratio to the baseline. With the halves
independent, the full window's noise variance is var(half1 - half2) / 4; the rest of the
per-round variance (the rounds' log-ratios around their mean) is the instances' (each round
starts fresh processes) and the machine's state. With many modes on one core each mode gets a
smaller share of the window, so its window noise grows: it should stay well under the rest.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import sys
from pathlib import Path

from analysis.window import read_mode_points, read_samples


def halves(run: Path, modes: list[str]) -> tuple[dict[str, float], dict[str, float]] | None:
    """Each mode's CPU µs per served request in the first and second half of the window."""
    points = read_mode_points(sorted(run.glob("k6*.json.gz")))
    samples = read_samples(run / "cpu.jsonl")
    lo = min(points[m].first_measured for m in modes)
    hi = max(points[m].last_measured for m in modes)
    inside = [s for s in samples if lo <= s[0] <= hi]
    if len(inside) < 3:
        return None
    cut = [inside[0], inside[len(inside) // 2], inside[-1]]
    found: list[dict[str, float]] = [{}, {}]
    for mode in modes:
        served = sorted(points[mode].served_at)
        for i in (0, 1):
            (t0, c0), (t1, c1) = cut[i], cut[i + 1]
            n = bisect.bisect_right(served, t1) - bisect.bisect_right(served, t0)
            found[i][mode] = (c1[mode] - c0[mode]) / 1e3 / n if n else math.nan
    return found[0], found[1]


def variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--baseline", default="native")
    parser.add_argument("-o", "--out", type=Path)
    args = parser.parse_args(argv)
    diffs: dict[str, list[float]] = {}
    full: dict[str, list[float]] = {}
    for record in sorted(args.campaign.glob("runs/*_concurrent_r*/run.json")):
        meta = json.loads(record.read_text())
        if meta.get("status") != "ok":
            continue
        modes = list(meta["per_mode"])
        split = halves(record.parent, modes)
        if split is None:
            continue
        a, b = split
        for mode in modes:
            if mode == args.baseline:
                continue
            d = math.log(a[mode] / a[args.baseline]) - math.log(b[mode] / b[args.baseline])
            diffs.setdefault(mode, []).append(100 * d)
            per_mode = meta["per_mode"]
            full.setdefault(mode, []).append(
                100 * math.log(per_mode[mode]["cpu_us_per_request"] / per_mode[args.baseline]["cpu_us_per_request"])
            )
    rows = {}
    print(f"{'mode':>18} {'rounds':>6} {'round sd pp':>12} {'window sd pp':>13} {'rest sd pp':>11}")
    for mode in sorted(diffs):
        window = math.sqrt(sum(d * d for d in diffs[mode]) / len(diffs[mode]) / 4)
        total = math.sqrt(variance(full[mode]))
        rest = math.sqrt(max(0.0, total**2 - window**2))
        rows[mode] = {"rounds": len(full[mode]), "round_sd_pp": total, "window_sd_pp": window, "rest_sd_pp": rest}
        print(f"{mode:>18} {len(full[mode]):>6} {total:>12.2f} {window:>13.2f} {rest:>11.2f}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
