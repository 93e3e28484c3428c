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


class _Run:
    def __init__(self, meta: dict[str, object]) -> None:
        self.meta = meta


class _Comparison:
    mode, metric = "docker", "cpu_us_per_request"


class _Blocked:
    """Just what analysis.components.levels reads of a Report: a blocked campaign of rounds."""

    def __init__(self, gaps: list[float], blocks: list[dict[str, object]]) -> None:
        self.baseline = "native"
        rows = []
        for i, gap in enumerate(gaps, start=1):
            rows += [
                {"round": i, "mode": "native", "status": "ok", "cpu_us_per_request": 500.0},
                {"round": i, "mode": "docker", "status": "ok", "cpu_us_per_request": 500.0 * math.exp(gap / 100)},
            ]
        self.runs = pd.DataFrame(rows)
        self.campaign = type("C", (), {"runs": [_Run({"round": i, "block": b}) for i, b in enumerate(blocks, start=1)]})()

    def primary(self) -> list[_Comparison]:
        return [_Comparison()]


def _blocked(resets: list[str], per_block: int, effects: dict[str, float], sigma_round: float, seed: int) -> _Blocked:
    """Blocks begun by `resets` in turn; a re-done level draws a new effect of its sd."""
    from analysis.components import CONTAINS

    rng = np.random.default_rng(seed)
    current = {level: rng.normal(0, sd) for level, sd in effects.items()}
    gaps: list[float] = []
    blocks: list[dict[str, object]] = []
    for index in range(len(resets) + 1):
        began = resets[index - 1] if index else None
        for level in CONTAINS.get(str(began), ()):
            current[level] = rng.normal(0, effects.get(level, 0.0))
        level_sum = sum(current.values())
        for _ in range(per_block):
            gaps.append(8.0 + level_sum + rng.normal(0, sigma_round))
            blocks.append({"index": index, "began_with": began})
    return _Blocked(gaps, blocks)


def test_each_rounds_draw_of_each_level_is_counted_network_restarting_the_engine_too() -> None:
    from analysis.components import level_frame

    report = _blocked(["dockerd", "caches", "network", "none"], 2, {}, 0.0, seed=1)
    frame = level_frame(report, "docker", "cpu_us_per_request")  # type: ignore[arg-type]
    assert list(frame["block"]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert list(frame["epoch_dockerd"]) == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert list(frame["epoch_network"]) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert list(frame["epoch_caches"]) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert frame["gap_pp"].to_numpy() == pytest.approx(np.full(10, 8.0))


def test_the_level_that_redraws_the_gap_carries_the_variance() -> None:
    """The engine's restart re-draws a 2 pp effect; the page cache and the bridge nothing."""
    from analysis.components import levels

    resets = ["dockerd", "caches", "network", "none"] * 6
    found = [levels(_blocked(resets, 3, {"dockerd": 2.0}, 1.0, seed))[0] for seed in range(4)]  # type: ignore[arg-type]
    dockerd = np.mean([f["sd_pp"]["dockerd"] for f in found])
    others = np.mean([max(f["sd_pp"]["caches"], f["sd_pp"]["network"]) for f in found])
    assert dockerd > 1.0 and others < 0.8 and dockerd > 2 * others
    assert np.mean([f["sd_pp"]["round"] for f in found]) == pytest.approx(1.0, rel=0.2)
    assert found[0]["resets"] == {"caches": 6, "dockerd": 12, "network": 6} and found[0]["blocks"] == 25
