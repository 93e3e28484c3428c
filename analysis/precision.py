"""The gap between two modes over paired rounds, its 95% CI, and what the campaign can resolve.

Per round r the two modes give a ratio m_r / b_r; the estimate is the geometric mean of those
ratios and the interval a Student t interval on their logarithms (n - 1 degrees of freedom),
mapped back to percent. Why this method: with 3-30 pairs a percentile bootstrap is too narrow
(it covers ~90% at n = 8, see `coverage` below and tests/test_precision.py), while the t
interval on log-ratios keeps its 95% on data like the lab's (ratios close to 1, noise roughly
normal in log space). gap_pct is positive when the mode is worse than the baseline, whatever
the metric's direction.

Also: the minimum detectable effect at 80% power for this many pairs, and how many pairs would
bring the CI's half-width down to a target. Used by the report and by the lab's stopping rule,
which looks only at widths, never at the estimate.

The stopping rule is Stein's two-stage procedure (Stein 1945): the first `stage_one` rounds
give the spread s0; the campaign then runs N = max(stage_one, ceil((t * s0 / d)^2)) rounds in
all (t at stage_one - 1 degrees of freedom, d the target half-width in log space), and the
final interval is the mean of all N log-ratios +- t * s0 / sqrt(N). Its coverage is exact for
normal noise whatever the spread: N depends only on s0, which is independent of the rounds'
mean. The rule it replaced (stop at the first n >= 6 whose own t interval is narrow enough)
stopped when the sample sd was small by chance: 92.5-93.8% coverage at the profiles' spreads
(`procedure_coverage`, tests/unit/test_precision.py).

At the rounds' speeds (a profile's `adjust_for_speed`): some gaps move with the machine's speed,
which drifts by 20-35% between the rounds of one campaign (the bridge's steps: docker-proxy's
CPU per request scales less than the service's). Each round's log-ratio is then regressed on
that round's speed (the other modes' mean log CPU per request, `others_level`); the estimate is
still the plain mean of the log-ratios (the fit is centred on the rounds' own mean speed), and
the interval's spread is the regression's residual spread (one degree of freedom fewer). What
it covers is the gap at the speeds the rounds ran at (their average over the campaign's
rounds), not over speeds the machine might have had: a campaign's interval is about its own
occasion either way, and the pool across occasions (analysis.occasions) is what speaks for
the machine. Stein's rule keeps its exactness: the residual spread of the first stage is
independent of the mean (`procedure_coverage` with `slope`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

CONFIDENCE = 0.95
POWER = 0.80


# Student's t through scipy.special, not scipy.stats: the same functions (scipy.stats' t calls
# them), without the ~0.6 s that importing scipy.stats adds to every process that checks a
# campaign's precision (the lab does once per round, in a fresh Ansible worker).
def t_quantile(q: float, df: Any) -> Any:
    return special.stdtrit(df, q)


def t_sf(x: float, df: float) -> float:
    return float(special.stdtr(df, -x))


@dataclass(frozen=True)
class Gap:
    gap_pct: float
    ci95: tuple[float, float] | None
    p_value: float | None
    n_pairs: int
    sd_log: float | None  # standard deviation of the per-round log-ratios
    mean_log: float = 0.0  # their mean
    # Rounds of the first stage whose spread made the interval (Stein's rule); None: a t interval over all.
    stage_one: int | None = None
    # The spread is what the rounds' speeds leave (adjusted for speed): sd_log is then the residual sd.
    speed_adjusted: bool = False

    @property
    def half_width_pp(self) -> float | None:
        return None if self.ci95 is None else (self.ci95[1] - self.ci95[0]) / 2

    @property
    def significant(self) -> bool:
        return self.ci95 is not None and (self.ci95[0] > 0 or self.ci95[1] < 0)

    def mde_pct(self) -> float | None:
        """Smallest true gap this many pairs detect with 80% power at alpha 5% (two-sided)."""
        return mde_pct(self.sd_log, self.n_pairs)


def _to_pct(log_ratio: float, higher_is_better: bool) -> float:
    ratio = math.exp(log_ratio)
    return (1.0 - ratio) * 100.0 if higher_is_better else (ratio - 1.0) * 100.0


# Fewest pairs (and first-stage rounds) for a regression on the speed: two degrees of freedom left.
MIN_ADJUSTED_PAIRS = 4


def paired_gap(
    baseline: Sequence[float],
    mode: Sequence[float],
    higher_is_better: bool = False,
    stage_one: int | None = None,
    level: Sequence[float] | np.ndarray | None = None,
) -> Gap | None:
    """The mode's gap to the baseline over paired rounds (same index = same round, in round order).

    stage_one: the campaign stopped by Stein's rule with this many first-stage rounds; the CI
    and p-value then come from the first stage's spread (stage_one - 1 degrees of freedom).
    With fewer pairs than that (a budget or failures cut the first stage short) the number of
    rounds never depended on the data, and the plain t interval is the honest one.
    level: per round (aligned with the pairs), the machine's speed (`others_level`): the spread
    is then the residual one after regressing the log-ratios on its log (one degree of freedom
    fewer), unless too few pairs (MIN_ADJUSTED_PAIRS) or a speed that never moved leave no fit.
    """
    b, m = np.asarray(baseline, dtype=float), np.asarray(mode, dtype=float)
    x = None if level is None else np.asarray(level, dtype=float)
    if x is not None and len(x) != len(b):
        raise ValueError(f"level has {len(x)} values for {len(b)} pairs")
    keep = np.isfinite(b) & np.isfinite(m) & (b > 0) & (m > 0)
    if x is not None:
        keep &= np.isfinite(x) & (x > 0)
    b, m = b[keep], m[keep]
    n = len(b)
    if n == 0:
        return None
    logs = np.log(m / b)
    mean = float(logs.mean())
    estimate = _to_pct(mean, higher_is_better)
    if n < 2:
        return Gap(estimate, None, None, n, None, mean)
    two_stage = stage_one is not None and stage_one >= 2 and n >= stage_one
    head = stage_one if two_stage and stage_one else n
    speed = None if x is None else np.log(x[keep])
    adjusted = speed is not None and head >= MIN_ADJUSTED_PAIRS and bool(np.ptp(speed[:head]) > 0) and bool(np.ptp(speed) > 0)
    if adjusted and speed is not None:
        sd = residual_sd(logs, speed)
        spread, df = residual_sd(logs[:head], speed[:head]), head - 2
    else:
        sd = float(logs.std(ddof=1))
        spread, df = (float(logs[:head].std(ddof=1)), head - 1)
    used = stage_one if two_stage else None
    if spread == 0.0:
        return Gap(estimate, (estimate, estimate), 1.0 if mean == 0 else 0.0, n, sd, mean, used, adjusted)
    half = float(t_quantile(0.5 + CONFIDENCE / 2, df)) * spread / math.sqrt(n)
    ends = sorted((_to_pct(mean - half, higher_is_better), _to_pct(mean + half, higher_is_better)))
    p_value = float(2 * t_sf(abs(mean) / (spread / math.sqrt(n)), df))
    return Gap(estimate, (ends[0], ends[1]), p_value, n, sd, mean, used, adjusted)


def residual_sd(y: np.ndarray, x: np.ndarray) -> float:
    """The residual standard deviation of y regressed on x by least squares (n - 2 degrees of freedom)."""
    xc, yc = x - x.mean(), y - y.mean()
    slope = float((xc * yc).sum() / (xc * xc).sum())
    return float(math.sqrt(max(float(((yc - slope * xc) ** 2).sum()), 0.0) / (len(y) - 2)))


def others_level(rounds: Sequence[Mapping[str, float]], pair: tuple[str, str]) -> list[float] | None:
    """The machine's speed in each of `rounds` (each a mode's value by name, in round order): the
    geometric mean over the modes other than `pair` that have a positive value in every one of
    them (so neither side's own noise is in it); None when no such mode exists."""
    if not rounds:
        return None
    names = set(rounds[0]).intersection(*rounds[1:]) - set(pair)
    others = sorted(name for name in names if all(float(r[name]) > 0 for r in rounds))
    if not others:
        return None
    return [math.exp(sum(math.log(float(r[name])) for name in others) / len(others)) for r in rounds]


def rung_instances(rungs: Sequence[str], twin_of: Mapping[str, str | None], modes: Sequence[str]) -> dict[str, list[str]]:
    """Each rung that has twins among `modes` (twin_of: a mode's twin_of, modes.yml) with them:
    {rung: [rung, twin, ...]}; a rung without a twin is not listed."""
    found = {}
    for rung in rungs:
        twins = sorted(m for m in modes if twin_of.get(m) == rung and m not in rungs)
        if twins:
            found[rung] = [rung, *twins]
    return found


def rung_rounds(rounds: Sequence[Mapping[str, float]], instances: Mapping[str, Sequence[str]]) -> list[dict[str, float]]:
    """The rounds with each listed rung's value the geometric mean over its instances (the rung's
    mode and its twins, each a fresh process: the rung's instance noise averaged) and the twins
    gone; a rung whose instances are not all there with a positive value is missing that round."""
    twins = {m for names in instances.values() for m in names[1:]}
    found = []
    for values in rounds:
        row = {m: float(v) for m, v in values.items() if m not in twins and m not in instances}
        for rung, names in instances.items():
            if all(float(values.get(m) or 0) > 0 for m in names):
                row[rung] = math.exp(sum(math.log(float(values[m])) for m in names) / len(names))
        found.append(row)
    return found


def stein_rounds(
    sd0: float | None, stage_one: int, target_pp: float, mean_log: float = 0.0, limit: int = 100_000, speed_adjusted: bool = False
) -> int | None:
    """Rounds in all that Stein's rule asks for after a first stage of `stage_one` rounds with
    log-ratio spread sd0 and mean mean_log, for a final half-width of at most target_pp points
    (speed_adjusted: sd0 is a residual spread, with one degree of freedom fewer)."""
    if sd0 is None or stage_one < 2 or target_pp <= 0:
        return None
    target = math.asinh(target_pp / (100.0 * math.exp(mean_log)))
    t0 = float(t_quantile(0.5 + CONFIDENCE / 2, stage_one - (2 if speed_adjusted else 1)))
    return int(min(limit, max(stage_one, math.ceil((t0 * sd0 / target) ** 2))))


def procedure_coverage(
    sd_log: float,
    target_pp: float,
    stage_one: int,
    max_rounds: int,
    true_gap_pct: float = 0.0,
    trials: int = 20_000,
    seed: int = 1,
    residuals: Sequence[float] | None = None,
    slope: float = 0.0,
    speed_sd: float = 0.0,
    speed_adjusted: bool = False,
) -> tuple[float, float]:
    """The whole stopping procedure simulated: (share of final CIs holding the true gap, mean rounds).

    Each synthetic campaign draws rounds (normal log-ratio noise of sd `sd_log`, or resampled
    `residuals`), runs Stein's first stage of `stage_one` rounds, continues to the N it asks for
    (at most max_rounds: the budget), and computes the interval exactly as the report does
    (paired_gap with stage_one). slope, speed_sd: each round's machine speed (log, sd speed_sd,
    centred on 0) moves its log-ratio by slope times it. speed_adjusted: the procedure at the
    rounds' speeds (residual spreads), judged on what it claims to cover: the true gap at the
    mean speed of the N rounds run; otherwise on the true gap at the mean speed of all rounds.
    """
    rng = np.random.default_rng(seed)
    truth = math.log1p(true_gap_pct / 100.0)
    speed = rng.normal(0.0, speed_sd, size=(trials, max_rounds)) if speed_sd > 0 else np.zeros((trials, max_rounds))
    logs = _synthetic_logs(rng, truth, sd_log, residuals, (trials, max_rounds)) + slope * speed
    first, x0 = logs[:, :stage_one], speed[:, :stage_one]
    if speed_adjusted:
        xc = x0 - x0.mean(axis=1, keepdims=True)
        yc = first - first.mean(axis=1, keepdims=True)
        fitted = (xc * yc).sum(axis=1, keepdims=True) / np.maximum((xc * xc).sum(axis=1, keepdims=True), 1e-300) * xc
        s0 = np.sqrt(((yc - fitted) ** 2).sum(axis=1) / (stage_one - 2))
        df = stage_one - 2
    else:
        s0, df = first.std(axis=1, ddof=1), stage_one - 1
    target = np.arcsinh(target_pp / (100.0 * np.exp(first.mean(axis=1))))
    t0 = float(t_quantile(0.5 + CONFIDENCE / 2, df))
    wanted = np.ceil((t0 * s0 / np.maximum(target, 1e-12)) ** 2)
    rounds = np.clip(wanted, stage_one, max_rounds).astype(int)
    kept = np.arange(1, max_rounds + 1)[None, :] <= rounds[:, None]
    mean = (logs * kept).sum(axis=1) / rounds
    half = t0 * s0 / np.sqrt(rounds)
    covered = truth + slope * (speed * kept).sum(axis=1) / rounds if speed_adjusted else truth
    return float(np.mean((mean - half <= covered) & (covered <= mean + half))), float(rounds.mean())


def _synthetic_logs(
    rng: np.random.Generator, truth: float, sd_log: float, residuals: Sequence[float] | None, shape: tuple[int, int]
) -> np.ndarray:
    """Per-round log-ratios of synthetic campaigns: the truth plus normal noise of sd `sd_log`, or
    plus a real campaign's centred residuals drawn with replacement."""
    if residuals is None:
        return rng.normal(truth, sd_log, size=shape)
    pool = np.asarray(residuals, dtype=float)
    return truth + rng.choice(pool - pool.mean(), size=shape, replace=True)


def mde_pct(sd_log: float | None, n: int) -> float | None:
    if sd_log is None or n < 2:
        return None
    t_alpha = t_quantile(0.5 + CONFIDENCE / 2, n - 1)
    t_beta = t_quantile(POWER, n - 1)
    return float((math.exp((t_alpha + t_beta) * sd_log / math.sqrt(n)) - 1.0) * 100.0)


def pairs_for_half_width(sd_log: float | None, target_pp: float, mean_log: float = 0.0, limit: int = 100_000) -> int | None:
    """Pairs needed (at this spread) for a 95% CI half-width of at most target_pp points.

    The CI's half-width in points is 100 * exp(mean_log) * sinh(h), h = t * sd / sqrt(n): at a
    gap of +27% it is 1.27 times wider than at 0, so the estimate counts.
    """
    if sd_log is None or target_pp <= 0:
        return None
    if sd_log == 0:
        return 2
    target = math.asinh(target_pp / (100.0 * math.exp(mean_log)))
    n = max(2, math.ceil((1.96 * sd_log / target) ** 2))
    while n < limit and t_quantile(0.5 + CONFIDENCE / 2, n - 1) * sd_log / math.sqrt(n) > target:
        n += 1
    return n


def coverage(
    true_gap_pct: float,
    sd_log: float,
    n: int,
    trials: int,
    method: str,
    seed: int = 1,
    bootstrap_resamples: int = 999,
    residuals: Sequence[float] | None = None,
) -> float:
    """Share of `trials` synthetic campaigns of n paired rounds whose CI holds the true gap.

    The rounds' log-ratios are the truth plus noise: normal with sd `sd_log`, or drawn (with
    replacement) from `residuals`, the centred per-round log-ratios of a real campaign
    (python -m analysis.coverage). method: "t" (this module's interval) or "percentile" (a
    percentile bootstrap of the mean log-ratio, as the report used before).
    """
    rng = np.random.default_rng(seed)
    truth = math.log1p(true_gap_pct / 100.0)
    logs = _synthetic_logs(rng, truth, sd_log, residuals, (trials, n))
    if method == "t":
        half = t_quantile(0.5 + CONFIDENCE / 2, n - 1) * logs.std(axis=1, ddof=1) / math.sqrt(n)
        mean = logs.mean(axis=1)
        return float(np.mean((mean - half <= truth) & (truth <= mean + half)))
    if method == "percentile":
        picks = rng.integers(0, n, size=(trials, bootstrap_resamples, n))
        means = np.take_along_axis(logs[:, None, :].repeat(bootstrap_resamples, axis=1), picks, axis=2).mean(axis=2)
        lo, hi = np.percentile(means, [2.5, 97.5], axis=1)
        return float(np.mean((lo <= truth) & (truth <= hi)))
    raise ValueError(f"unknown method {method!r}: t or percentile")


def width_rule_coverage(
    sd_log: float, target_pp: float, minimum: int, max_rounds: int, trials: int = 20_000, seed: int = 7
) -> tuple[float, float]:
    """The rule Stein's replaced, simulated whole: stop at the first n >= minimum whose own t
    interval is no wider than target_pp (or at max_rounds); (coverage, mean rounds). Kept to
    show why it was replaced."""
    logs = np.random.default_rng(seed).normal(0.0, sd_log, size=(trials, max_rounds))
    n = np.arange(1, max_rounds + 1)
    mean = np.cumsum(logs, axis=1) / n
    var = (np.cumsum(logs**2, axis=1) - n * mean**2) / np.maximum(n - 1, 1)
    half = t_quantile(0.5 + CONFIDENCE / 2, np.maximum(n - 1, 1)) * np.sqrt(np.maximum(var, 0)) / np.sqrt(n)
    stop = ((100 * np.sinh(half) <= target_pp) & (n >= minimum)) | (n == max_rounds)
    at = stop.argmax(axis=1)
    rows = np.arange(trials)
    return float(np.mean(np.abs(mean[rows, at]) <= half[rows, at])), float(np.mean(at + 1))
