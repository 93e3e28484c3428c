"""Does a mode's place in the round's order, or the mode next to it, move its CPU per request?

usage: python scripts/order_effects.py results/<id>/<target> [results/<id>/<target> ...]

Fits, over the ok rounds of the concurrent campaigns given (rounds above max_other_work left out,
as the report does), the log of each mode's CPU per served request on the round (each round's
own level: the drift), the mode, its position in the round's order (k6's scenarios, lab_round.py's
walks) and the mode placed just before it (cyclically: the last for the first), by OLS (statsmodels). Prints
each position's and each predecessor's effect in pp with its 95% CI, and the F-tests of the two
factors, with standard errors clustered by block (the rounds that share one drawn order: with
few blocks, read the F-tests as rough). A campaign whose order is one seeded rotation (before 2026-12-07) has each mode's
predecessor fixed by its mode: the predecessor factor is then not estimable from it (said so).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pandas as pd
import statsmodels.formula.api as smf


def rows(folder: Path) -> list[dict[str, object]]:
    limit = float((json.loads((folder / "manifest.json").read_text()).get("profile") or {}).get("max_other_work", 0.10))
    found: list[dict[str, object]] = []
    for path in sorted(folder.glob("runs/*/run.json")):
        record = json.loads(path.read_text())
        if record.get("status") != "ok" or (record.get("service_core_other") or 0) > limit:
            continue
        order = list(record.get("modes") or [])
        for place, mode in enumerate(order):
            value = ((record.get("per_mode") or {}).get(mode) or {}).get("cpu_us_per_request")
            if value:
                found.append(
                    {
                        "round": f"{folder.parent.name}/{record['round']}",
                        # Rounds of one block share one drawn order (lab_round_order): the unit of
                        # independent neighbours, so the errors are clustered by it.
                        "block": f"{folder.parent.name}/{(int(record['round']) - 1) // len(order)}",
                        "mode": mode,
                        "position": place + 1,
                        "before": order[place - 1],
                        "log_cpu": 100.0 * math.log(value),
                    }
                )
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    found: list[dict[str, object]] = []
    for name in argv[1:]:
        folder = Path(name)
        if not (folder / "manifest.json").is_file():
            print(f"{folder}: no manifest.json (give results/<id>/<target>)", file=sys.stderr)
            return 2
        found += rows(folder)
    frame = pd.DataFrame(found)
    if frame.empty:
        print("no ok concurrent rounds", file=sys.stderr)
        return 2
    pairs = frame.groupby("mode")["before"].nunique()
    print(f"{frame['round'].nunique()} rounds, {len(frame)} mode-windows; predecessors seen per mode: {pairs.to_dict()}")
    formula = "log_cpu ~ C(round) + C(mode) + C(position)"
    if (pairs > 1).all():
        formula += " + C(before)"
    else:
        print("the mode before each mode barely varies (one rotated order): its effect is not estimable here")
    fit = smf.ols(formula, data=frame).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["block"])[0]})
    ci = fit.conf_int()
    for term in fit.params.index:
        if term.startswith(("C(position)", "C(before)", "C(mode)")):
            lo, hi = ci.loc[term]
            print(f"  {term:45s} {fit.params[term]:+6.2f} pp  ({lo:+.2f} .. {hi:+.2f})")
    for factor in ("C(position)", "C(before)"):
        if factor in formula:
            names = [t for t in fit.params.index if t.startswith(factor)]
            test = fit.f_test(" = ".join(names) + " = 0" if len(names) > 1 else f"{names[0]} = 0")
            print(f"  F-test {factor}: F {float(test.fvalue):.2f}, p {float(test.pvalue):.3f} ({len(names)} terms)")
    print(f"  residual sd {math.sqrt(fit.scale):.2f} pp per mode-window")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
