"""The results schema: campaigns of this version and the previous one read alike; a value the
report does not understand ends in a message naming the file and the key."""

import json
import shutil
from pathlib import Path

import pytest

from analysis.model import build
from analysis.report import main
from analysis.schema import SCHEMA_VERSION

DATA = Path(__file__).parent / "data"


def copy(tmp_path: Path, **manifest_changes: object) -> Path:
    folder = tmp_path / "small"
    shutil.copytree(DATA / "small", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | manifest_changes))
    return folder


def current(tmp_path: Path) -> Path:
    """The small campaign as the current lab writes it: versioned, records, baseline and twin named."""
    manifest = json.loads((DATA / "small" / "manifest.json").read_text())
    records = [{"mode": e.split()[0], "round": int(e.split()[1])} for e in manifest["run_order"]]
    modes = manifest["modes"] | {"native_b": manifest["modes"]["native_b"] | {"twin_of": "native"}}
    folder = copy(
        tmp_path,
        schema_version=SCHEMA_VERSION,
        run_order=records,
        baseline="native",
        primary_metric="throughput_rps",
        design="sequential",
        modes=modes,
    )
    for record in (folder / "runs").glob("*/run.json"):
        record.write_text(json.dumps(json.loads(record.read_text()) | {"schema_version": SCHEMA_VERSION}))
    return folder


def rows(folder: Path) -> list[tuple[str, str, float]]:
    return [(c.mode, c.metric, round(c.gap_pct, 9)) for c in build(folder).comparisons]


def test_this_version_and_the_previous_one_give_the_same_report(tmp_path: Path) -> None:
    old = build(DATA / "small")
    new = build(current(tmp_path / "new"))
    assert rows(DATA / "small") == rows(current(tmp_path / "again"))
    assert old.aa_modes == new.aa_modes == frozenset({"native_b"}), "the previous version's twin is named native_b"
    assert old.warnings == [w.replace(str(tmp_path / "new" / "small"), str(DATA / "small")) for w in new.warnings]
    assert main([str(tmp_path / "new" / "small")]) == 0
    assert json.loads((tmp_path / "new" / "small" / "report" / "gap.json").read_text())["schema_version"] == SCHEMA_VERSION


def test_a_run_order_of_run_folder_names_is_read(tmp_path: Path) -> None:
    """Campaigns recorded outside the lab list their runs by folder name: mode and round are in it."""
    names = sorted(p.name for p in (DATA / "small" / "runs").iterdir())
    folder = copy(tmp_path, run_order=[*names, "007_native_b_r3"])
    report = build(folder)
    assert rows(folder) == rows(DATA / "small")
    assert any("planned run(s) missing or failed: docker 2, native_b 3" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": "2"}, "manifest.json: schema_version is '2' (expected a whole number, 1 or more)"),
        ({"schema_version": 0}, "manifest.json: schema_version is 0"),
        ({"schema_version": 99}, f"manifest.json: schema_version 99 is newer than this report reads ({SCHEMA_VERSION}): update the lab"),
        ({"modes": ["native", "docker"]}, "manifest.json: modes is ['native', 'docker'] (expected an object)"),
        ({"profile": "capacity"}, "manifest.json: profile is 'capacity' (expected an object)"),
        ({"run_order": {"native": 1}}, "manifest.json: run_order is {'native': 1} (expected a list)"),
        ({"run_order": ["native 1", 42]}, 'manifest.json: run_order[1] is 42 (expected {"mode": ..., "round": ...}'),
        ({"run_order": [{"mode": "native"}]}, "manifest.json: run_order[0] is {'mode': 'native'}"),
        ({"run_order": ["native one"]}, "manifest.json: run_order[0] is 'native one'"),
        ({"run_order": ["001_native"]}, "manifest.json: run_order[0] is '001_native'"),
    ],
)
def test_a_manifest_value_the_report_does_not_understand_is_named(
    tmp_path: Path, change: dict[str, object], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy(tmp_path, **change)
    assert main([str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'manifest.json'}: " in err and message in err, err
    assert not (folder / "report").exists()


def test_a_run_record_of_a_newer_version_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy(tmp_path)
    record = folder / "runs" / "002_docker_r1" / "run.json"
    record.write_text(json.dumps(json.loads(record.read_text()) | {"schema_version": 7}))
    assert main([str(folder)]) == 2
    assert f"{record}: schema_version 7 is newer than this report reads" in capsys.readouterr().err
