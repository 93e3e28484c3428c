"""The CI method, checked where the answer is known: coverage, power, and rounds to a target width."""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from analysis.precision import (
    coverage,
    mde_pct,
    paired_gap,
    pairs_for_half_width,
    procedure_coverage,
    stein_rounds,
    t_quantile,
    t_sf,
    width_rule_coverage,
)

ROOT = Path(__file__).resolve().parents[2]

# Per-round spread of the log-ratio seen in the lab's concurrent A/A rounds (order 0.5-1%).
SD = 0.008


@pytest.mark.parametrize("df", [1, 2, 14, 29, 151, 10_000])
def test_the_t_distribution_from_scipy_special_is_scipy_stats_own(df: int) -> None:
    for q in (0.8, 0.975, 0.995):
        assert t_quantile(q, df) == pytest.approx(stats.t.ppf(q, df), rel=1e-12)
    for x in (0.0, 0.5, 2.1, 6.0):
        assert t_sf(x, df) == pytest.approx(stats.t.sf(x, df), rel=1e-9, abs=1e-300)
    many = np.array([1, 14, 151])
    assert np.allclose(t_quantile(0.975, many), stats.t.ppf(0.975, many), rtol=1e-12)


@pytest.mark.parametrize("n", [4, 8, 20])
def test_the_t_interval_on_log_ratios_covers_95_percent(n: int) -> None:
    assert coverage(1.0, SD, n, trials=6000, method="t", seed=n) == pytest.approx(0.95, abs=0.012)


def test_a_percentile_bootstrap_would_cover_less_with_few_rounds() -> None:
    assert coverage(1.0, SD, 4, trials=1500, method="percentile", seed=4) < 0.87
    assert coverage(1.0, SD, 8, trials=1500, method="percentile", seed=8) < 0.92


def test_the_gap_is_positive_when_the_mode_is_worse_whatever_the_direction() -> None:
    slower = paired_gap([100.0, 100.0, 100.0], [90.0, 90.0, 90.0], higher_is_better=True)
    costlier = paired_gap([100.0, 100.0, 100.0], [110.0, 110.0, 110.0])
    assert slower is not None and slower.gap_pct == pytest.approx(10.0) and slower.ci95 == pytest.approx((10.0, 10.0))
    assert costlier is not None and costlier.gap_pct == pytest.approx(10.0)
    one = paired_gap([100.0], [103.0])
    assert one is not None and one.ci95 is None and one.n_pairs == 1 and one.gap_pct == pytest.approx(3.0)
    assert paired_gap([100.0, float("nan")], [float("nan"), 1.0]) is None


def test_the_minimum_detectable_effect_is_detected_80_percent_of_the_time() -> None:
    n, trials = 10, 8000
    effect = mde_pct(SD, n)
    assert effect is not None
    logs = np.random.default_rng(3).normal(math.log1p(effect / 100), SD, size=(trials, n))
    p = stats.ttest_1samp(logs, 0, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.80, abs=0.02)


@pytest.mark.parametrize("gap", [0.0, 27.0, -3.0])
def test_pairs_for_a_target_width_are_the_fewest_that_reach_it(gap: float) -> None:
    mean = math.log1p(gap / 100)
    n = pairs_for_half_width(SD, 0.5, mean)
    assert n is not None

    def width(k: int) -> float:
        rng = np.random.default_rng(k)
        logs = rng.normal(0, 1, k)
        logs = mean + (logs - logs.mean()) / logs.std(ddof=1) * SD  # exactly this mean and spread
        found = paired_gap(np.ones(k), np.exp(logs))
        assert found is not None and found.half_width_pp is not None
        return found.half_width_pp

    assert width(n) <= 0.5 < width(n - 1)
    assert pairs_for_half_width(None, 1.0) is None and pairs_for_half_width(0.0, 1.0) == 2


def test_coverage_can_be_checked_on_a_campaigns_own_noise() -> None:
    # Noise drawn from a sample: symmetric noise keeps 95%; strongly skewed noise (skewness 1.4,
    # far more than the lab's rounds show) costs the t interval a few points, not more.
    normal = np.random.default_rng(5).normal(0.0, 0.01, size=200)
    assert coverage(1.0, 0.0, 16, trials=4000, method="t", residuals=normal) == pytest.approx(0.95, abs=0.015)
    skewed = np.random.default_rng(5).gamma(2.0, 0.006, size=200)
    assert 0.90 <= coverage(1.0, 0.0, 16, trials=4000, method="t", residuals=skewed) < 0.95


def test_after_a_two_stage_stop_the_interval_is_the_first_stages() -> None:
    logs = np.array([0.01, -0.01, 0.02, 0.0, 0.003, 0.004, 0.002, 0.003])
    found = paired_gap(np.ones(8), np.exp(logs), stage_one=4)
    assert found is not None and found.stage_one == 4 and found.ci95 is not None
    half = stats.t.ppf(0.975, 3) * logs[:4].std(ddof=1) / math.sqrt(8)
    assert found.ci95 == pytest.approx((math.expm1(logs.mean() - half) * 100, math.expm1(logs.mean() + half) * 100))
    assert found.sd_log == pytest.approx(logs.std(ddof=1)), "the spread of all rounds still sizes the next campaign"
    short = paired_gap(np.ones(3), np.exp(logs[:3]), stage_one=4)
    assert short is not None and short.stage_one is None, "a first stage cut short: the plain t interval"


def test_stein_asks_for_the_rounds_that_bring_its_interval_to_the_target() -> None:
    n = stein_rounds(0.013, 15, 0.5)
    assert n is not None and n > 15
    t0 = stats.t.ppf(0.975, 14)
    assert 100 * math.sinh(t0 * 0.013 / math.sqrt(n)) <= 0.5 < 100 * math.sinh(t0 * 0.013 / math.sqrt(n - 1))
    assert stein_rounds(0.0001, 15, 0.5) == 15 and stein_rounds(None, 15, 0.5) is None


def _concurrent_profiles_with_a_target() -> dict[str, dict[str, Any]]:
    profiles = yaml.safe_load((ROOT / "inventory/group_vars/all/profiles.yml").read_text())["lab_profiles"]
    return {name: p for name, p in profiles.items() if p.get("design") == "concurrent" and float(p.get("target_ci_pp") or 0) > 0}


# Per-round log-ratio spreads the lab has measured: docker_host and A/A ~1.2-1.6%, the latency
# profile's bridge 2.6%, the default's bridge 2.9%; and a quiet 0.6%.
SPREADS = (0.006, 0.013, 0.016, 0.026, 0.029)


@pytest.mark.parametrize("name", sorted(_concurrent_profiles_with_a_target()))
def test_the_whole_stopping_procedure_covers_at_each_profiles_settings(name: str) -> None:
    profile = _concurrent_profiles_with_a_target()[name]
    target, first = float(profile["target_ci_pp"]), int(profile["rounds"])
    # The lab's cap: the budget at the load time alone (roles/lab/vars/main.yml), at most lab_max_rounds (200).
    cap = min(200, math.ceil(float(profile["max_minutes"]) * 60 / (int(profile["warmup_s"]) + int(profile["measure_s"]))))
    # A profile at the rounds' speeds runs the procedure with residual spreads: simulated so, on rounds
    # whose speed drifts as the lab's do (sd 0.27 in log) with a gap that moves with it (the bridge's -0.1).
    speed = {"slope": -0.1, "speed_sd": 0.27, "speed_adjusted": True} if profile.get("adjust_for_speed") else {}
    for sd in SPREADS:
        for gap in (0.0, 27.0):
            covered, _ = procedure_coverage(sd, target, first, cap, true_gap_pct=gap, trials=20_000, seed=int(sd * 1e4), **speed)
            assert covered >= 0.94, (name, sd, gap, covered)
    # The rule it replaced, at a spread that stops it near 27 rounds: it stopped while the sd was low by chance.
    assert width_rule_coverage(0.026 * target, target, 6, cap)[0] < 0.935


def test_the_procedure_stops_the_sooner_the_quieter_the_rounds() -> None:
    _, quiet = procedure_coverage(0.006, 1.0, 15, 113, trials=4000)
    _, noisy = procedure_coverage(0.029, 1.0, 15, 113, trials=4000)
    assert quiet == pytest.approx(15, abs=0.5) and 30 < noisy < 50


def test_a_pause_longer_than_the_profiles_starts_a_new_block() -> None:
    from analysis.rules import blocks, max_pause_s

    starts = {1: 0.0, 2: 60.0, 3: 120.0, 4: 120.0 + 1801.0, 5: 2000.0}
    assert blocks(starts, max_pause_s(None)) == [[1, 2, 3], [4, 5]]
    assert blocks(starts, max_pause_s({"max_pause_min": 60})) == [[1, 2, 3, 4, 5]]
    with pytest.raises(ValueError, match="max_pause_min is 'soon'"):
        max_pause_s({"max_pause_min": "soon"})


def test_at_the_rounds_speeds_the_spread_is_the_regressions_residual_and_the_estimate_the_mean() -> None:
    rng = np.random.default_rng(3)
    n = 40
    level = 1000.0 * np.exp(rng.normal(0, 0.25, n))
    baseline = level * np.exp(rng.normal(0, 0.01, n))
    mode = baseline * np.exp(0.2 - 0.1 * np.log(level / 1000.0) + rng.normal(0, 0.02, n))
    plain, adjusted = paired_gap(baseline, mode), paired_gap(baseline, mode, level=level)
    assert plain is not None and adjusted is not None and adjusted.speed_adjusted and not plain.speed_adjusted
    assert adjusted.gap_pct == pytest.approx(plain.gap_pct, abs=1e-12)
    fit = stats.linregress(np.log(level), np.log(mode / baseline))
    resid = np.log(mode / baseline) - (fit.intercept + fit.slope * np.log(level))
    sd = math.sqrt((resid**2).sum() / (n - 2))
    assert adjusted.sd_log == pytest.approx(sd, rel=1e-9)
    half = stats.t.ppf(0.975, n - 2) * sd / math.sqrt(n)
    mean = np.log(mode / baseline).mean()
    assert adjusted.ci95 == pytest.approx((math.expm1(mean - half) * 100, math.expm1(mean + half) * 100), rel=1e-9)
    assert adjusted.half_width_pp < 0.7 * plain.half_width_pp
    # Stein's rule: the first stage's residual spread, n - 2 degrees of freedom there.
    staged = paired_gap(baseline, mode, stage_one=20, level=level)
    fit0 = stats.linregress(np.log(level[:20]), np.log(mode[:20] / baseline[:20]))
    r0 = np.log(mode[:20] / baseline[:20]) - (fit0.intercept + fit0.slope * np.log(level[:20]))
    half0 = stats.t.ppf(0.975, 18) * math.sqrt((r0**2).sum() / 18) / math.sqrt(n)
    assert staged is not None and staged.half_width_pp == pytest.approx(
        100 * (math.expm1(mean + half0) - math.expm1(mean - half0)) / 2, rel=1e-9
    )


def test_without_a_fit_at_the_rounds_speeds_the_plain_interval_stands() -> None:
    b, m = [100.0, 101.0, 99.0, 100.5, 100.2], [110.0, 111.5, 108.0, 110.4, 110.9]
    assert paired_gap(b, m, level=[5.0] * 5) == paired_gap(b, m)
    assert paired_gap(b[:3], m[:3], level=[1.0, 2.0, 3.0]) == paired_gap(b[:3], m[:3])
    with pytest.raises(ValueError, match="level has 4 values for 5 pairs"):
        paired_gap(b, m, level=[1.0, 2.0, 3.0, 4.0])


def test_the_speed_is_the_other_modes_level_never_the_pairs_own() -> None:
    from analysis.precision import others_level

    rounds = [{"a": 1.0, "b": 4.0, "c": 2.0, "d": 8.0}, {"a": 1.0, "b": 9.0, "c": 3.0, "d": 3.0}, {"a": 1.0, "b": 1.0, "c": 4.0}]
    assert others_level(rounds, ("a", "b")) == pytest.approx([2.0, 3.0, 4.0])  # d is missing from a round
    assert others_level(rounds[:2], ("a", "b")) == pytest.approx([4.0, 3.0])
    assert others_level(rounds, ("a", "c")) == pytest.approx([4.0, 9.0, 1.0])
    assert others_level([{"a": 1.0, "b": 2.0}], ("a", "b")) is None


@pytest.mark.parametrize("slope", [0.0, -0.1, 0.3])
def test_the_procedure_at_the_rounds_speeds_covers_the_gap_at_their_speeds(slope: float) -> None:
    """The whole of Stein's rule with residual spreads: it covers the gap at the mean speed of the
    rounds it ran (what it claims), and a speed-bound gap needs fewer rounds than without it."""
    cap = 80
    for sd, gap in ((0.033, 23.0), (0.02, 0.0)):
        covered, used = procedure_coverage(sd, 1.0, 30, cap, gap, 20_000, 11, slope=slope, speed_sd=0.27, speed_adjusted=True)
        assert 0.94 <= covered <= 0.96, (slope, sd, covered)
        plain_covered, plain_used = procedure_coverage(sd, 1.0, 30, cap, gap, 20_000, 11, slope=slope, speed_sd=0.27)
        assert plain_covered >= 0.94
        if slope:
            assert used < plain_used


def test_a_rung_with_twins_is_their_geometric_mean_and_a_round_missing_one_has_no_rung() -> None:
    from analysis.precision import rung_instances, rung_rounds

    twin_of = {"a": None, "a_b": "a", "n": None, "n_b": "n", "b": None}
    assert rung_instances(["n", "a", "b"], twin_of, list(twin_of)) == {"n": ["n", "n_b"], "a": ["a", "a_b"]}
    assert rung_instances(["n", "a_b"], twin_of, list(twin_of)) == {"n": ["n", "n_b"]}, "a twin that is a rung is its own"
    rounds = [{"n": 1.0, "n_b": 4.0, "a": 2.0, "a_b": 8.0, "b": 3.0}, {"n": 1.0, "a": 2.0, "a_b": 2.0, "b": 3.0, "x": 5.0}]
    assert rung_rounds(rounds, {"n": ["n", "n_b"], "a": ["a", "a_b"]}) == [
        {"n": pytest.approx(2.0), "a": pytest.approx(4.0), "b": 3.0},
        {"a": pytest.approx(2.0), "b": 3.0, "x": 5.0},
    ]
