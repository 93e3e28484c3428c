"""The CI method, checked where the answer is known: coverage, power, and rounds to a target width."""

import math

import numpy as np
import pytest
from scipy import stats

from analysis.precision import coverage, mde_pct, paired_gap, pairs_for_half_width

# Per-round spread of the log-ratio seen in the lab's concurrent A/A rounds (order 0.5-1%).
SD = 0.008


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
