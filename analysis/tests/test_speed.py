"""Does a gap depend on the machine's speed? A known slope is recovered, none is invented."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import MIN_SPEED_ROUNDS, compare, speed_dependence


def rounds(slope: float, n: int = 40, seed: int = 1, noise: float = 0.0, third: bool = False, drift: float = 0.15) -> pd.DataFrame:
    """Per round: the machine's speed drifts ±15%; every mode's instance has its own noise
    (`noise`, sd in log units); the mode's log-gap is 20 pp + slope x (log speed, pp) + 0.8 pp
    noise. `third`: a third mode at the machine's speed with its own noise."""
    rng = np.random.default_rng(seed)
    speed = 430.0 * np.exp(rng.uniform(-drift, drift, n))
    x = 100 * np.log(speed / 430.0)
    native = speed * np.exp(rng.normal(0, noise, n))
    docker = speed * np.exp((20.0 + slope * x + rng.normal(0, 0.8, n)) / 100 + rng.normal(0, noise, n))
    rows = [{"round": r + 1, "mode": "native", "cpu_us_per_request": native[r]} for r in range(n)]
    rows += [{"round": r + 1, "mode": "docker", "cpu_us_per_request": docker[r]} for r in range(n)]
    if third:
        other = speed * np.exp(rng.normal(0, noise, n))
        rows += [{"round": r + 1, "mode": "docker_host", "cpu_us_per_request": other[r]} for r in range(n)]
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


@pytest.mark.parametrize("third", [False, True])
def test_the_baselines_own_noise_invents_no_slope(third: bool) -> None:
    """cal-r1 (2026-12-07): with native's CPU per request as the axis, the A/A twin's gap "moved"
    -0.26 pp per % (CI -0.37 to -0.14): native's instance noise, in both axes with opposite
    signs. With the other modes (or the two sides' mean) as the axis, no slope is invented."""
    covered, slopes = 0, []
    for seed in range(40):
        c = compare(rounds(0.0, seed=seed, noise=0.02, third=third, drift=0.08), "docker", "cpu_us_per_request", "native")
        assert c is not None and c.speed is not None
        assert c.speed.axis == ("the other modes' mean" if third else "the two modes' mean")
        covered += c.speed.ci95[0] <= 0 <= c.speed.ci95[1]
        slopes.append(c.speed.slope)
    assert covered >= 35, f"the 95% CI held 0 in {covered} of 40 campaigns"
    assert abs(float(np.mean(slopes))) < 0.05
    naive = [
        stats.linregress(100 * np.log(b), 100 * np.log(m / b)).slope
        for b, m in (_pair(rounds(0.0, seed=s, noise=0.02, drift=0.08)) for s in range(40))
    ]
    assert float(np.mean(naive)) < -0.1, "the old axis, the baseline itself, makes a slope out of its own noise"


def _pair(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    wide = frame.pivot(index="round", columns="mode", values="cpu_us_per_request")
    return wide["native"].to_numpy(), wide["docker"].to_numpy()


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
        found = [compare(rounds(slope, noise=0.02, third=True), "docker", "cpu_us_per_request", "native")]
        report = Report(campaign, pd.DataFrame(), [c for c in found if c is not None], {}, [], {}, {})
        return [line for line in report.headlines() if "for each 1% the machine is slower" in line]

    (line,) = verdicts(0.2)
    assert line.startswith("docker: its gap moves +0.") and "(the round's speed: the other modes' mean CPU per request; 95% CI" in line
    assert verdicts(0.0) == []
