"""Check the CI method's coverage on a real campaign's noise.

usage: python -m analysis.coverage CAMPAIGN_DIR [--mode MODE] [--metric METRIC] [--gap PCT] [--rounds N ...]
       python -m analysis.coverage CAMPAIGN_DIR --procedure [--target PP] [--stage-one N] [--max-rounds N]

Takes the per-round log-ratios of MODE against the baseline in CAMPAIGN_DIR (an A/A campaign
is the natural choice), centres them, and builds many synthetic campaigns of N rounds from them
(drawn with replacement) around a known gap. Prints, for each N, the share of those campaigns
whose 95% CI holds the known gap: for the t interval on log-ratios (the report's) and for a
percentile bootstrap. Exit 2 when the campaign cannot be read or has fewer than 5 pairs.

--procedure simulates the whole stopping procedure instead (Stein's two-stage rule, as the lab
runs it: analysis.precision.procedure_coverage) on the same noise, at the campaign's own
settings (target, first stage and round cap from its manifest, or as given), beside the rule it
replaced at the same settings: the share of final CIs that hold the known gap.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from analysis.model import baseline_of, build_or_say, primary_metric_of
from analysis.precision import coverage, procedure_coverage, width_rule_coverage
from analysis.stats import by_round


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.coverage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--mode", help="default: the campaign's A/A twin of the baseline (twin_of in modes.yml)")
    parser.add_argument("--metric", help="default: the campaign's primary metric")
    parser.add_argument("--gap", type=float, default=1.0, help="the known gap of the synthetic campaigns, %% (default 1)")
    parser.add_argument("--rounds", type=int, nargs="+", default=[4, 8, 16, 30])
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--procedure", action="store_true", help="simulate the whole stopping procedure (Stein's rule)")
    parser.add_argument("--target", type=float, help="--procedure: target half-width, pp (default: the manifest's)")
    parser.add_argument("--stage-one", type=int, help="--procedure: first-stage rounds (default: the manifest's min_rounds)")
    parser.add_argument("--max-rounds", type=int, help="--procedure: the round cap (default: the manifest's max_rounds)")
    args = parser.parse_args(argv)
    report = build_or_say("coverage", args.campaign)
    if report is None:
        return 2
    mode = args.mode or min(report.aa_modes, default=None)
    if mode is None:
        print(f"coverage: {args.campaign}: no A/A twin of the baseline among its modes; name one with --mode", file=sys.stderr)
        return 2
    metric = args.metric or primary_metric_of(report.campaign)
    baseline = baseline_of(report.campaign)
    pairs = by_round(report.runs[report.runs["status"] == "ok"], mode, metric, baseline).dropna()
    if len(pairs) < 5:
        print(f"coverage: {args.campaign}: {len(pairs)} paired rounds of {mode} on {metric}; 5 are needed", file=sys.stderr)
        return 2
    residuals = np.log(pairs[mode].to_numpy() / pairs[baseline].to_numpy())
    spread = residuals.std(ddof=1)
    print(f"{args.campaign}: {len(residuals)} rounds of {mode} vs {baseline} on {metric}, sd of the log-ratio {spread:.4f}")
    if args.procedure:
        precision = report.campaign.manifest.get("precision") or {}
        target = args.target if args.target is not None else float(precision.get("target_ci_pp") or 0)
        first = args.stage_one or int(precision.get("min_rounds") or 15)
        cap = args.max_rounds or int(precision.get("max_rounds") or 200)
        if target <= 0 or first < 2 or cap < first:
            print(
                f"coverage: --procedure needs a target > 0 and 2 <= stage one <= max rounds (got {target}, {first}, {cap})", file=sys.stderr
            )
            return 2
        stein, rounds = procedure_coverage(spread, target, first, cap, args.gap, args.trials, residuals=residuals)
        old, old_rounds = width_rule_coverage(spread, target, 6, cap, args.trials)
        print(f"  whole procedure at target ±{target:g} pp, first stage {first}, at most {cap} rounds:")
        print(f"    Stein's two-stage rule (the lab's): coverage {stein:.3f}, {rounds:.1f} rounds on average (this noise)")
        print(f"    the rule it replaced (first n >= 6 narrow enough): coverage {old:.3f}, {old_rounds:.1f} rounds (normal noise)")
        return 0
    for n in args.rounds:
        t = coverage(args.gap, 0.0, n, args.trials, "t", residuals=residuals)
        boot = coverage(args.gap, 0.0, n, min(args.trials, 1500), "percentile", residuals=residuals)
        print(f"  {n:3d} rounds: 95% CI coverage  t on log-ratios {t:.3f}   percentile bootstrap {boot:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
