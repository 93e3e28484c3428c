"""Does a gap depend on the machine's speed? A known slope is recovered, none is invented."""

import numpy as np
import pandas as pd
import pytest

from analysis.stats import MIN_SPEED_ROUNDS, compare, speed_dependence


def rounds(slope: float, n: int = 40, seed: int = 1) -> pd.DataFrame:
    """Per round: the machine's speed drifts ±15%; the mode's log-gap is 20 pp + slope x (log speed, pp) + noise."""
    rng = np.random.default_rng(seed)
    native = 430.0 * np.exp(rng.uniform(-0.15, 0.15, n))
    x = 100 * np.log(native / 430.0)
    docker = native * np.exp((20.0 + slope * x + rng.normal(0, 0.8, n)) / 100)
    rows = [{"round": r + 1, "mode": "native", "cpu_us_per_request": native[r]} for r in range(n)]
    rows += [{"round": r + 1, "mode": "docker", "cpu_us_per_request": docker[r]} for r in range(n)]
    return pd.DataFrame(rows)


def test_a_known_slope_of_the_gap_on_the_machines_speed_is_recovered() -> None:
    c = compare(rounds(0.2), "docker", "cpu_us_per_request", "native")
    assert c is not None and c.speed is not None and c.speed.n_pairs == 40
    assert c.speed.ci95[0] <= 0.2 <= c.speed.ci95[1] and c.speed.ci95[0] > 0
    assert c.speed.slope == pytest.approx(0.2, abs=0.05) and c.speed.p_value < 1e-6
    assert c.as_json()["speed_dependence"]["slope_pp_per_pct"] == pytest.approx(c.speed.slope, abs=1e-4)


def test_no_dependence_gives_a_ci_around_zero_and_other_metrics_none() -> None:
    covered = 0
    for seed in range(40):
        c = compare(rounds(0.0, seed=seed), "docker", "cpu_us_per_request", "native")
        assert c is not None and c.speed is not None
        covered += c.speed.ci95[0] <= 0 <= c.speed.ci95[1]
    assert covered >= 34, f"the 95% CI held 0 in {covered} of 40 campaigns"
    frame = rounds(0.2).rename(columns={"cpu_us_per_request": "throughput_rps"})
    c = compare(frame, "docker", "throughput_rps", "native")
    assert c is not None and c.speed is None and c.as_json()["speed_dependence"] is None


def test_too_few_rounds_or_a_machine_that_never_moved_say_nothing() -> None:
    base = np.full(MIN_SPEED_ROUNDS, 430.0)
    assert speed_dependence(base[:-1], base[:-1] * 1.2) is None
    assert speed_dependence(base, base * 1.2) is None


def test_the_verdicts_name_a_dependence_on_speed_only_when_its_ci_excludes_zero() -> None:
    from pathlib import Path

    from analysis.load import Campaign
    from analysis.model import Report

    campaign = Campaign(
        path=Path("c"), manifest={"campaign_id": "c", "baseline": "native", "primary_metric": "cpu_us_per_request"}, runs=[]
    )

    def verdicts(slope: float) -> list[str]:
        found = [compare(rounds(slope), "docker", "cpu_us_per_request", "native")]
        report = Report(campaign, pd.DataFrame(), [c for c in found if c is not None], {}, [], {}, {})
        return [line for line in report.headlines() if "for each 1% the machine is slower" in line]

    (line,) = verdicts(0.2)
    assert line.startswith("docker: its gap moves +0.") and "(native's CPU per request; 95% CI" in line
    assert verdicts(0.0) == []
