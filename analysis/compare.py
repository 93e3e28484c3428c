"""Compare two campaigns: each mode's metrics side by side, the change and its 95% CI.

usage: python -m analysis.compare CAMPAIGN_A CAMPAIGN_B [--force] [--json FILE]

Refuses (exit 2, naming the differing facts) when the manifests differ in what makes results
incomparable: host, profile, package set, dataset. --force compares anyway and says so.
The change is B relative to A, in percent, positive = B is worse (slower, higher latency,
more CPU). Runs of two campaigns are independent: the CI resamples each campaign's runs.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import CampaignError, load_campaign
from analysis.machine import comparable_facts, mode_definitions
from analysis.report import publish_json
from analysis.stats import METRICS, gap_ci, gap_pct, runs_frame


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = comparable_facts(a), comparable_facts(b)
    found = [f"{key}: {fa[key]} != {fb[key]}" for key in fa if fa[key] != fb[key]]
    # A mode both campaigns ran must be the same deployment reached the same way.
    ma, mb = mode_definitions(a), mode_definitions(b)
    return found + [f"mode {m}: {ma[m]} != {mb[m]}" for m in sorted(set(ma) & set(mb)) if ma[m] != mb[m]]


def compare_frames(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for mode in sorted(set(a["mode"]) & set(b["mode"])):
        for metric in METRICS:
            va = a.loc[a["mode"] == mode, metric].dropna().to_numpy()
            vb = b.loc[b["mode"] == mode, metric].dropna().to_numpy()
            if not len(va) or not len(vb):
                continue
            # A change from or to 0 (a metric not measured in a campaign) is undefined: None.
            defined = va.mean() > 0 and vb.mean() > 0
            ci = gap_ci(metric, va, vb, paired=False) if defined else None
            rows.append(
                {
                    "mode": mode,
                    "metric": metric,
                    "a": va.mean(),
                    "b": vb.mean(),
                    "change_pct": gap_pct(metric, va.mean(), vb.mean()) if defined else None,
                    "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
                    "runs_a": len(va),
                    "runs_b": len(vb),
                }
            )
    return pd.DataFrame(rows)


def _plain(value: Any) -> Any:
    """A table cell for JSON: numpy scalars as Python numbers, NaN (not computed) as null."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and not np.isfinite(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--force", action="store_true", help="compare even when the campaigns are not comparable")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args(argv)
    try:
        a, b = load_campaign(args.a), load_campaign(args.b)
    except CampaignError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 2
    differ = differences(a.manifest, b.manifest)
    if differ and not args.force:
        print(f"compare: {args.a} and {args.b} are not comparable ({'; '.join(differ)}); use --force to compare anyway", file=sys.stderr)
        return 2
    frame_a, frame_b = (runs_frame(c) for c in (a, b))
    table = compare_frames(frame_a[frame_a["status"] == "ok"], frame_b[frame_b["status"] == "ok"])
    if differ:
        print(f"warning: compared with --force although they differ: {'; '.join(differ)}")
    print(f"A = {a.manifest['campaign_id']}, B = {b.manifest['campaign_id']}; change = B vs A, positive = B is worse")
    print(table.to_markdown(index=False, floatfmt=".4g") if not table.empty else "no mode in common")
    undefined = table[table["change_pct"].isna()] if not table.empty else table
    for row in undefined.itertuples():
        print(f"warning: {row.metric} of {row.mode}: no change computed (a campaign's mean is 0 or not measured)")
    if args.json:
        data = {
            "a": a.manifest["campaign_id"],
            "b": b.manifest["campaign_id"],
            "forced": bool(differ),
            "rows": [{k: _plain(v) for k, v in row.items()} for row in table.to_dict(orient="records")],
        }
        if not publish_json(args.json, data, "compare"):
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
