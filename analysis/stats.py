"""Every statistic of the report, defined once.

Per run and mode: throughput_rps, latency percentiles, error_rate, cpu_us_per_request (service
CPU per request) and service_core_busy. A concurrent round gives one row per mode, all over
the same window. Between a mode and the baseline, over the rounds where both have an ok run
(paired): each side's mean, gap_pct (positive always means "this mode is worse"; the
geometric mean of the per-round ratios) with a Student t CI on the log-ratios and its p-value
(analysis.precision), the CI's half-width, the minimum detectable effect at 80% power, and
the rounds a 1 pp half-width would need.
"""

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Campaign, Run
from analysis.precision import others_level, paired_gap, pairs_for_half_width, rung_rounds

# The baseline of the functions' defaults (a campaign's own is in its manifest: analysis.schema).
BASELINE = "native"
METRICS = ("throughput_rps", "latency_gmean_ms", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cpu_us_per_request")
TARGET_HALF_WIDTH_PP = 1.0
BUSY_CORE_WARNING = 0.80
HIGHER_IS_BETTER = {"throughput_rps"}
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 9_999
SEED = 20230605
MIN_ROUNDS_WARNING = 5
ERROR_RATE_WARNING = 0.01
K6_CPU_WARNING = 0.80
# The machine's speed in a round: the baseline's CPU per request (drifts ±15% here). Whether a
# mode's gap depends on it needs this many paired rounds.
SPEED_METRIC = "cpu_us_per_request"
MIN_SPEED_ROUNDS = 8


def runs_frame(campaign: Campaign) -> pd.DataFrame:
    """One row per run (ok or not), the per-run metrics computed for the usable ones."""
    rows = []
    for run in campaign.runs:
        if run.concurrent:
            rows.extend(_concurrent_rows(campaign, run))
            continue
        meta, points = run.meta, run.points
        row: dict[str, Any] = {
            "campaign": campaign.manifest["campaign_id"],
            "run": run.name,
            "mode": meta["mode"],
            "round": int(meta["round"]),
            "order": run.order,
            "status": "ok" if run.problem is None else "left_out",
            "problem": run.problem,
            "requests": np.nan,
            "throughput_rps": np.nan,
            "latency_gmean_ms": np.nan,
            "latency_p50_ms": np.nan,
            "latency_p95_ms": np.nan,
            "latency_p99_ms": np.nan,
            "error_rate": np.nan,
            "service_cpu_s": meta.get("service_cpu_s"),
            "k6_cpu_s": meta.get("k6_cpu_s"),
            "cpu_s_per_request": np.nan,
            "cpu_us_per_request": np.nan,
            "k6_core_share": np.nan,
            "service_core_busy": np.nan,
            "position": np.nan,
            "busy_us_per_request": np.nan,
            "extra_share_pct": np.nan,
        }
        if run.problem is None and points is not None:
            p50, p95, p99 = (points.percentiles_ms.get(q, np.nan) for q in (50, 95, 99))
            window = float(meta["measure_duration_s"]) + float(meta.get("warmup_duration_s") or 0)
            row |= {
                "requests": points.requests,
                "throughput_rps": points.requests / float(meta["measure_duration_s"]),
                "latency_gmean_ms": np.nan if points.gmean_ms is None else points.gmean_ms,
                "latency_p50_ms": p50,
                "latency_p95_ms": p95,
                "latency_p99_ms": p99,
                "error_rate": points.failed / points.failed_points if points.failed_points else 0.0,
                # The service's CPU is read around the whole k6 run (warm-up + measure), so it is
                # divided by the requests served (not failed) in that same window.
                "cpu_s_per_request": (meta["service_cpu_s"] / points.served_all_phases)
                if meta.get("service_cpu_s") is not None and points.served_all_phases
                else np.nan,
                "k6_core_share": (meta["k6_cpu_s"] / window) if meta.get("k6_cpu_s") is not None and window else np.nan,
                "service_core_busy": (meta["service_cpu_s"] / window) if meta.get("service_cpu_s") is not None and window else np.nan,
            }
            row["cpu_us_per_request"] = row["cpu_s_per_request"] * 1e6
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["order", "position"], kind="stable", na_position="first").reset_index(drop=True)


def _concurrent_rows(campaign: Campaign, run: Run) -> list[dict[str, Any]]:
    """One row per mode of a concurrent round, all over the round's one CPU window."""
    meta = run.meta
    window = float(meta["measure_duration_s"]) + float(meta.get("warmup_duration_s") or 0)
    rows = []
    for position, mode in enumerate(meta["modes"], start=1):
        w = (run.windows or {}).get(mode)
        recorded = (meta.get("per_mode") or {}).get(mode) or {}
        row: dict[str, Any] = {
            "campaign": campaign.manifest["campaign_id"],
            "run": run.name,
            "mode": mode,
            "round": int(meta["round"]),
            "order": run.order,
            "status": "ok" if run.problem is None and w is not None else "left_out",
            "problem": run.problem,
            "position": position,
            "k6_cpu_s": meta.get("k6_cpu_s"),
            "k6_core_share": (meta["k6_cpu_s"] / window) if meta.get("k6_cpu_s") is not None and window else np.nan,
            "service_core_busy": meta.get("service_core_busy", np.nan),
            "busy_us_per_request": recorded.get("busy_us_per_request", np.nan),
            "extra_share_pct": np.nan if w is None or w.extra_share_pct is None else w.extra_share_pct,
        }
        if w is None:
            row |= dict.fromkeys(("requests", *METRICS), np.nan)
            row |= {"error_rate": np.nan, "service_cpu_s": np.nan, "cpu_s_per_request": np.nan, "cpu_us_per_request": np.nan}
        else:
            per_request = w.cpu_s / w.served_requests if w.served_requests else np.nan
            row |= {
                "requests": w.requests,
                "throughput_rps": w.throughput_rps,
                "latency_gmean_ms": np.nan if w.latency_gmean_ms is None else w.latency_gmean_ms,
                "latency_p50_ms": w.latency_ms.get(50, np.nan),
                "latency_p95_ms": w.latency_ms.get(95, np.nan),
                "latency_p99_ms": w.latency_ms.get(99, np.nan),
                "error_rate": w.error_rate,
                "service_cpu_s": w.cpu_s,
                "cpu_s_per_request": per_request,
                "cpu_us_per_request": per_request * 1e6,
            }
        rows.append(row)
    return rows


def gap_pct(metric: str, baseline: Any, value: Any) -> Any:
    """Percent by which `value` is worse than `baseline` (negative: better)."""
    if metric in HIGHER_IS_BETTER:
        return (baseline - value) / baseline * 100.0
    return (value - baseline) / baseline * 100.0


@dataclass
class SpeedDependence:
    """How a gap moves with the machine's speed within a campaign: the per-round log-ratio (pp)
    regressed on the round's speed (pp), so `slope` is the change of the gap in pp for each 1%
    the machine is slower. The speed axis must not contain either side's own noise: with the
    baseline's CPU per request as the axis (until 2026-12-07), the baseline's instance noise sat
    in both axes with opposite signs and made a negative slope out of nothing (cal-r1: the A/A
    twin native_b -0.26 pp per %, CI -0.37 to -0.14; regression to the mean). The axis is the
    round's mean log CPU per request over the *other* modes (independent of both sides), or,
    with no other mode, the mean of the two sides (Bland-Altman: unbiased when both have the
    same noise). `axis` says which; `speed_range` is its range as a CPU per request (µs)."""

    slope: float
    ci95: tuple[float, float]
    p_value: float
    n_pairs: int
    speed_range: tuple[float, float]
    axis: str = "the other modes' mean"

    def as_json(self) -> dict[str, Any]:
        return {
            "slope_pp_per_pct": rounded(self.slope),
            "ci95": [rounded(self.ci95[0]), rounded(self.ci95[1])],
            "p_value": rounded(self.p_value, 6),
            "n_pairs": self.n_pairs,
            "axis": self.axis,
            "speed_range": [rounded(self.speed_range[0]), rounded(self.speed_range[1])],
        }


def speed_dependence(baseline: np.ndarray, mode: np.ndarray, others: np.ndarray | None = None) -> SpeedDependence | None:
    """None below MIN_SPEED_ROUNDS pairs or when the machine never moved. others: per round, the
    geometric mean of the other modes' values (NaN-free, aligned with the pairs), or None."""
    if len(baseline) < MIN_SPEED_ROUNDS:
        return None
    if others is not None and len(others) == len(baseline):
        level, axis = np.asarray(others, dtype=float), "the other modes' mean"
    else:
        level, axis = np.sqrt(baseline * mode), "the two modes' mean"
    x = 100.0 * np.log(level)
    if np.ptp(x) == 0:
        return None
    fit = stats.linregress(x, 100.0 * np.log(mode / baseline))
    half = float(stats.t.ppf(0.975, len(x) - 2)) * float(fit.stderr)
    return SpeedDependence(
        float(fit.slope),
        (float(fit.slope) - half, float(fit.slope) + half),
        float(fit.pvalue),
        len(x),
        (float(level.min()), float(level.max())),
        axis,
    )


def other_modes_level(ok: pd.DataFrame, metric: str, pair: tuple[str, str], rounds: pd.Index) -> np.ndarray | None:
    """Per round in `rounds`, the geometric mean of `metric` over the modes other than `pair`
    that have it in every one of those rounds (analysis.precision.others_level, which the
    stopping rule uses too); None when there is no such mode."""
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean").reindex(rounds)
    records = [{m: float(v) for m, v in row.items() if pd.notna(v)} for _, row in wide.iterrows()]
    level = others_level(records, pair)
    return None if level is None else np.asarray(level, dtype=float)


@dataclass
class Comparison:
    mode: str
    metric: str
    baseline_value: float
    value: float
    gap_pct: float
    ci95: tuple[float, float] | None
    p_value: float | None
    n_pairs: int
    significant: bool
    half_width_pp: float | None = None
    mde_pct: float | None = None
    rounds_for_target: int | None = None
    # primary (the verdict's metric, tested on its own) or secondary (false discovery rate
    # controlled over every secondary comparison: q_value is the Benjamini-Hochberg adjusted p).
    role: str = "primary"
    q_value: float | None = None
    speed: SpeedDependence | None = None
    # The CI is at the rounds' speeds (analysis.precision): its spread is what the speed leaves.
    speed_adjusted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "metric": self.metric,
            "baseline_value": rounded(self.baseline_value),
            "value": rounded(self.value),
            "gap_pct": rounded(self.gap_pct),
            "ci95": [rounded(self.ci95[0]), rounded(self.ci95[1])] if self.ci95 else None,
            "p_value": rounded(self.p_value, 6) if self.p_value is not None else None,
            "n_pairs": self.n_pairs,
            "significant": self.significant,
            "role": self.role,
            "q_value": rounded(self.q_value, 6) if self.q_value is not None else None,
            "ci_half_width_pp": rounded(self.half_width_pp),
            "mde_80_pct": rounded(self.mde_pct),
            f"rounds_for_{TARGET_HALF_WIDTH_PP:g}pp": self.rounds_for_target,
            "speed_dependence": self.speed.as_json() if self.speed else None,
            "ci_at_rounds_speeds": self.speed_adjusted,
        }


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A finite float to `digits` places for JSON; None for missing or non-finite."""
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def by_round(ok: pd.DataFrame, mode: str, metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """The baseline's and `mode`'s value per round (NaN where that run is missing or failed)."""
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean")
    return wide.reindex(columns=[baseline, mode]).dropna(how="all")


def compare(
    ok: pd.DataFrame, mode: str, metric: str, baseline: str = BASELINE, stage_one: int | None = None, speed_adjusted: bool = False
) -> Comparison | None:
    """Compare over the rounds where both modes have an ok run: every number here is paired.

    stage_one: the campaign's rounds were decided by Stein's rule on this metric (its first
    stage's spread makes the CI: analysis.precision). speed_adjusted: the CI at the rounds'
    speeds (the other modes' level as the regressor: analysis.precision)."""
    rounds = by_round(ok, mode, metric, baseline)
    pairs = rounds.dropna()
    pairs = pairs[(pairs[baseline] > 0) & (pairs[mode] > 0)]
    if pairs.empty:
        return None
    b, m = pairs[baseline].to_numpy(), pairs[mode].to_numpy()
    level = other_modes_level(ok, metric, (baseline, mode), pairs.index) if speed_adjusted else None
    gap = paired_gap(b, m, higher_is_better=metric in HIGHER_IS_BETTER, stage_one=stage_one, level=level)
    if gap is None:
        return None
    significant = bool(gap.p_value is not None and gap.p_value < ALPHA and gap.significant)
    return Comparison(
        mode,
        metric,
        float(b.mean()),
        float(m.mean()),
        gap.gap_pct,
        gap.ci95,
        gap.p_value,
        gap.n_pairs,
        significant,
        gap.half_width_pp,
        gap.mde_pct(),
        pairs_for_half_width(gap.sd_log, TARGET_HALF_WIDTH_PP, gap.mean_log),
        speed=speed_dependence(b, m, other_modes_level(ok, metric, (baseline, mode), pairs.index)) if metric == SPEED_METRIC else None,
        speed_adjusted=gap.speed_adjusted,
    )


def undefined_rounds(ok: pd.DataFrame, mode: str, metric: str, baseline: str = BASELINE) -> list[int]:
    """Rounds where both modes have an ok run but no gap exists: a value that is 0 or was not
    measured (a run recorded with service_cpu_s 0). compare() leaves them out; say so."""
    both = ok[ok["mode"].isin([baseline, mode])].groupby("round")["mode"].nunique()
    values = by_round(ok, mode, metric, baseline).reindex(both[both == 2].index)
    defined = (values[baseline] > 0) & (values[mode] > 0)
    return sorted(int(r) for r in values.index[~defined.to_numpy()])


def gap_ci(metric: str, baseline: np.ndarray, mode: np.ndarray, paired: bool = True) -> tuple[float, float] | None:
    """95% percentile bootstrap interval of gap_pct between the two means.

    paired: rounds are resampled whole (a round's runs stay together); otherwise each side's
    runs are resampled on their own (two campaigns). None below 2 values a side.
    """
    if len(baseline) < 2 or len(mode) < 2:
        return None

    def statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> Any:
        return gap_pct(metric, np.mean(x, axis=axis), np.mean(y, axis=axis))

    if np.ptp(baseline) == 0 and np.ptp(mode) == 0:
        value = float(statistic(baseline, mode))
        return (value, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        boot = stats.bootstrap(
            (baseline, mode),
            statistic,
            paired=paired,
            vectorized=True,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(SEED),
        )
    low, high = boot.confidence_interval
    return (float(low), float(high)) if np.isfinite([low, high]).all() else None


def comparisons(
    ok: pd.DataFrame, baseline: str = BASELINE, primary: str | None = None, stage_one: int | None = None, speed_adjusted: bool = False
) -> list[Comparison]:
    """Every mode against the baseline on every metric; the secondary ones (not `primary`)
    significant only at a false discovery rate of ALPHA over all of them. stage_one: the
    primary metric's rounds were decided by Stein's rule (its CI is the rule's);
    speed_adjusted: the primary metric's CIs are at the rounds' speeds."""
    modes = [mode for mode in ok["mode"].drop_duplicates() if mode != baseline]
    found = [
        c
        for c in (
            compare(ok, mode, metric, baseline, *((stage_one, speed_adjusted) if metric == primary else (None, False)))
            for mode in modes
            for metric in METRICS
        )
        if c is not None
    ]
    return control_fdr(found, primary) if primary else found


@dataclass
class Ladder:
    """A decomposition: each rung against the one before it, over the rounds where every rung has
    a value, so the steps' log-ratios add up exactly to the first rung against the last."""

    rungs: list[str]
    metric: str
    steps: list[Comparison]
    total: Comparison
    # A rung's instances when it is more than its own mode (its twins, averaged each round).
    instances: dict[str, list[str]] = field(default_factory=dict)

    @property
    def log_sum_pct(self) -> float:
        """The steps' gaps composed (their log-ratios added): equal to the total's gap."""
        return float(np.expm1(sum(np.log1p(step.gap_pct / 100.0) for step in self.steps)) * 100.0)

    def shares(self) -> list[float | None]:
        """Each step's share of the total, in log space (None when the total is 0)."""
        whole = float(np.log1p(self.total.gap_pct / 100.0))
        return [None if whole == 0 else float(np.log1p(s.gap_pct / 100.0)) / whole for s in self.steps]

    def as_json(self) -> dict[str, Any]:
        def row(c: Comparison, low: str) -> dict[str, Any]:
            return {
                "from": low,
                "to": c.mode,
                "gap_pct": rounded(c.gap_pct),
                "ci95": [rounded(c.ci95[0]), rounded(c.ci95[1])] if c.ci95 else None,
                "ci_half_width_pp": rounded(c.half_width_pp),
                "n_pairs": c.n_pairs,
                "ci_at_rounds_speeds": c.speed_adjusted,
                "speed_slope_pp_per_pct": rounded(c.speed.slope) if c.speed else None,
            }

        steps = [
            row(c, low) | {"share_of_total": rounded(share)} for c, low, share in zip(self.steps, self.rungs, self.shares(), strict=False)
        ]
        return {
            "metric": self.metric,
            "rungs": self.rungs,
            "steps": steps,
            "total": row(self.total, self.rungs[0]),
            "log_sum_pct": rounded(self.log_sum_pct),
            "instances": {rung: self.instances.get(rung, [rung]) for rung in self.rungs},
        }


def ladder(
    ok: pd.DataFrame,
    rungs: list[str],
    metric: str,
    stage_one: int | None = None,
    speed_adjusted: bool = False,
    instances: dict[str, list[str]] | None = None,
) -> Ladder | None:
    """Each adjacent pair of rungs compared (paired log-ratios, the same rounds for every step),
    and the first rung against the last. None with fewer than two rungs or no round holding all.
    speed_adjusted: every CI at the rounds' speeds (the estimates do not change). instances: a
    rung's value in a round is the geometric mean over its mode and twins (rung_instances)."""
    if len(rungs) < 2:
        return None
    if instances:
        ok = rung_frame(ok, metric, instances)
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean").reindex(columns=rungs)
    full = wide.dropna()
    full = full[(full > 0).all(axis=1)]
    if full.empty:
        return None
    rows = ok[ok["round"].isin(full.index)]
    steps = [compare(rows, high, metric, low, stage_one, speed_adjusted) for low, high in zip(rungs, rungs[1:], strict=False)]
    total = compare(rows, rungs[-1], metric, rungs[0], stage_one, speed_adjusted)
    if total is None or any(s is None for s in steps):
        return None
    return Ladder(list(rungs), metric, [s for s in steps if s is not None], total, dict(instances or {}))


def rung_frame(ok: pd.DataFrame, metric: str, instances: dict[str, list[str]]) -> pd.DataFrame:
    """`ok` as (round, mode, metric) rows with each rung of `instances` one row a round, the
    geometric mean over its instances (analysis.precision.rung_rounds), its twins gone."""
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean")
    records = [{m: float(v) for m, v in row.items() if pd.notna(v)} for _, row in wide.iterrows()]
    rows = [
        {"round": r, "mode": m, metric: v}
        for r, values in zip(wide.index, rung_rounds(records, instances), strict=True)
        for m, v in values.items()
    ]
    return pd.DataFrame(rows, columns=["round", "mode", metric])


def control_fdr(found: list[Comparison], primary: str) -> list[Comparison]:
    """Benjamini-Hochberg over the secondary comparisons (scipy's false_discovery_control)."""
    secondary = [c for c in found if c.metric != primary]
    tested = [c for c in secondary if c.p_value is not None]
    q_values = stats.false_discovery_control([c.p_value for c in tested], method="bh") if tested else []
    for c, q in zip(tested, q_values, strict=True):
        c.q_value = float(q)
        c.significant = bool(c.significant and q < ALPHA)
    for c in secondary:
        c.role = "secondary"
        if c.q_value is None:
            c.significant = False
    return found


def noise_floor(found: list[Comparison], aa_modes: frozenset[str]) -> dict[str, float]:
    """Per metric, how big a gap two identical deployments showed: the far end of the A/A CI."""
    floor = {}
    for c in found:
        if c.mode in aa_modes:
            ends = [abs(c.gap_pct)] + ([abs(c.ci95[0]), abs(c.ci95[1])] if c.ci95 else [])
            floor[c.metric] = max(ends)
    return floor
