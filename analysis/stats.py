"""Every statistic of the report, defined once.

Per run: throughput_rps, latency percentiles, error_rate, cpu_s_per_request.
Between a mode and the baseline, over the rounds where both have an ok run (runs of one
round stay paired): each side's mean, gap_pct (positive always means "this mode is worse"),
a bootstrap CI resampling rounds, and a paired permutation test. With every round complete
these means are the means of all ok runs.
"""

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis.load import Campaign

BASELINE = "native"
AA_MODE = "native_b"
METRICS = ("throughput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "cpu_s_per_request")
HIGHER_IS_BETTER = {"throughput_rps"}
ALPHA = 0.05
BOOTSTRAP_RESAMPLES = 9_999
SEED = 20230605
MIN_ROUNDS_WARNING = 5
ERROR_RATE_WARNING = 0.01
K6_CPU_WARNING = 0.80


def runs_frame(campaign: Campaign) -> pd.DataFrame:
    """One row per run (ok or not), the per-run metrics computed for the usable ones."""
    rows = []
    for run in campaign.runs:
        meta, points = run.meta, run.points
        row: dict[str, Any] = {
            "campaign": campaign.manifest["campaign_id"],
            "run": run.name,
            "mode": meta["mode"],
            "round": int(meta["round"]),
            "order": int(meta.get("order") or int(run.name.split("_")[0])),
            "status": "ok" if run.problem is None else "left_out",
            "problem": run.problem,
            "requests": np.nan,
            "throughput_rps": np.nan,
            "latency_p50_ms": np.nan,
            "latency_p95_ms": np.nan,
            "latency_p99_ms": np.nan,
            "error_rate": np.nan,
            "service_cpu_s": meta.get("service_cpu_s"),
            "k6_cpu_s": meta.get("k6_cpu_s"),
            "cpu_s_per_request": np.nan,
            "k6_core_share": np.nan,
        }
        if run.problem is None and points is not None:
            p50, p95, p99 = (points.percentiles_ms.get(q, np.nan) for q in (50, 95, 99))
            window = float(meta["measure_duration_s"]) + float(meta.get("warmup_duration_s") or 0)
            row |= {
                "requests": points.requests,
                "throughput_rps": points.requests / float(meta["measure_duration_s"]),
                "latency_p50_ms": p50,
                "latency_p95_ms": p95,
                "latency_p99_ms": p99,
                "error_rate": points.failed / points.failed_points if points.failed_points else 0.0,
                # The service's CPU is read around the whole k6 run (warm-up + measure), so it is
                # divided by the requests of that same window.
                "cpu_s_per_request": (meta["service_cpu_s"] / points.requests_all_phases)
                if meta.get("service_cpu_s") is not None and points.requests_all_phases
                else np.nan,
                "k6_core_share": (meta["k6_cpu_s"] / window) if meta.get("k6_cpu_s") is not None and window else np.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows).sort_values("order", kind="stable").reset_index(drop=True)


def gap_pct(metric: str, baseline: Any, value: Any) -> Any:
    """Percent by which `value` is worse than `baseline` (negative: better)."""
    if metric in HIGHER_IS_BETTER:
        return (baseline - value) / baseline * 100.0
    return (value - baseline) / baseline * 100.0


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

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "metric": self.metric,
            "baseline_value": _round(self.baseline_value),
            "value": _round(self.value),
            "gap_pct": _round(self.gap_pct),
            "ci95": [_round(self.ci95[0]), _round(self.ci95[1])] if self.ci95 else None,
            "p_value": _round(self.p_value, 6) if self.p_value is not None else None,
            "n_pairs": self.n_pairs,
            "significant": self.significant,
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def by_round(ok: pd.DataFrame, mode: str, metric: str, baseline: str = BASELINE) -> pd.DataFrame:
    """The baseline's and `mode`'s value per round (NaN where that run is missing or failed)."""
    wide = ok.pivot_table(index="round", columns="mode", values=metric, aggfunc="mean")
    return wide.reindex(columns=[baseline, mode]).dropna(how="all")


def compare(ok: pd.DataFrame, mode: str, metric: str, baseline: str = BASELINE) -> Comparison | None:
    """Compare over the rounds where both modes have an ok run: every number here is paired."""
    rounds = by_round(ok, mode, metric, baseline)
    pairs = rounds.dropna()
    if pairs.empty:
        return None
    b, m = pairs[baseline].to_numpy(), pairs[mode].to_numpy()
    ci = gap_ci(metric, b, m, paired=True)
    p_value: float | None = None
    if len(pairs) >= 2:

        def mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> Any:
            return np.mean(x - y, axis=axis)

        test = stats.permutation_test(
            (m, b),
            mean_difference,
            permutation_type="samples",
            vectorized=True,
            n_resamples=BOOTSTRAP_RESAMPLES,
            alternative="two-sided",
            rng=np.random.default_rng(SEED),
        )
        p_value = float(test.pvalue)
    significant = bool(p_value is not None and p_value < ALPHA and ci is not None and (ci[0] > 0 or ci[1] < 0))
    baseline_value, value = float(b.mean()), float(m.mean())
    return Comparison(mode, metric, baseline_value, value, gap_pct(metric, baseline_value, value), ci, p_value, len(pairs), significant)


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


def comparisons(ok: pd.DataFrame, baseline: str = BASELINE) -> list[Comparison]:
    modes = [mode for mode in ok["mode"].drop_duplicates() if mode != baseline]
    found = (compare(ok, mode, metric, baseline) for mode in modes for metric in METRICS)
    return [c for c in found if c is not None]


def noise_floor(found: list[Comparison]) -> dict[str, float]:
    """Per metric, how big a gap two identical deployments showed: the far end of the A/A CI."""
    floor = {}
    for c in found:
        if c.mode == AA_MODE:
            ends = [abs(c.gap_pct)] + ([abs(c.ci95[0]), abs(c.ci95[1])] if c.ci95 else [])
            floor[c.metric] = max(ends)
    return floor
