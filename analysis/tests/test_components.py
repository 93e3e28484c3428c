"""Variance components over occasions, and Kalibera & Jones's rounds per occasion."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.components import Components, _anova, allocation, estimate


def simulated(campaigns: int, rounds: int, sigma_occasion: float, sigma_round: float, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = 25.0 + rng.normal(0, sigma_occasion, campaigns)
    return pd.DataFrame(
        {
            "campaign": np.repeat([f"c{i}" for i in range(campaigns)], rounds),
            "gap_pp": np.concatenate([lvl + rng.normal(0, sigma_round, rounds) for lvl in levels]),
        }
    )


def test_reml_recovers_known_components() -> None:
    found = [estimate(simulated(12, 30, 1.0, 2.9, seed), "docker", "cpu_us_per_request") for seed in range(1, 6)]
    assert all(c is not None for c in found)
    rounds = np.mean([c.sigma_round_pp for c in found if c])
    occasions = np.mean([c.sigma_occasion_pp for c in found if c])
    assert rounds == pytest.approx(2.9, rel=0.05) and occasions == pytest.approx(1.0, rel=0.3)
    assert found[0] is not None and found[0].campaigns == 12 and found[0].rounds == 360


def test_the_anova_estimates_agree_with_reml_on_balanced_data() -> None:
    data = simulated(10, 20, 1.5, 2.0, seed=9)
    between, within = _anova(data)
    reml = estimate(data, "m", "x")
    assert reml is not None and reml.method.startswith("REML")
    assert math.sqrt(within) == pytest.approx(reml.sigma_round_pp, rel=0.02)
    assert math.sqrt(between) == pytest.approx(reml.sigma_occasion_pp, rel=0.1)


def test_one_campaign_has_no_components() -> None:
    assert estimate(simulated(1, 30, 1.0, 2.0), "m", "x") is None


def test_rounds_per_occasion_follow_kalibera_and_jones() -> None:
    c = Components("docker", "cpu_us_per_request", 3, 90, sigma_round_pp=2.9, sigma_occasion_pp=0.94, method="REML")
    # A campaign's fixed cost 420 s, a round 30 s: sqrt(14 * (2.9 / 0.94)^2) = 11.5 rounds.
    assert allocation(420.0, 30.0, c) == pytest.approx(math.sqrt(14) * 2.9 / 0.94)
    assert allocation(420.0, 30.0, Components("m", "x", 3, 90, 2.9, 0.0, "REML")) is None
