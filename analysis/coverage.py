"""Check the CI method's coverage on a real campaign's noise.

usage: python -m analysis.coverage CAMPAIGN_DIR [--mode MODE] [--metric METRIC] [--gap PCT] [--rounds N ...]

Takes the per-round log-ratios of MODE against the baseline in CAMPAIGN_DIR (an A/A campaign
is the natural choice), centres them, and builds many synthetic campaigns of N rounds from them
(drawn with replacement) around a known gap. Prints, for each N, the share of those campaigns
whose 95% CI holds the known gap: for the t interval on log-ratios (the report's) and for a
percentile bootstrap. Exit 2 when the campaign cannot be read or has fewer than 5 pairs.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from analysis.load import CampaignError
from analysis.model import baseline_of, build, primary_metric_of
from analysis.precision import coverage
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
    args = parser.parse_args(argv)
    try:
        report = build(args.campaign)
    except CampaignError as exc:
        print(f"coverage: {exc}", file=sys.stderr)
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
    for n in args.rounds:
        t = coverage(args.gap, 0.0, n, args.trials, "t", residuals=residuals)
        boot = coverage(args.gap, 0.0, n, min(args.trials, 1500), "percentile", residuals=residuals)
        print(f"  {n:3d} rounds: 95% CI coverage  t on log-ratios {t:.3f}   percentile bootstrap {boot:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
