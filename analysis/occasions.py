"""Pool campaigns run on different occasions: each one's gap, and the gap across them.

usage: python -m analysis.occasions CAMPAIGN CAMPAIGN... [--force] [--json FILE]

A campaign's 95% CI covers the rounds it ran. On the lab's machine, campaigns of the same
profile and code hours apart disagreed by more than that: the bridge mode's CPU-per-request gap
was +22.8% to +27.7% over five default campaigns, each ±0.4–1.1 pp. What the machine did on the
day is a draw of its own; this treats each campaign as one: per mode and metric, the mean of the
campaign gaps, a Student t CI over campaigns (k-1 degrees of freedom) and the between-campaign
standard deviation, beside each campaign's own gap and CI, and whether the campaigns disagree
by more than their own CIs allow (Cochran's Q with its p-value, I², and tau, the between-campaign
sd beyond the rounds' noise: analysis.fleet.heterogeneity). Campaigns of a profile with a
`ladder` have their decomposition pooled the same way, step by step (`ladder`: each step and the
total, named "<from> -> <to>"). Each CAMPAIGN is a campaign folder
with one target, or one target's folder. Campaigns that are not comparable (analysis.compare's
facts, plus ASLR and the hash seed) are refused by name unless --force. Exit 0 with a table,
2 when a campaign cannot be read, the campaigns are not comparable, or the JSON cannot be written.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import components
from analysis.fleet import HOST_COLUMNS, host_table, pool
from analysis.load import CampaignError
from analysis.machine import comparable_facts, mode_definitions
from analysis.model import Report, build
from analysis.report import publish_json


def facts(report: Report) -> dict[str, Any]:
    """What must be equal for two campaigns to measure the same thing."""
    processes = report.campaign.manifest.get("processes") or {}
    return comparable_facts(report.campaign.manifest) | {
        "aslr_disabled": processes.get("aslr_disabled"),
        "hash_seed": processes.get("hash_seed"),
        "baseline": report.baseline,
        "modes": mode_definitions(report.campaign.manifest),
    }


def differences(reports: dict[str, Report]) -> list[str]:
    """'<campaign>: <fact> <value> != <value> of <first campaign>' for every fact that differs."""
    first_name, first = next(iter(reports.items()))
    reference = facts(first)
    found = []
    for name, report in list(reports.items())[1:]:
        mine = facts(report)
        found += [f"{name}: {key} {mine[key]} != {reference[key]} of {first_name}" for key in reference if mine[key] != reference[key]]
    return found


def ladder_table(reports: dict[str, Report]) -> pd.DataFrame | None:
    """One row per campaign and step of its ladder (and its total, first rung to last), shaped as
    host_table's rows with "<from> -> <to>" as the mode; None unless every campaign has a ladder
    over the same rungs."""
    ladders = {name: found for name, report in reports.items() if (found := report.ladder) is not None}
    if len(ladders) != len(reports) or len({tuple(found.rungs) for found in ladders.values()}) != 1:
        return None
    rows = []
    for name, found in ladders.items():
        for low, step in zip(found.rungs, found.steps, strict=False):
            rows.append({"target": name} | step.as_json() | {"mode": f"{low} -> {step.mode}"})
        rows.append({"target": name} | found.total.as_json() | {"mode": f"{found.rungs[0]} -> {found.total.mode} (total)"})
    return pd.DataFrame(rows, columns=HOST_COLUMNS)


def summary(reports: dict[str, Report]) -> dict[str, Any]:
    table = host_table(reports)
    pooled = pool(table, unit="campaign")
    table = table.rename(columns={"target": "campaign"})
    first = next(iter(reports.values()))
    return {
        "baseline": first.baseline,
        "primary_metric": first.primary_metric,
        "campaigns": list(reports),
        "pooled": pooled,
        "by_campaign": json.loads(table.to_json(orient="records")),
        "components": components.table(reports),
        "ladder": pooled_ladder(reports),
    }


def pooled_ladder(reports: dict[str, Report]) -> list[dict[str, Any]] | None:
    """Each step of the campaigns' ladder pooled over them, with every campaign's own gap (each_pct)."""
    table = ladder_table(reports)
    if table is None:
        return None
    return [p | {"each_pct": [float(g) for g in table[table["mode"] == p["mode"]]["gap_pct"]]} for p in pool(table, unit="campaign")]


def _ci(pooled: dict[str, Any]) -> str:
    return f"{pooled['ci95'][0]:+.2f} – {pooled['ci95'][1]:+.2f}" if pooled["ci95"] else "–"


def _sd(pooled: dict[str, Any]) -> str:
    return f"{pooled['between_campaign_sd_pct']:.2f}" if pooled["between_campaign_sd_pct"] is not None else "–"


def text(data: dict[str, Any]) -> str:
    primary = data["primary_metric"]
    lines = [f"{len(data['campaigns'])} campaigns: {', '.join(data['campaigns'])}; gap vs {data['baseline']}, each campaign one draw"]
    rows = []
    for p in data["pooled"]:
        own = [r for r in data["by_campaign"] if r["mode"] == p["mode"] and r["metric"] == p["metric"]]
        het = p.get("heterogeneity")
        agree = f"Q p={het['p_value']:.3g}, I² {het['i2_pct']:.0f}%, tau {het['tau_pp']:.2f} pp" if het else "–"
        rows.append(
            {
                "mode": p["mode"],
                "metric": p["metric"] + (" (primary)" if p["metric"] == primary else ""),
                "pooled gap %": f"{p['gap_pct']:+.2f}",
                "95% CI over campaigns": _ci(p),
                "between-campaign sd pp": _sd(p),
                "beyond their CIs?": agree,
                f"each campaign (its own ±; {data['baseline']}'s value)": ", ".join(
                    f"{r['gap_pct']:+.2f}"
                    + (f" ±{(r['ci95'][1] - r['ci95'][0]) / 2:.2f}" if r["ci95"] else "")
                    + (f" @{r['baseline_value']:.4g}" if r.get("baseline_value") is not None else "")
                    for r in own
                ),
            }
        )
    table = str(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))
    parts = [*lines, table]
    if data.get("ladder"):
        steps = [
            {
                "step": p["mode"],
                "pooled gap %": f"{p['gap_pct']:+.2f}",
                "95% CI over campaigns": _ci(p),
                "between-campaign sd pp": _sd(p),
                "each campaign": ", ".join(f"{g:+.2f}" for g in p["each_pct"]),
            }
            for p in data["ladder"]
        ]
        parts.append("the ladder, step by step (each campaign one draw):")
        parts.append(str(pd.DataFrame(steps).to_markdown(index=False, disable_numparse=True)))
    for c in data.get("components") or []:
        best = c["rounds_per_occasion"]
        spend = (
            f"a campaign's fixed cost {c['c_occasion_s']:.0f} s, a round {c['c_round_s']:.1f} s: "
            + (
                f"{best} rounds per occasion buy the most precision (Kalibera & Jones)"
                if best
                else "no occasion effect seen: one long campaign"
            )
            if c["c_occasion_s"] is not None and c["c_round_s"] is not None
            else "costs not recorded"
        )
        parts.append(
            f"variance components of {c['mode']} on {c['metric']} ({c['method']}, {c['campaigns']} campaigns, {c['rounds']} rounds): "
            f"sigma_round {c['sigma_round_pp']:.2f} pp, sigma_occasion {c['sigma_occasion_pp']:.2f} pp; {spend}"
        )
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.occasions", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("campaigns", type=Path, nargs="+")
    parser.add_argument("--force", action="store_true", help="pool even when the campaigns are not comparable")
    parser.add_argument("--json", type=Path, help="also write the pooled table as JSON")
    args = parser.parse_args(argv)
    if len(args.campaigns) < 2:
        print("occasions: give at least two campaigns", file=sys.stderr)
        return 2
    reports: dict[str, Report] = {}
    try:
        for folder in args.campaigns:
            report = build(folder)
            reports[report.campaign_id if report.campaign_id not in reports else str(folder)] = report
    except CampaignError as exc:
        print(f"occasions: {exc}", file=sys.stderr)
        return 2
    differ = differences(reports)
    if differ and not args.force:
        print(f"occasions: not comparable ({'; '.join(differ)}); use --force to pool anyway", file=sys.stderr)
        return 2
    if differ:
        print(f"warning: pooled with --force although they differ: {'; '.join(differ)}")
    data = summary(reports) | {"forced": bool(differ)}
    print(text(data), end="")
    if args.json and not publish_json(args.json, data, "occasions"):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
