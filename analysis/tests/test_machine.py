"""The machine's view: earlier comparable campaigns in the same results folder pooled with this one."""

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from scipy import stats

from analysis import rules
from analysis.model import build
from analysis.report import main

DATA = Path(__file__).parent / "data"


def campaign(results: Path, name: str, started: str, docker_cpu: float, **manifest_changes: object) -> Path:
    """The small campaign as results/<name>/localhost/, started at `started`, its docker runs' CPU set."""
    folder = results / name / "localhost"
    shutil.copytree(DATA / "small", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    body = manifest | {"campaign_id": name, "started_at": started, "packages_sha256": {"native": "p1", "docker": "p1"}} | manifest_changes
    (folder / "manifest.json").write_text(json.dumps(body))
    for record in (folder / "runs").glob("*_docker_r*/run.json"):
        record.write_text(json.dumps(json.loads(record.read_text()) | {"service_cpu_s": docker_cpu}))
    return folder


def row(gap: dict[str, Any], mode: str = "docker", metric: str = "cpu_us_per_request") -> dict[str, Any]:
    return next(r for r in gap["comparisons"] if r["mode"] == mode and r["metric"] == metric)


def gap_json(folder: Path) -> dict[str, Any]:
    assert main([str(folder)]) == 0
    data: dict[str, Any] = json.loads((folder / "report" / "gap.json").read_text())
    return data


def test_one_campaign_has_no_machine_interval_and_says_why(tmp_path: Path) -> None:
    gap = gap_json(campaign(tmp_path, "first", "2026-12-01T10:00:00Z", 1.0))
    docker = row(gap)
    assert docker["occasions"] == 1 and docker["ci95_machine"] is None and docker["prediction95"] is None
    assert "one occasion: no earlier campaign of profile fixture on this host" in str(docker["machine_note"])
    assert str(gap["verdicts"][0]).startswith("intervals quoted: this campaign's 95% CI, which covers its rounds")


def test_earlier_comparable_campaigns_are_pooled_by_name_and_the_others_are_not(tmp_path: Path) -> None:
    cpus = (1.0, 1.2, 1.1)
    folders = [campaign(tmp_path, f"day-{i}", f"2026-12-0{i}T10:00:00Z", cpu) for i, cpu in enumerate(cpus, start=1)]
    for folder in folders[:2]:
        gap_json(folder)
    campaign(tmp_path, "other-packages", "2026-12-01T12:00:00Z", 2.0, packages_sha256={"native": "p1", "docker": "p2"})
    gap_json(tmp_path / "other-packages" / "localhost")
    campaign(tmp_path, "steered", "2026-12-01T13:00:00Z", 2.5, interrupts={"steer": True})
    gap_json(tmp_path / "steered" / "localhost")
    campaign(tmp_path, "later", "2026-12-09T10:00:00Z", 3.0)
    gap_json(tmp_path / "later" / "localhost")
    unreported = campaign(tmp_path, "day-0", "2026-11-30T10:00:00Z", 1.4)
    assert not (unreported / "report").exists()

    gap = gap_json(folders[2])
    gaps = [row(json.loads((f / "report" / "gap.json").read_text()))["gap_pct"] for f in folders]
    assert len(set(gaps)) == 3
    k, mean, sd = 3, sum(gaps) / 3, float(stats.tstd(gaps))
    t = stats.t.ppf(0.975, k - 1)
    docker = row(gap)
    assert docker["occasions"] == 3
    assert docker["ci95_machine"] == pytest.approx([mean - t * sd / math.sqrt(k), mean + t * sd / math.sqrt(k)], abs=1e-3)
    assert docker["prediction95"] == pytest.approx([mean - t * sd * math.sqrt(1 + 1 / k), mean + t * sd * math.sqrt(1 + 1 / k)], abs=1e-3)
    note = str(docker["machine_note"])
    assert "3 occasions, each one draw: day-1, day-2 and this campaign" in note
    assert "day-0 left out: no readable report/gap.json" in note, "a comparable campaign without a report is named"
    assert "other-packages" not in note and "later" not in note
    assert "steered" not in note, "interrupts steered off the service core: another measurement, never pooled"
    assert str(gap["verdicts"][0]).startswith("intervals quoted: below, this campaign's 95% CI (its rounds); for the machine, over 3")
    # Reporting an earlier campaign again looks only at the ones before it.
    assert row(gap_json(folders[0]))["occasions"] == 1
    assert build(folders[1]).earlier[0].campaign == "day-1"


def test_a_profile_recorded_resolved_pools_with_one_recorded_as_given(tmp_path: Path) -> None:
    """Since 2026-12-07 the manifest records the profile with its defaults filled in; an earlier
    campaign's profile, recorded as given, means the same and is pooled with it."""
    earlier = campaign(tmp_path, "given", "2026-12-01T10:00:00Z", 1.0)
    gap_json(earlier)
    profile = json.loads((earlier / "manifest.json").read_text())["profile"]
    resolved = rules.with_defaults(profile)
    assert resolved != profile, "the fixture's profile leaves defaults out"
    later = campaign(tmp_path, "resolved", "2026-12-02T10:00:00Z", 1.2, profile=resolved)
    assert row(gap_json(later))["occasions"] == 2
    other = campaign(tmp_path, "other", "2026-12-03T10:00:00Z", 1.2, profile=resolved | {"max_other_work": 0.2})
    assert row(gap_json(other))["occasions"] == 1, "a profile that differs in a default's value is another measurement"


def test_a_profile_is_resolved_once_with_its_defaults_or_refused_by_name() -> None:
    given = {
        "executor": "constant-vus",
        "vus": 8,
        "warmup_s": 3,
        "measure_s": 6,
        "rounds": 15,
        "client_lifecycle": "shared",
        "modes": ["native"],
    }
    resolved = rules.resolve_profile("p", given | {"design": "concurrent", "rate": None})
    assert resolved["records_source"] == "database" and resolved["max_other_work"] == 0.10 and resolved["rate"] == 0
    assert resolved["restart_each_round"] is True and rules.resolve_profile("p", given)["restart_each_round"] is False
    with pytest.raises(ValueError, match="lab_profiles.p has no vus, modes"):
        rules.resolve_profile("p", {k: v for k, v in given.items() if k not in ("vus", "modes")})
    with pytest.raises(ValueError, match="lab_profiles.p is 'x': a mapping"):
        rules.resolve_profile("p", "x")  # type: ignore[arg-type]
