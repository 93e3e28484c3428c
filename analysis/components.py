"""Variance components of a gap over occasions, and how to spend a budget on them.

Campaigns of one profile on different occasions give, per mode, each round's gap (100 x the
log-ratio to the baseline, pp). A random-intercept model (REML, statsmodels' MixedLM: gap ~ 1,
one group per campaign) splits its spread into the rounds' (sigma_round, within a campaign) and
the occasions' (sigma_occasion, the campaign's own level). Kalibera & Jones (2013, "Rigorous
benchmarking in reasonable time") then give the rounds per occasion that buy the most precision
for a fixed time: r* = sqrt((c_occasion / c_round) * (sigma_round^2 / sigma_occasion^2)), with
c_occasion the fixed cost of a campaign (setting up, verifying, reporting) and c_round the cost
of one round, both read from the campaigns' own records.

Within one campaign whose rounds ran in blocks, each begun by re-doing one level of the machine's
state (a profile's block_rounds / block_resets: the page cache, the Docker engine, its bridge),
`levels` asks which level re-draws the gap: a variance-components model (REML, statsmodels
MixedLM, every round in one group) with one component per level, whose draws change when that
level is re-done (a network reset restarts the engine too: both change), one for the block
itself (time passing and every reset), and the rounds' residual.

usage: python -m analysis.components CAMPAIGN [--json FILE]   (the levels of a blocked campaign)
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from analysis.model import Report, epoch
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
        start, end = epoch(run.meta.get("started_at")), epoch(run.meta.get("finished_at"))
        if start is not None and end is not None:
            times.append((start, end))
    manifest = report.campaign.manifest
    lab = report.campaign.path.parent / "lab.json"
    began = epoch(_read_started(lab)) or epoch(manifest.get("started_at"))
    ended = epoch(manifest.get("finished_at"))
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


# A reset re-does its own level and the ones it contains (reset.yml: network restarts dockerd).
CONTAINS = {"caches": ("caches",), "dockerd": ("dockerd",), "network": ("network", "dockerd"), "none": ()}


def level_frame(report: Report, mode: str, metric: str) -> pd.DataFrame:
    """Each ok round's gap of `mode` (pp), its block and, per level, which draw of that level it
    saw (epoch_<level>: how many resets of it came before the round's block)."""
    pairs = by_round(report.runs[report.runs["status"] == "ok"], mode, metric, report.baseline).dropna()
    pairs = pairs[(pairs[report.baseline] > 0) & (pairs[mode] > 0)]
    blocks = {int(run.meta.get("round", 0)): run.meta.get("block") or {} for run in report.campaign.runs}
    began = {int(b.get("index", 0)): b.get("began_with") for b in blocks.values()}
    frame = pd.DataFrame(
        {
            "round": pairs.index.astype(int),
            "gap_pp": 100.0 * np.log(pairs[mode].to_numpy(dtype=float) / pairs[report.baseline].to_numpy(dtype=float)),
            "block": [int(blocks.get(int(r), {}).get("index", 0)) for r in pairs.index],
        }
    )
    for level in ("caches", "dockerd", "network"):
        counts, seen = {}, 0
        for index in sorted(began):
            seen += level in CONTAINS.get(str(began[index]), ())
            counts[index] = seen
        frame[f"epoch_{level}"] = frame["block"].map(counts).fillna(0).astype(int)
    return frame


def levels(report: Report) -> list[dict[str, Any]]:
    """Per primary mode: the standard deviation each level's re-draw adds to a round's gap (pp),
    the block's, the rounds' own, and how many times each level was re-done."""
    found: list[dict[str, Any]] = []
    for c in report.primary():
        frame = level_frame(report, c.mode, c.metric)
        if frame["block"].nunique() < 3:
            continue
        resets = {level: int(frame[f"epoch_{level}"].max()) for level in ("caches", "dockerd", "network")}
        parts = {"block": "0 + C(block)"} | {level: f"0 + C(epoch_{level})" for level, n in resets.items() if n > 0}
        frame = frame.assign(group=1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = smf.mixedlm("gap_pp ~ 1", frame, groups="group", re_formula="0", vc_formula=parts).fit(reml=True)
            sds = {name: math.sqrt(max(float(v), 0.0)) for name, v in zip(fit.model.exog_vc.names, fit.vcomp, strict=True)}
            within, converged = math.sqrt(max(float(fit.scale), 0.0)), bool(fit.converged)
        except (np.linalg.LinAlgError, ValueError) as exc:
            found.append({"mode": c.mode, "metric": c.metric, "error": f"REML failed: {exc}"})
            continue
        found.append(
            {
                "mode": c.mode,
                "metric": c.metric,
                "rounds": len(frame),
                "blocks": int(frame["block"].nunique()),
                "resets": resets,
                "sd_pp": {name: rounded(v) for name, v in sds.items()} | {"round": rounded(within)},
                "method": "REML variance components (statsmodels MixedLM)" + ("" if converged else ", not converged"),
            }
        )
    return found


def levels_text(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        if "error" in row:
            lines.append(f"{row['mode']}: {row['error']}")
            continue
        sds = ", ".join(f"{name} {value:.2f}" for name, value in row["sd_pp"].items())
        done = ", ".join(f"{level} x{n}" for level, n in row["resets"].items())
        lines.append(f"{row['mode']} ({row['metric']}, {row['rounds']} rounds in {row['blocks']} blocks; resets {done}): sd pp: {sds}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from analysis.model import build_or_say
    from analysis.report import publish_json

    parser = argparse.ArgumentParser(
        prog="python -m analysis.components", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    args = parser.parse_args(argv)
    report = build_or_say("components", args.campaign)
    if report is None:
        return 2
    rows = levels(report)
    if not rows:
        print(
            f"components: {args.campaign}: no mode with rounds in 3 blocks or more (a profile with block_rounds and block_resets)",
            file=sys.stderr,
        )
        return 2
    print(levels_text(rows), end="")
    if args.json and not publish_json(args.json, {"campaign": report.campaign_id, "levels": rows}, "components"):
        return 2
    return 0


def _read_started(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text()).get("started_at")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


if __name__ == "__main__":
    raise SystemExit(main())
