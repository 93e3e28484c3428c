"""The diagnostic scripts under scripts/: a planted effect is found, none is invented."""

import importlib.util
import json
import math
import random
from pathlib import Path
from types import ModuleType

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
