"""Variance components of a gap over occasions, and how to spend a budget on them.

Campaigns of one profile on different occasions give, per mode, each round's gap (100 x the
log-ratio to the baseline, pp). A random-intercept model (REML, statsmodels' MixedLM: gap ~ 1,
one group per campaign) splits its spread into the rounds' (sigma_round, within a campaign) and
the occasions' (sigma_occasion, the campaign's own level). Kalibera & Jones (2013, "Rigorous
benchmarking in reasonable time") then give the rounds per occasion that buy the most precision
for a fixed time: r* = sqrt((c_occasion / c_round) * (sigma_round^2 / sigma_occasion^2)), with
c_occasion the fixed cost of a campaign (setting up, verifying, reporting) and c_round the cost
of one round, both read from the campaigns' own records.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.model import Report
from analysis.stats import by_round, rounded


@dataclass
class Components:
    mode: str
    metric: str
    campaigns: int
    rounds: int
    sigma_round_pp: float
    sigma_occasion_pp: float
    method: str

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "metric": self.metric,
            "campaigns": self.campaigns,
            "rounds": self.rounds,
            "sigma_round_pp": rounded(self.sigma_round_pp),
            "sigma_occasion_pp": rounded(self.sigma_occasion_pp),
            "method": self.method,
        }


def round_gaps(reports: dict[str, Report], mode: str, metric: str) -> pd.DataFrame:
    """Every campaign's per-round gap of `mode` on `metric`: columns campaign, gap_pp."""
    frames = []
    for name, report in reports.items():
        pairs = by_round(report.runs[report.runs["status"] == "ok"], mode, metric, report.baseline).dropna()
        pairs = pairs[(pairs[report.baseline] > 0) & (pairs[mode] > 0)]
        logs = 100.0 * np.log(pairs[mode].to_numpy(dtype=float) / pairs[report.baseline].to_numpy(dtype=float))
        frames.append(pd.DataFrame({"campaign": name, "gap_pp": logs}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["campaign", "gap_pp"])


def estimate(data: pd.DataFrame, mode: str, metric: str) -> Components | None:
    """REML estimates of the two components; the ANOVA (method of moments) ones where REML does
    not converge. None with fewer than two campaigns of two rounds each."""
    sizes = data.groupby("campaign")["gap_pp"].size()
    if (sizes >= 2).sum() < 2:
        return None
    data = data[data["campaign"].isin(sizes[sizes >= 2].index)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            fit = smf.mixedlm("gap_pp ~ 1", data, groups=data["campaign"]).fit(reml=True)
        occasion, within, method = float(fit.cov_re.iloc[0, 0]), float(fit.scale), "REML (statsmodels MixedLM)"
    except (ConvergenceWarning, np.linalg.LinAlgError, ValueError):
        occasion, within, method = *_anova(data), "ANOVA (REML did not converge)"
    return Components(
        mode, metric, int(data["campaign"].nunique()), len(data), math.sqrt(max(within, 0.0)), math.sqrt(max(occasion, 0.0)), method
    )


def _anova(data: pd.DataFrame) -> tuple[float, float]:
    """One-way random effects, unbalanced: (sigma^2 between, sigma^2 within) by the method of moments."""
    groups = [g["gap_pp"].to_numpy(dtype=float) for _, g in data.groupby("campaign")]
    n, k = sum(len(g) for g in groups), len(groups)
    grand = float(np.concatenate(groups).mean())
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups) / (n - k)
    between = sum(len(g) * (float(g.mean()) - grand) ** 2 for g in groups) / (k - 1)
    n0 = (n - sum(len(g) ** 2 for g in groups) / n) / (k - 1)
    return max((between - within) / n0, 0.0), within


def costs(report: Report) -> tuple[float | None, float | None]:
    """(seconds a campaign spends outside its rounds, seconds per round), from its records: the
    rounds' span divided by their number, and the rest of the campaign's wall time (from lab.json
    or the manifest's start to the manifest's finish)."""
    times = []
    for run in report.campaign.runs:
        start, end = _moment(run.meta.get("started_at")), _moment(run.meta.get("finished_at"))
        if start is not None and end is not None:
            times.append((start, end))
    manifest = report.campaign.manifest
    lab = report.campaign.path.parent / "lab.json"
    began = _moment(_read_started(lab)) or _moment(manifest.get("started_at"))
    ended = _moment(manifest.get("finished_at"))
    if not times or began is None or ended is None:
        return None, None
    first, last = min(t[0] for t in times), max(t[1] for t in times)
    per_round = (last - first) / len(times)
    return max((ended - began) - (last - first), 0.0), per_round


def allocation(c_occasion_s: float, c_round_s: float, c: Components) -> float | None:
    """Kalibera & Jones's rounds per occasion; None when no occasion effect was seen (then one long campaign is best)."""
    if c.sigma_occasion_pp <= 0 or c_round_s <= 0:
        return None
    return math.sqrt((c_occasion_s / c_round_s) * (c.sigma_round_pp**2 / c.sigma_occasion_pp**2))


def table(reports: dict[str, Report]) -> list[dict[str, Any]]:
    """Per mode on the primary metric: the components, the costs and the rounds per occasion they call for."""
    first = next(iter(reports.values()))
    modes = sorted({c.mode for r in reports.values() for c in r.primary()})
    spent = [costs(r) for r in reports.values()]
    fixed = [c for c, _ in spent if c is not None]
    rounds = [r for _, r in spent if r is not None]
    c_occasion = float(np.mean(fixed)) if fixed else None
    c_round = float(np.mean(rounds)) if rounds else None
    found = []
    for mode in modes:
        c = estimate(round_gaps(reports, mode, first.primary_metric), mode, first.primary_metric)
        if c is None:
            continue
        best = allocation(c_occasion, c_round, c) if c_occasion is not None and c_round is not None else None
        found.append(
            c.as_json()
            | {
                "c_occasion_s": rounded(c_occasion),
                "c_round_s": rounded(c_round),
                "rounds_per_occasion": None if best is None else max(2, math.ceil(best)),
            }
        )
    return found


def _moment(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _read_started(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text()).get("started_at")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
