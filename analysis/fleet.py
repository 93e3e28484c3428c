"""A campaign over several targets: the gap on each host, and pooled across the fleet.

results/<id>/ holds one folder per target (results/<id>/<target>/, each a complete
single-target campaign with its own report). For each mode and metric the fleet summary has
the gap on every host (that host's paired rounds: mean, bootstrap CI, permutation p), and
pooled across hosts: the mean of the host gaps, a 95% CI that treats the hosts as a sample
of the fleet (Student t over hosts, k-1 degrees of freedom; with one host, its own CI), and
the between-host spread (standard deviation, min, max of the host gaps).
"""

import json
import math
from typing import Any

import pandas as pd
from scipy import stats

from analysis.model import Report
from analysis.stats import BASELINE, rounded

HOST_COLUMNS = ["target", "mode", "metric", "baseline_value", "value", "gap_pct", "ci95", "p_value", "n_pairs", "significant"]


def host_table(reports: dict[str, Report]) -> pd.DataFrame:
    """One row per target, mode and metric: that host's comparison with the baseline."""
    rows = [{"target": target} | c.as_json() for target, report in reports.items() for c in report.comparisons]
    return pd.DataFrame(rows, columns=HOST_COLUMNS)


def heterogeneity(rows: pd.DataFrame) -> dict[str, Any] | None:
    """Do the rows (hosts or campaigns) disagree by more than their own CIs allow? Cochran's Q on
    the gaps, each weighted by 1/SE² (its SE read from its CI: half-width / t with n_pairs - 1
    degrees of freedom), its p-value (chi-square, k - 1 df), I² (the share of the spread the CIs
    do not explain) and tau (DerSimonian-Laird: the between-row sd beyond the rounds' noise, pp).
    None with fewer than two rows that have a CI."""
    usable = rows.dropna(subset=["gap_pct", "ci95"])
    usable = usable[usable["n_pairs"] >= 2]
    if len(usable) < 2:
        return None
    gaps = usable["gap_pct"].to_numpy(dtype=float)
    halves = usable["ci95"].map(lambda ci: (ci[1] - ci[0]) / 2).to_numpy(dtype=float)
    t = stats.t.ppf(0.975, usable["n_pairs"].to_numpy(dtype=float) - 1)
    se = halves / t
    if (se <= 0).any():
        return None
    weights = 1.0 / se**2
    center = float((weights * gaps).sum() / weights.sum())
    q = float((weights * (gaps - center) ** 2).sum())
    df = len(gaps) - 1
    scale = float(weights.sum() - (weights**2).sum() / weights.sum())
    tau2 = max(0.0, (q - df) / scale) if scale > 0 else 0.0
    return {
        "q": rounded(q),
        "df": df,
        "p_value": rounded(float(stats.chi2.sf(q, df)), 6),
        "i2_pct": rounded(max(0.0, (q - df) / q) * 100.0 if q > 0 else 0.0, 1),
        "tau_pp": rounded(math.sqrt(tau2)),
    }


def pool(table: pd.DataFrame, unit: str = "host") -> list[dict[str, Any]]:
    """Per mode and metric, the gap over the table's rows (hosts of a fleet, or campaigns: `unit`):
    their mean, a t CI over them, their spread, and whether they disagree beyond their own CIs."""
    found = []
    for (mode, metric), rows in table.groupby(["mode", "metric"], sort=False):
        gaps = rows["gap_pct"].dropna().to_numpy(dtype=float)
        if gaps.size == 0:
            continue
        mean = float(gaps.mean())
        ci: tuple[float, float] | None
        sd: float | None
        if gaps.size == 1:
            own = rows["ci95"].dropna()
            ci = (float(own.iloc[0][0]), float(own.iloc[0][1])) if not own.empty else None
            sd = None
        else:
            sd = float(gaps.std(ddof=1))
            half = float(stats.t.ppf(0.975, gaps.size - 1)) * sd / math.sqrt(gaps.size)
            ci = (mean - half, mean + half)
        found.append(
            {
                "mode": str(mode),
                "metric": str(metric),
                f"{unit}s": int(gaps.size),
                "gap_pct": rounded(mean),
                "ci95": [rounded(ci[0]), rounded(ci[1])] if ci else None,
                f"between_{unit}_sd_pct": rounded(sd),
                "gap_min_pct": rounded(float(gaps.min())),
                "gap_max_pct": rounded(float(gaps.max())),
                "heterogeneity": heterogeneity(rows),
            }
        )
    return found


def headline(p: dict[str, Any], baseline: str = BASELINE) -> str:
    metric = {"throughput_rps": "throughput", "cpu_us_per_request": "CPU per request"}.get(p["metric"], p["metric"])
    ci = f"95% CI {p['ci95'][0]:.1f}–{p['ci95'][1]:.1f}%" if p["ci95"] else "no CI"
    if p["hosts"] == 1:
        return f"fleet of 1 host: {p['mode']} vs {baseline} {metric} gap {p['gap_pct']:+.1f}% ({ci}); no between-host spread with one host"
    return (
        f"fleet of {p['hosts']} hosts: {p['mode']} vs {baseline} {metric} gap {p['gap_pct']:+.1f}% ({ci} over hosts), "
        f"between-host sd {p['between_host_sd_pct']:.1f} pp, range {p['gap_min_pct']:+.1f}% to {p['gap_max_pct']:+.1f}%"
    )


def summary(reports: dict[str, Report]) -> dict[str, Any]:
    table = host_table(reports)
    pooled = pool(table)
    first = next(iter(reports.values()), None)
    data = {
        "campaign": first.campaign_id if first else None,
        "baseline": first.baseline if first else BASELINE,
        "primary_metric": first.primary_metric if first else "throughput_rps",
        "targets": list(reports),
        "hosts": {
            target: {
                "host": report.campaign.manifest.get("host", {}),
                "docker": report.campaign.manifest.get("docker", {}),
                "loadgens": report.campaign.manifest.get("loadgens", {}),
                "db_host": (report.campaign.manifest.get("db") or {}).get("host"),
                "noise_floor_pct": report.gap_json()["noise_floor_pct"],
                "warnings": report.warnings,
            }
            for target, report in reports.items()
        },
        "per_host": json.loads(table.to_json(orient="records")),
        "pooled": pooled,
        "columns": HOST_COLUMNS,
    }
    data["headlines"] = headlines(data)
    return data


def markdown(data: dict[str, Any]) -> str:
    lines = [
        f"# Fleet report: campaign {data['campaign']}",
        "",
        f"Targets: {', '.join(data['targets'])}. Baseline: {data['baseline']}.",
        "",
    ]
    lines += [f"## Pooled across hosts ({data['primary_metric']})", ""]
    lines += [f"- {line}" for line in headlines(data)] or ["- no comparison"]
    lines += ["", "## Gap per host", "", "| target | mode | metric | gap % | 95% CI | p | pairs |", "|---|---|---|---|---|---|---|"]
    for row in data["per_host"]:
        ci = f"{row['ci95'][0]:.2f} – {row['ci95'][1]:.2f}" if row["ci95"] else "–"
        p = f"{row['p_value']:.3f}" if row["p_value"] is not None else "–"
        lines.append(f"| {row['target']} | {row['mode']} | {row['metric']} | {row['gap_pct']:+.2f} | {ci} | {p} | {row['n_pairs']} |")
    lines += ["", "## Hosts", ""]
    for target, facts in data["hosts"].items():
        host = facts["host"]
        lines.append(
            f"- **{target}**: {host.get('cpu_model')}, {host.get('cores')} cores, kernel {host.get('kernel')}, "
            f"Docker {facts['docker'].get('version')}; db host {facts['db_host']}; load generators "
            f"{', '.join(facts['loadgens']) or '–'} ([report]({data.get('links', {}).get(target, f'../{target}/report/report.html')}))"
        )
        lines += [f"  - warning: {w}" for w in facts["warnings"]]
    lines += [f"- **{target}**: no report ({why})" for target, why in data.get("left_out", {}).items()]
    return "\n".join(lines) + "\n"


def headlines(data: dict[str, Any]) -> list[str]:
    return [headline(p, data["baseline"]) for p in data["pooled"] if p["metric"] == data["primary_metric"]]


def all_runs(reports: dict[str, Report]) -> pd.DataFrame:
    frames = [report.runs.assign(target=target) for target, report in reports.items()]
    runs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return runs[["target", *[c for c in runs.columns if c != "target"]]]
