"""python -m analysis.coverage on a campaign's own noise, fixed n and the whole stopping procedure."""

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.coverage import main
from analysis.tests.make_fixtures import manifest, meta, write_run


def aa_campaign(folder: Path, rounds: int = 10, **extra: object) -> Path:
    """native vs its twin native_b over `rounds` sequential rounds, each run's CPU drawn around 1 s."""
    cpu = np.random.default_rng(4).normal(1.0, 0.013, size=(rounds, 2))
    order = [f"{m} {r}" for r in range(1, rounds + 1) for m in ("native", "native_b")]
    manifest(folder, ["native", "native_b"], order, 1, **extra)
    body = json.loads((folder / "manifest.json").read_text())
    body["modes"]["native_b"]["twin_of"] = "native"
    body["modes"]["native"]["twin_of"] = None
    (folder / "manifest.json").write_text(json.dumps(body))
    number = 0
    for r in range(1, rounds + 1):
        for i, mode in enumerate(("native", "native_b")):
            number += 1
            requests = [("warmup", 5.0, 0)] + [("measure", 5.0, 0)] * 20
            write_run(folder, f"{number:03d}_{mode}_r{r}", meta(mode, r, number, 1, service_cpu_s=float(cpu[r - 1, i])), requests)
    return folder


def test_fixed_rounds_and_the_whole_procedure_on_a_campaigns_noise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    precision = {"rule": "stein_two_stage", "target_ci_pp": 0.5, "min_rounds": 6, "max_rounds": 60}
    folder = aa_campaign(tmp_path / "aa", metric_hint="cpu", precision=precision)
    assert main([str(folder), "--metric", "cpu_us_per_request", "--rounds", "8", "--trials", "500"]) == 0
    out = capsys.readouterr().out
    assert "10 rounds of native_b vs native on cpu_us_per_request" in out and "  8 rounds: 95% CI coverage" in out
    assert main([str(folder), "--metric", "cpu_us_per_request", "--procedure", "--trials", "2000"]) == 0
    out = capsys.readouterr().out
    assert "whole procedure at target ±0.5 pp, first stage 6, at most 60 rounds" in out
    stein = float(out.split("Stein's two-stage rule (the lab's): coverage ")[1].split(",")[0])
    assert 0.9 <= stein <= 1.0
    assert main([str(folder), "--metric", "cpu_us_per_request", "--procedure", "--target", "0"]) == 2
    assert "--procedure needs a target > 0" in capsys.readouterr().err
