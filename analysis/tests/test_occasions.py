"""Pooling campaigns run on different occasions: each campaign one draw, a t CI over campaigns."""

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from analysis.fleet import heterogeneity
from analysis.model import build
from analysis.occasions import main, summary, text
from analysis.tests.test_ladder import RUNGS, STEPS, report, rounds

DATA = Path(__file__).parent / "data"


def campaign(tmp_path: Path, name: str, docker_cpu: float) -> Path:
    """The small campaign, renamed, with every docker run's service CPU set (so each campaign has its own gap)."""
    folder = tmp_path / name
    shutil.copytree(DATA / "small", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"campaign_id": name}))
    for record in (folder / "runs").glob("*_docker_r*/run.json"):
        record.write_text(json.dumps(json.loads(record.read_text()) | {"service_cpu_s": docker_cpu}))
    return folder


def test_the_pooled_gap_is_the_mean_of_the_campaign_gaps_with_a_t_ci_over_campaigns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folders = [campaign(tmp_path, f"day-{i}", cpu) for i, cpu in enumerate((1.0, 1.1, 1.3), start=1)]
    out = tmp_path / "pooled.json"
    assert main([*map(str, folders), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    gaps = [next(c.gap_pct for c in build(f).comparisons if c.mode == "docker" and c.metric == "cpu_us_per_request") for f in folders]
    assert len(set(gaps)) == 3, "each campaign has its own gap"
    pooled = next(p for p in data["pooled"] if p["mode"] == "docker" and p["metric"] == "cpu_us_per_request")
    mean, sd = sum(gaps) / 3, float(stats.tstd(gaps))
    half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert pooled["campaigns"] == 3 and pooled["gap_pct"] == pytest.approx(mean, abs=1e-4)
    assert pooled["ci95"] == pytest.approx([mean - half, mean + half], abs=1e-4)
    assert pooled["between_campaign_sd_pct"] == pytest.approx(sd, abs=1e-4)
    assert {r["campaign"] for r in data["by_campaign"]} == {"day-1", "day-2", "day-3"}
    printed = capsys.readouterr().out
    assert "3 campaigns: day-1, day-2, day-3" in printed and "(primary)" in printed


def test_campaigns_that_differ_are_refused_by_name_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = campaign(tmp_path, "on", 1.0), campaign(tmp_path, "off", 1.2)
    manifest = json.loads((second / "manifest.json").read_text())
    (second / "manifest.json").write_text(json.dumps(manifest | {"processes": {"aslr_disabled": True}}))
    assert main([str(first), str(second)]) == 2
    assert "off: aslr_disabled True != None of on" in capsys.readouterr().err
    assert main([str(first), str(second), "--force"]) == 0
    assert "pooled with --force although they differ" in capsys.readouterr().out


def test_one_campaign_or_an_unreadable_one_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(campaign(tmp_path, "alone", 1.0))]) == 2
    assert "at least two campaigns" in capsys.readouterr().err
    assert main([str(campaign(tmp_path, "one", 1.0)), str(tmp_path / "missing")]) == 2
    assert "missing: not a campaign folder" in capsys.readouterr().err


def test_campaigns_that_disagree_beyond_their_cis_are_told_apart_from_ones_that_agree() -> None:
    """Known answers: Cochran's Q, I² and tau by hand (equal SEs make the weighted mean the plain one)."""
    t = stats.t.ppf(0.975, 9)  # n_pairs 10: each CI half-width is t * SE
    agree = pd.DataFrame({"gap_pct": [25.0, 25.2, 24.9], "ci95": [[g - t, g + t] for g in (25.0, 25.2, 24.9)], "n_pairs": [10, 10, 10]})
    found = heterogeneity(agree)
    assert found is not None and found["df"] == 2
    q = sum((g - 25.0333333) ** 2 for g in (25.0, 25.2, 24.9))  # SE 1: weights 1
    assert found["q"] == pytest.approx(q, abs=1e-3) and found["i2_pct"] == 0.0 and found["tau_pp"] == 0.0
    assert found["p_value"] > 0.9
    apart = pd.DataFrame({"gap_pct": [22.0, 28.0, 25.0], "ci95": [[g - t, g + t] for g in (22.0, 28.0, 25.0)], "n_pairs": [10, 10, 10]})
    found = heterogeneity(apart)
    assert found is not None and found["q"] == pytest.approx(18.0, abs=1e-6)  # 9 + 9 + 0
    assert found["p_value"] == pytest.approx(stats.chi2.sf(18.0, 2), abs=1e-6) and found["p_value"] < 0.001
    assert found["i2_pct"] == pytest.approx(100 * 16 / 18, abs=0.1)
    # DerSimonian-Laird: (Q - df) / (sum w - sum w² / sum w) = 16 / (3 - 1) = 8.
    assert found["tau_pp"] == pytest.approx(math.sqrt(8.0), abs=1e-4)
    assert heterogeneity(apart.iloc[:1]) is None, "one campaign: nothing to compare"


def test_ladder_campaigns_have_their_steps_pooled_over_campaigns() -> None:
    reports = {f"ladder-{seed}": report(rounds(n=30, seed=seed, sd=0.02)) for seed in (1, 2, 3)}
    data = summary(reports)
    steps = {p["mode"]: p for p in data["ladder"]}
    names = [f"{low} -> {high}" for low, high in zip(RUNGS, RUNGS[1:], strict=False)]
    assert list(steps) == [*names, "native -> docker_proxy (total)"]
    for name, true_log_pct in zip(names, STEPS, strict=True):
        gaps = [
            next(c.gap_pct for c, low in zip(r.ladder.steps, r.ladder.rungs, strict=False) if f"{low} -> {c.mode}" == name)
            for r in reports.values()
            if r.ladder
        ]
        assert steps[name]["each_pct"] == pytest.approx(gaps, abs=1e-4)
        mean, sd = sum(gaps) / 3, float(stats.tstd(gaps))
        half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
        assert steps[name]["gap_pct"] == pytest.approx(mean, abs=1e-4)
        assert steps[name]["ci95"] == pytest.approx([mean - half, mean + half], abs=1e-4)
        # Known costs: every step's pooled CI covers its true gap (instance noise 2% a round, 30 rounds).
        truth = math.expm1(true_log_pct / 100.0) * 100.0
        assert steps[name]["ci95"][0] - 0.5 < truth < steps[name]["ci95"][1] + 0.5, (name, truth, steps[name])
    printed = text(data)
    assert "the ladder, step by step" in printed and "docker -> docker_proxy" in printed
    # Campaigns whose ladders differ are not pooled step by step.
    other = report(rounds(n=30, seed=4), ladder_rungs=RUNGS[:3])
    assert summary({"a": reports["ladder-1"], "b": other})["ladder"] is None
