"""Comparing campaigns: side by side when comparable, refused (exit 2, naming the facts) when not."""

import json
import shutil
from pathlib import Path

import pytest

from analysis.compare import main

DATA = Path(__file__).parent / "data"


def test_same_campaign_compares_with_zero_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "compare.json"
    assert main([str(DATA / "small"), str(DATA / "small"), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["mode"], r["metric"]) for r in rows} >= {("docker", "throughput_rps"), ("native", "latency_p95_ms")}
    assert all(r["change_pct"] == 0 for r in rows)
    assert "change = B vs A" in capsys.readouterr().out


def test_different_profiles_are_refused_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(DATA / "small"), str(DATA / "article")]) == 2
    err = capsys.readouterr().err
    assert "are not comparable (profile:" in err and "--force" in err
    assert main([str(DATA / "small"), str(DATA / "article"), "--force"]) == 0
    assert "compared with --force although they differ" in capsys.readouterr().out


def test_another_package_set_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    shutil.copytree(DATA / "small", other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["packages_sha256"] = {"native": "p2"}
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert main([str(DATA / "small"), str(other)]) == 2
    assert "packages: [] != ['p2']" in capsys.readouterr().err


def test_a_change_from_zero_is_null_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zero = tmp_path / "zero"
    shutil.copytree(DATA / "small", zero)
    for record in (zero / "runs").glob("*_docker_r*/run.json"):
        record.write_text(json.dumps(json.loads(record.read_text()) | {"service_cpu_s": 0}))
    out = tmp_path / "compare.json"
    assert main([str(zero), str(DATA / "small"), "--json", str(out)]) == 0
    rows = {(r["mode"], r["metric"]): r for r in json.loads(out.read_text())["rows"]}
    assert rows[("docker", "cpu_us_per_request")]["change_pct"] is None and rows[("docker", "cpu_us_per_request")]["ci95"] is None
    assert rows[("native", "cpu_us_per_request")]["change_pct"] == 0
    assert "warning: cpu_us_per_request of docker: no change computed" in capsys.readouterr().out


def test_a_json_file_that_cannot_be_written_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing-folder" / "compare.json"
    (tmp_path / "missing-folder").write_text("a file, not a folder")
    assert main([str(DATA / "small"), str(DATA / "small"), "--json", str(out)]) == 2
    assert str(tmp_path / "missing-folder") in capsys.readouterr().err
