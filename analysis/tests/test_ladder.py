"""The decomposition of a container's cost: steps between adjacent rungs, paired in the same
rounds, that add up in log space to the whole; and the container A/A beside it."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.load import Campaign
from analysis.model import LADDER_CAVEAT, Report
from analysis.stats import ladder

RUNGS = ["native", "native_rootfs", "docker_unconfined", "docker_host", "docker", "docker_proxy"]
# Each step's true cost (log space, %), rung by rung.
STEPS = [0.5, -1.0, 2.0, 4.0, 18.0]
DEFINITIONS = {
    "native": {"kind": "native", "network": "host", "client": "loopback", "seccomp": None},
    "native_rootfs": {"kind": "rootfs", "network": "host", "client": "loopback", "seccomp": None},
    "docker_unconfined": {"kind": "docker", "network": "host", "client": "loopback", "seccomp": "unconfined"},
    "docker_host": {"kind": "docker", "network": "host", "client": "loopback", "seccomp": "default"},
    "docker_host_b": {"kind": "docker", "network": "host", "client": "loopback", "seccomp": "default", "twin_of": "docker_host"},
    "docker": {"kind": "docker", "network": "bridge", "client": "remote", "seccomp": "default"},
    "docker_proxy": {"kind": "docker", "network": "bridge", "client": "loopback", "seccomp": "default"},
}


def rounds(n: int = 30, seed: int = 2, sd: float = 0.01, drop: tuple[str, int] | None = None, proxy_twin: bool = False) -> pd.DataFrame:
    """CPU per request of every rung (and docker_host's twin; docker_proxy's with proxy_twin) in n
    rounds: a shared drift of the machine's speed, each mode its own instance noise, the known
    steps between rungs."""
    rng = np.random.default_rng(seed)
    speed = 450.0 * np.exp(rng.uniform(-0.15, 0.15, n))
    level = np.cumsum([0.0, *STEPS]) / 100.0
    twins = [("docker_host_b", level[3])] + ([("docker_proxy_b", level[5])] if proxy_twin else [])
    rows = []
    for r in range(n):
        for mode, log_cost in [*zip(RUNGS, level, strict=True), *twins]:
            if drop == (mode, r + 1):
                continue
            value = speed[r] * np.exp(log_cost + rng.normal(0, sd))
            rows.append({"round": r + 1, "mode": mode, "status": "ok", "cpu_us_per_request": value})
    return pd.DataFrame(rows)


def report(frame: pd.DataFrame, ladder_rungs: list[str] = RUNGS) -> Report:
    manifest = {
        "campaign_id": "ladder-1",
        "baseline": "native",
        "primary_metric": "cpu_us_per_request",
        "profile": {"name": "ladder", "ladder": ladder_rungs},
        "modes": DEFINITIONS,
        "kinds": {
            "native": {"adds": "the host's venv"},
            "rootfs": {"adds": "the image's files (its interpreter, venv and app, no isolation)"},
            "docker": {"adds": "the container's isolation (namespaces, cgroup, overlayfs, dropped capabilities, the image's environment)"},
        },
    }
    return Report(Campaign(path=Path("c"), manifest=manifest, runs=[]), frame, [], {}, [], {}, {})


def test_the_steps_recover_each_known_cost_and_add_up_to_the_whole() -> None:
    found = ladder(rounds(), RUNGS, "cpu_us_per_request")
    assert found is not None and [s.mode for s in found.steps] == RUNGS[1:]
    for step, truth in zip(found.steps, STEPS, strict=True):
        assert step.ci95 is not None and step.ci95[0] <= np.expm1(truth / 100) * 100 <= step.ci95[1], (step.mode, step.ci95)
        assert step.n_pairs == 30
    assert found.total.mode == "docker_proxy" and found.total.n_pairs == 30
    # Telescoping: the same rounds for every step, so the composed steps are the whole exactly.
    assert found.log_sum_pct == pytest.approx(found.total.gap_pct, abs=1e-9)
    assert sum(s for s in found.shares() if s is not None) == pytest.approx(1.0)


def test_a_round_missing_one_rung_is_left_out_of_every_step() -> None:
    found = ladder(rounds(drop=("docker", 7)), RUNGS, "cpu_us_per_request")
    assert found is not None
    assert {s.n_pairs for s in found.steps} == {29} and found.total.n_pairs == 29
    assert found.log_sum_pct == pytest.approx(found.total.gap_pct, abs=1e-9)


def test_no_ladder_without_two_rungs_or_a_round_that_holds_them_all() -> None:
    assert ladder(rounds(), ["native"], "cpu_us_per_request") is None
    frame = rounds(n=3)
    frame = frame[~((frame["mode"] == "docker") & (frame["round"] == 1))]
    frame = frame[~((frame["mode"] == "native") & (frame["round"].isin([2, 3])))]
    assert ladder(frame, RUNGS, "cpu_us_per_request") is None


def test_gap_json_names_what_each_step_adds_and_carries_the_caveat() -> None:
    data = report(rounds()).ladder_json()
    assert data is not None and data["rungs"] == RUNGS and data["caveat"] == LADDER_CAVEAT
    what = [(s["from"], s["to"], s["what"]) for s in data["steps"]]
    assert what == [
        ("native", "native_rootfs", "the image's files (its interpreter, venv and app, no isolation)"),
        (
            "native_rootfs",
            "docker_unconfined",
            "the container's isolation (namespaces, cgroup, overlayfs, dropped capabilities, the image's environment)",
        ),
        ("docker_unconfined", "docker_host", "Docker's seccomp filter"),
        ("docker_host", "docker", "the bridge network as a remote client reaches it (DNAT, veth, network namespace)"),
        ("docker", "docker_proxy", "the userland proxy (docker-proxy) a loopback client goes through"),
    ]
    assert data["total"]["from"] == "native" and data["total"]["to"] == "docker_proxy"
    assert data["log_sum_pct"] == pytest.approx(data["total"]["gap_pct"], abs=1e-3)
    assert all(len(s["ci95"]) == 2 and s["ci_half_width_pp"] > 0 for s in data["steps"])


def test_the_verdicts_decompose_the_cost_and_check_the_container_twin() -> None:
    lines = report(rounds()).headlines()
    (where,) = [line for line in lines if line.startswith("where the cost comes from")]
    assert "docker_proxy vs native +" in where and "over 30 rounds" in where and "Docker's seccomp filter" in where
    assert LADDER_CAVEAT in lines
    (twin,) = [line for line in lines if line.startswith("A/A docker_host_b vs docker_host")]
    assert twin.endswith("holds 0, as identical deployments must")


def test_a_twin_that_differs_is_said_not_to_hold_zero() -> None:
    frame = rounds()
    twin = frame["mode"] == "docker_host_b"
    frame.loc[twin, "cpu_us_per_request"] *= 1.05
    (check,) = report(frame).twin_checks()
    assert check["mode"] == "docker_host_b" and check["twin_of"] == "docker_host" and not check["holds_zero"]
    assert check["gap_pct"] == pytest.approx(5.0, abs=1.0)


def test_a_step_between_kinds_the_manifest_does_not_describe_names_the_change() -> None:
    bare = report(rounds())
    bare.campaign.manifest.pop("kinds")
    assert bare.step_label("native", "native_rootfs") == "kind native -> rootfs"


def test_a_campaign_without_a_ladder_has_none() -> None:
    assert report(rounds(), ladder_rungs=[]).ladder_json() is None
    assert not [line for line in report(rounds(), ladder_rungs=[]).headlines() if line.startswith("where the cost")]


def test_the_report_shows_the_decomposition_as_a_table_and_a_waterfall() -> None:
    from analysis.render import ladder_table, waterfall_figure

    data = report(rounds()).ladder_json()
    assert data is not None
    table = ladder_table(data)
    assert table.count("\n") == 2 + len(STEPS) and "native -> docker_proxy" in table and "Docker's seccomp filter" in table
    fig = waterfall_figure(data)
    assert len(fig.axes[0].patches) == len(STEPS) + 1


def speed_bound_rounds(n: int = 40, seed: int = 5) -> pd.DataFrame:
    """As rounds(), with a machine whose speed drifts ±30% and a proxy step that shrinks as it
    slows (docker-proxy's CPU scaling less than the service's): -0.1 pp of the step per 1%."""
    frame = rounds(n, seed=seed, sd=0.01)
    level = frame.groupby("round")["cpu_us_per_request"].transform(lambda v: np.exp(np.log(v).mean()))
    slow = np.log(level / level.mean())
    proxy = frame["mode"] == "docker_proxy"
    frame.loc[proxy, "cpu_us_per_request"] *= np.exp(-0.1 * slow[proxy] * 2.0)
    return frame


def test_at_the_rounds_speeds_the_estimates_stay_and_a_speed_bound_step_narrows() -> None:
    frame = speed_bound_rounds()
    plain = ladder(frame, RUNGS, "cpu_us_per_request")
    adjusted = ladder(frame, RUNGS, "cpu_us_per_request", speed_adjusted=True)
    assert plain is not None and adjusted is not None
    for a, b in zip([*plain.steps, plain.total], [*adjusted.steps, adjusted.total], strict=True):
        assert a.gap_pct == pytest.approx(b.gap_pct, abs=1e-9) and b.speed_adjusted and not a.speed_adjusted
    assert adjusted.log_sum_pct == pytest.approx(adjusted.total.gap_pct, abs=1e-9)
    # The proxy step moves with the speed: its CI narrows; a step that does not move stays as wide.
    widths = [(a.half_width_pp, b.half_width_pp) for a, b in zip(plain.steps, adjusted.steps, strict=True)]
    assert all(a is not None and b is not None for a, b in widths)
    assert widths[-1][1] < 0.8 * widths[-1][0]  # type: ignore[operator]
    assert widths[0][1] == pytest.approx(widths[0][0], rel=0.1)


def test_gap_json_says_the_intervals_are_at_the_rounds_speeds() -> None:
    rep = report(speed_bound_rounds())
    rep.campaign.manifest["profile"]["adjust_for_speed"] = True
    data = rep.ladder_json()
    assert data is not None and data["ci_note"] and "rounds' speeds" in data["ci_note"]
    assert all(row["ci_at_rounds_speeds"] for row in [*data["steps"], data["total"]])
    assert data["steps"][-1]["speed_slope_pp_per_pct"] < 0
    assert any("rounds' speeds" in line for line in rep.ladder_lines())
    unadjusted = report(rounds()).ladder_json()
    assert unadjusted is not None and unadjusted["ci_note"] is None


def test_a_manifest_whose_adjust_for_speed_is_not_a_boolean_is_refused() -> None:
    from analysis.load import CampaignError
    from analysis.model import speed_adjusted_of

    campaign = Campaign(path=Path("c"), manifest={"profile": {"adjust_for_speed": "yes"}}, runs=[])
    with pytest.raises(CampaignError, match="adjust_for_speed is 'yes'"):
        speed_adjusted_of(campaign)


def test_rungs_with_twins_average_their_instances_and_keep_the_steps_composing() -> None:
    both = rounds(40, seed=9, sd=0.02, proxy_twin=True)
    frame = both[both["mode"] != "docker_proxy_b"]
    instances = {"docker_host": ["docker_host", "docker_host_b"], "docker_proxy": ["docker_proxy", "docker_proxy_b"]}
    single = ladder(frame, RUNGS, "cpu_us_per_request")
    paired = ladder(both, RUNGS, "cpu_us_per_request", instances=instances)
    assert single is not None and paired is not None
    assert paired.log_sum_pct == pytest.approx(paired.total.gap_pct, abs=1e-9)
    # The proxy step over two instances a round: the known step, and narrower than over one.
    assert paired.steps[-1].gap_pct == pytest.approx(np.expm1(STEPS[-1] / 100) * 100, abs=1.5)
    assert paired.steps[-1].half_width_pp is not None and single.steps[-1].half_width_pp is not None
    assert paired.steps[-1].half_width_pp < 0.9 * single.steps[-1].half_width_pp
    assert paired.as_json()["instances"]["docker_proxy"] == ["docker_proxy", "docker_proxy_b"]
    assert paired.as_json()["instances"]["native"] == ["native"]
    rep = report(both)
    rep.campaign.manifest["profile"]["rungs_with_twins"] = True
    proxy_b = {"kind": "docker", "network": "bridge", "client": "loopback", "seccomp": "default", "twin_of": "docker_proxy"}
    rep.campaign.manifest["modes"] = DEFINITIONS | {"docker_proxy_b": proxy_b}
    found = rep.ladder
    assert found is not None and found.instances == instances
    assert found.steps[-1].gap_pct == pytest.approx(paired.steps[-1].gap_pct)
