"""What a ladder campaign's budget buys: the chance that every step reaches its target width.

usage: python scripts/ladder_budget.py results/<id>/<target> [--target-pp 1.0]
           [--minutes 20] [--stage-one 15,30] [--round-s S] [--trials 4000]

Reads the campaign's ok rounds (those the report counts), each ladder step's and each twin's
per-round log-ratio, and the rounds' period (start to start). Then simulates the lab's stopping
procedure (Stein's two-stage rule, analysis.precision) on whole rounds drawn with replacement
from the campaign, so the steps keep their correlation (a rung's instance noise enters the step
before it and the step after it with opposite signs): the first stage, the rounds it asks for
(the most any step needs, capped by the budget), each step's final half-width. Prints, per
first-stage size, the share of synthetic campaigns in which every step reached the target and,
per step, its median half-width and the rounds it alone would need.

--round-s: a round period to assume instead of the campaign's (what faster rounds would buy,
valid while the window's own noise stays small against the rounds' spread:
scripts/window_noise.py).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
from scipy import stats

from analysis import rules
from analysis.precision import CONFIDENCE


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def read_campaign(folder: Path) -> tuple[list[tuple[str, str]], np.ndarray, float]:
    """The comparisons (step or twin: (to, from)), a rounds x comparisons array of 100 x
    log-ratios, and the median period between round starts in seconds."""
    manifest = json.loads((folder / "manifest.json").read_text())
    profile = manifest.get("profile") or {}
    metric = profile.get("primary_metric", "cpu_us_per_request")
    rungs = list(profile.get("ladder") or [])
    if len(rungs) < 2:
        raise SystemExit(f"{folder / 'manifest.json'}: profile.ladder has {rungs!r}, not a ladder campaign")
    pairs = list(zip(rungs[1:], rungs, strict=False))
    pairs += [(m, f["twin_of"]) for m, f in sorted((manifest.get("modes") or {}).items()) if isinstance(f, dict) and f.get("twin_of")]
    rows, starts = [], []
    for path in sorted((folder / "runs").glob("*/run.json")):
        record = json.loads(path.read_text())
        if record.get("started_at"):
            starts.append(_epoch(record["started_at"]))
        if record.get("status") != "ok" or rules.exclusion(record, profile):
            continue
        per_mode = record.get("per_mode") or {}
        try:
            rows.append([100 * math.log(per_mode[a][metric] / per_mode[b][metric]) for a, b in pairs])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
    if len(rows) < 4:
        raise SystemExit(f"{folder}: {len(rows)} usable rounds, at least 4 needed")
    period = statistics.median(b - a for a, b in zip(starts, starts[1:], strict=False))
    return pairs, np.array(rows), period


def simulate(
    logs: np.ndarray, target_pp: float, stage_one: int, max_rounds: int, trials: int, seed: int = 1
) -> tuple[float, np.ndarray, np.ndarray]:
    """(share of campaigns with every comparison within target_pp, each comparison's half-widths
    in pp (trials x comparisons), the rounds each campaign ran)."""
    rng = np.random.default_rng(seed)
    # A half-width of target_pp on the percent scale, in 100 x log units at each gap (as the lab's rule).
    target = 100 * np.arcsinh(target_pp / (100 * np.exp(logs.mean(axis=0) / 100)))
    centred = logs - logs.mean(axis=0)
    draws = centred[rng.integers(0, len(centred), size=(trials, max_rounds))]
    s0 = draws[:, :stage_one, :].std(axis=1, ddof=1)
    t0 = float(stats.t.ppf(0.5 + CONFIDENCE / 2, stage_one - 1))
    wanted = np.ceil((t0 * s0 / target) ** 2).max(axis=1)
    rounds = np.clip(wanted, stage_one, max_rounds)
    half = t0 * s0 / np.sqrt(rounds)[:, None]
    # Back to percentage points at each gap: the half-width of the interval on the percent scale.
    half_pp = 100 * np.exp(logs.mean(axis=0) / 100) * np.sinh(half / 100)
    return float(np.mean((half_pp <= target_pp * (1 + 1e-9)).all(axis=1))), half_pp, rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path, help="results/<id>/<target>")
    parser.add_argument("--target-pp", type=float, default=1.0)
    parser.add_argument("--minutes", type=float, default=20.0, help="the measure phase's budget")
    parser.add_argument("--stage-one", default="15,30", help="first-stage sizes to compare, comma-separated")
    parser.add_argument("--round-s", type=float, default=None, help="assume this round period (s)")
    parser.add_argument("--trials", type=int, default=4000)
    args = parser.parse_args(argv)
    pairs, logs, period = read_campaign(args.campaign)
    period = args.round_s or period
    max_rounds = int(args.minutes * 60 // period)
    print(f"{args.campaign}: {len(logs)} rounds, a round every {period:.1f} s: {max_rounds} rounds in {args.minutes:g} min")
    t_inf = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    for stage_one in (int(s) for s in args.stage_one.split(",")):
        share, half, rounds = simulate(logs, args.target_pp, stage_one, max_rounds, args.trials)
        median = float(np.median(rounds))
        print(
            f"first stage {stage_one}: every step within ±{args.target_pp:g} pp in {share:.0%} of campaigns (rounds: median {median:.0f})"
        )
        for i, (to, of) in enumerate(pairs):
            sd = float(logs[:, i].std(ddof=1))
            target = 100 * math.asinh(args.target_pp / (100 * math.exp(float(logs[:, i].mean()) / 100)))
            alone = math.ceil((t_inf * sd / target) ** 2)
            width, minutes = float(np.median(half[:, i])), alone * period / 60
            print(
                f"  {of:>18} -> {to:<18} sd {sd:4.2f} pp/round  half-width median ±{width:.2f}  needs ~{alone} rounds ({minutes:.0f} min)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
