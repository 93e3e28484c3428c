"""bench.yml end to end on this machine: a smoke campaign, its results layout, resume, refusal."""

import json
import pwd
from pathlib import Path

import pytest

from labrun import ansible_playbook

RUN_KEYS = {
    "schema_version",
    "mode",
    "round",
    "order",
    "profile",
    "status",
    "error",
    "started_at",
    "finished_at",
    "warmup_duration_s",
    "measure_duration_s",
    "k6_argv",
    "service_cpu_s",
    "k6_cpu_s",
}
MANIFEST_KEYS = {
    "schema_version",
    "campaign_id",
    "git_commit",
    "started_at",
    "finished_at",
    "profile",
    "modes",
    "host",
    "docker",
    "k6_version",
    "packages_sha256",
    "db",
    "seed",
    "run_order",
}
PHASES_AFTER_BUILD = ("playbooks/deploy.yml", "playbooks/verify.yml", "playbooks/measure.yml")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    results = tmp_path_factory.mktemp("results")
    result = ansible_playbook(
        "bench.yml", "-e", json.dumps({"lab_profile": "smoke", "lab_results_dir": str(results), "lab_campaign_id": "ci-smoke"})
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return results / "ci-smoke" / "localhost", result.stdout


def test_smoke_campaign_leaves_the_results_layout(campaign: tuple[Path, str]) -> None:
    folder, _ = campaign
    manifest = json.loads((folder / "manifest.json").read_text())
    assert MANIFEST_KEYS <= manifest.keys()
    assert manifest["profile"]["name"] == "smoke" and manifest["finished_at"]
    assert sorted(manifest["modes"]) == ["docker", "docker_host", "native"]
    assert len(set(manifest["packages_sha256"].values())) == 1
    runs = sorted(p.name for p in (folder / "runs").iterdir())
    assert len(runs) == 3 and [r[:4] for r in runs] == ["001_", "002_", "003_"]
    for run in runs:
        meta = json.loads((folder / "runs" / run / "run.json").read_text())
        assert RUN_KEYS <= meta.keys()
        assert meta["status"] == "ok", meta
        assert meta["service_cpu_s"] > 0 and meta["k6_cpu_s"] > 0
        assert (folder / "runs" / run / "k6.json.gz").stat().st_size > 1000
        assert (folder / "runs" / run / "summary.json").exists()
        assert (folder / "runs" / run / "run.json").stat().st_mode & 0o007 == 0


def test_verify_json_and_report_are_written(campaign: tuple[Path, str]) -> None:
    folder, stdout = campaign
    verify = json.loads((folder / "verify.json").read_text())
    assert all(verify["checks"][k] for k in ("records_100", "payload_identical", "packages_identical", "listeners_local_only"))
    assert {p.name for p in (folder / "report").iterdir()} == {"runs.csv", "gap.json", "report.md", "report.html"}
    assert {p.name for p in (folder.parent / "report").iterdir()} == {"fleet.json", "fleet.md", "runs.csv", "report.html"}
    assert "[1/3] round 1/1" in stdout and "ETA" in stdout
    assert "vs native" in stdout or "than native" in stdout


def test_resume_skips_ok_runs_and_redoes_a_failed_one_in_a_new_folder(campaign: tuple[Path, str]) -> None:
    folder, _ = campaign
    first = sorted((folder / "runs").iterdir())[0]
    meta = json.loads((first / "run.json").read_text())
    (first / "run.json").write_text(json.dumps(meta | {"status": "failed", "error": "injected by the test"}))
    result = ansible_playbook(
        *PHASES_AFTER_BUILD,
        "-e",
        json.dumps({"lab_profile": "smoke", "lab_results_dir": str(folder.parent.parent), "lab_campaign_id": "ci-smoke"}),
    )
    assert result.returncode == 0, result.stdout[-3000:]
    runs = sorted(p.name for p in (folder / "runs").iterdir())
    assert len(runs) == 4
    assert runs[3] == f"004_{meta['mode']}_r1"
    assert json.loads((first / "run.json").read_text())["error"] == "injected by the test"
    assert "1 runs this time" in result.stdout


def test_an_existing_campaign_refuses_another_profile(campaign: tuple[Path, str]) -> None:
    folder, _ = campaign
    before = sorted(p.name for p in (folder / "runs").iterdir())
    result = ansible_playbook(
        "playbooks/verify.yml",
        "-e",
        json.dumps({"lab_profile": "aa", "lab_results_dir": str(folder.parent.parent), "lab_campaign_id": "ci-smoke"}),
    )
    assert result.returncode != 0
    assert "campaign ci-smoke was started with profile 'smoke'" in " ".join(result.stdout.split())
    assert sorted(p.name for p in (folder / "runs").iterdir()) == before


def test_the_embedded_database_runs_unprivileged_and_owns_only_its_folders(campaign: tuple[Path, str]) -> None:
    """After the smoke campaign's deploy: nx-27017 runs as its own system user, not root."""
    pid = int(Path("/var/lib/container-cost-lab/daemons/mongodb.pid").read_text())
    uid = Path(f"/proc/{pid}").stat().st_uid
    assert pwd.getpwuid(uid).pw_name == "lab-mongodb"
    assert pwd.getpwnam("lab-mongodb").pw_shell == "/usr/sbin/nologin"
    home = Path("/opt/container-cost-lab/mongodb")
    assert {p.name for p in home.iterdir() if p.stat().st_uid == uid} == {"data", "run"}
    assert (home / "run" / "nx-27017.pid").read_text().strip() == str(pid)
