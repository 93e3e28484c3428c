"""The diagnostic scripts under scripts/: a planted effect is found, none is invented."""

import importlib.util
import json
import math
import random
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", SCRIPTS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def campaign(folder: Path, rounds: int, after_x_pp: float, seed: int = 1) -> Path:
    """Rounds of four modes in random orders; a mode placed just after `x` costs `after_x_pp` more."""
    draw = random.Random(seed)
    modes = ["native", "x", "y", "z"]
    (folder / "manifest.json").parent.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"profile": {"max_other_work": 0.1}}))
    for r in range(1, rounds + 1):
        order = draw.sample(modes, len(modes))
        level = 400 * math.exp(draw.uniform(-0.1, 0.1))
        per_mode = {}
        for place, mode in enumerate(order):
            pp = (after_x_pp if order[place - 1] == "x" else 0.0) + draw.gauss(0, 1.0)
            per_mode[mode] = {"cpu_us_per_request": level * math.exp(pp / 100)}
        run = folder / "runs" / f"{r:03d}_concurrent_r{r}"
        run.mkdir(parents=True)
        record = {"status": "ok", "round": r, "modes": order, "per_mode": per_mode, "service_core_other": 0.01}
        (run / "run.json").write_text(json.dumps(record))
    return folder


@pytest.mark.parametrize(("after_x", "found"), [(3.0, True), (0.0, False)])
def test_order_effects_finds_a_planted_neighbour_effect_and_invents_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], after_x: float, found: bool
) -> None:
    order_effects = script("order_effects")
    folder = campaign(tmp_path / "c" / "localhost", 60, after_x)
    assert order_effects.main(["order_effects.py", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    test = next(line for line in lines if line.startswith("  F-test C(before)"))
    p_value = float(test.split("p ")[1].split(" ")[0])
    assert (p_value < 0.01) is found, test
    if found:
        effects = {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith("  C(before)")}
        assert effects["C(before)[T.x]"] - max(v for k, v in effects.items() if k != "C(before)[T.x]") > 1.5


def test_order_effects_refuses_a_folder_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert script("order_effects").main(["order_effects.py", str(tmp_path)]) == 2
    assert "no manifest.json" in capsys.readouterr().err


def ladder_campaign(folder: Path, rounds: int, sd_pp: float, seed: int = 2) -> Path:
    """A ladder a -> b -> c with a twin of b; every mode's instance noise of sd_pp per round."""
    draw = random.Random(seed)
    folder.mkdir(parents=True)
    manifest = {"profile": {"ladder": ["a", "b", "c"], "max_other_work": 0.1}, "modes": {"b2": {"twin_of": "b"}, "a": {}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for r in range(1, rounds + 1):
        per_mode = {
            m: {"cpu_us_per_request": 500 * math.exp((base + draw.gauss(0, sd_pp)) / 100)}
            for m, base in (("a", 0), ("b", 5), ("b2", 5), ("c", 10))
        }
        run = folder / "runs" / f"{r:03d}_concurrent_r{r}"
        run.mkdir(parents=True)
        started = f"2026-12-07T10:{r // 4:02d}:{(r % 4) * 15:02d}Z"
        (run / "run.json").write_text(json.dumps({"status": "ok", "per_mode": per_mode, "started_at": started, "service_core_other": 0.01}))
    return folder


def test_ladder_budget_says_when_the_budget_buys_every_step_and_when_it_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    budget = script("ladder_budget")
    pairs, logs, period = budget.read_campaign(ladder_campaign(tmp_path / "c", 60, 2.0))
    assert pairs == [("b", "a"), ("c", "b"), ("b2", "b")] and logs.shape == (60, 3) and period == 15.0
    # A step's per-round sd is ~2.8 pp (two modes' noise): ~31 rounds for ±1 pp at 95%.
    quiet, half, _ = budget.simulate(logs, 1.0, 15, 80, 2000)
    assert quiet > 0.9 and float(np.median(half)) < 1.0
    noisy, _, rounds = budget.simulate(logs * 3, 1.0, 15, 80, 2000)
    assert noisy < 0.01 and float(np.median(rounds)) == 80
    assert budget.main([str(tmp_path / "c"), "--minutes", "20", "--stage-one", "15"]) == 0
    assert "a round every 15.0 s: 80 rounds in 20 min" in capsys.readouterr().out
