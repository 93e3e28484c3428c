"""The `lab` command line: options, their errors, and the pieces of `lab bench` that need no playbook."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labcli.bench import BenchRequest, mask_secrets, new_campaign_id, next_ident
from labcli.cli import PROJECT, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command in ("bench", "status", "report", "compare", "pool", "verify"):
        assert f"lab {command}" in out


@pytest.mark.parametrize(("command", "module"), [("report", "report"), ("compare", "compare"), ("pool", "occasions")])
def test_report_compare_and_pool_pass_their_arguments_through(command: str, module: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert f"python -m analysis.{module}" in capsys.readouterr().out


def test_report_of_a_missing_campaign_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert str(tmp_path / "nope") in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--rounds", "0"], "--rounds '0': a whole number of rounds, at least 1"),
        (["bench", "--modes", ","], "--modes ',': give mode names"),
        (["bench", "--resume", "a", "--campaign", "b"], "not allowed with argument"),
    ],
)
def test_bad_options_exit_2_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_paths_and_ids_exit_2_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    (results / "taken").mkdir(parents=True)
    base = ["--results", str(results)]
    assert main(["bench", "--project", str(tmp_path), *base]) == 2
    assert "no bench.yml there" in capsys.readouterr().err
    assert main(["bench", "--inventory", str(tmp_path / "inv.yml"), *base]) == 2
    assert "inv.yml: no such file" in capsys.readouterr().err
    assert main(["bench", "--resume", "gone", *base]) == 2
    assert f"no campaign folder {results / 'gone'}" in capsys.readouterr().err
    assert main(["bench", "--campaign", "taken", *base]) == 2
    assert "exists; resume it with --resume taken" in capsys.readouterr().err
    assert not (results / "gone").exists()


def test_status_of_an_empty_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--results", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "no campaigns"


def test_campaign_ids_do_not_collide_within_a_second(tmp_path: Path) -> None:
    now = lambda: datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)  # noqa: E731
    assert new_campaign_id(tmp_path, now) == "20261129T120000Z"
    (tmp_path / "20261129T120000Z").mkdir()
    (tmp_path / "20261129T120000Z-2").mkdir()
    assert new_campaign_id(tmp_path, now) == "20261129T120000Z-3"


def test_each_resume_gets_its_own_artifacts(tmp_path: Path) -> None:
    assert next_ident(tmp_path, "c") == "c"
    (tmp_path / "c").mkdir()
    assert next_ident(tmp_path, "c") == "c.2"
    (tmp_path / "c.2").mkdir()
    assert next_ident(tmp_path, "c") == "c.3"


def test_request_becomes_extra_vars_and_passthrough_wins() -> None:
    request = BenchRequest(
        project=PROJECT,
        results=Path("/r"),
        inventory=Path("/i"),
        campaign="c",
        profile="aa",
        modes=["native", "native_b"],
        rounds=3,
        extra=["lab_seed=2", "lab_note='a b'"],
    )
    assert request.extravars() == {
        "lab_campaign_id": "c",
        "lab_results_dir": "/r",
        "lab_profile": "aa",
        "lab_modes": ["native", "native_b"],
        "lab_rounds": 3,
    }
    assert request.cmdline() == "-e lab_seed=2 -e 'lab_note='\"'\"'a b'\"'\"''"


def test_passwords_in_uris_are_masked_in_the_artifacts(tmp_path: Path) -> None:
    (tmp_path / "job_events").mkdir()
    (tmp_path / "stdout").write_text("uri mongodb://lab:s3cret@db:27017/x and mongodb://:tok@db/ and mongodb://db:27017/\n")
    (tmp_path / "job_events" / "1.json").write_text('{"stdout": "mongodb://u:p%40ss@h/"}')
    assert mask_secrets(tmp_path) == 2
    assert (tmp_path / "stdout").read_text() == "uri mongodb://lab:***@db:27017/x and mongodb://:***@db/ and mongodb://db:27017/\n"
    assert "p%40ss" not in (tmp_path / "job_events" / "1.json").read_text()


def test_the_recorded_environment_keeps_only_ansible_and_lab_variables(tmp_path: Path) -> None:
    env = {"ANSIBLE_CONFIG": "/p/ansible.cfg", "LAB_X": "1", "PATH": "/bin", "GITHUB_TOKEN": "t0ken", "HOME": "/root"}
    (tmp_path / "command").write_text(json.dumps({"command": ["ansible-playbook"], "cwd": "/p", "env": env}))
    mask_secrets(tmp_path)
    kept = json.loads((tmp_path / "command").read_text())
    assert kept["env"] == {"ANSIBLE_CONFIG": "/p/ansible.cfg", "LAB_X": "1", "PATH": "/bin"} and kept["cwd"] == "/p"


def test_a_resume_reuses_the_campaigns_own_options_unless_given_again() -> None:
    first = BenchRequest(
        project=PROJECT, results=Path("/r"), inventory=Path("/i"), campaign="c", profile="smoke_concurrent", rounds=3, extra=["lab_seed=2"]
    )
    again = BenchRequest(project=PROJECT, results=Path("/r"), inventory=Path("/i"), campaign="c", resume=True)
    resumed = again.resumed(first.recorded())
    assert (resumed.profile, resumed.rounds, resumed.extra, resumed.modes) == ("smoke_concurrent", 3, ["lab_seed=2"], None)
    assert again.resumed({}).profile is None
    told = BenchRequest(project=PROJECT, results=Path("/r"), inventory=Path("/i"), campaign="c", resume=True, rounds=5)
    assert told.resumed(first.recorded()).rounds == 5


def _captured(monkeypatch: pytest.MonkeyPatch) -> list[BenchRequest]:
    seen: list[BenchRequest] = []

    def run(request: BenchRequest, tty: bool | None = None) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr("labcli.bench.run", run)
    return seen


def test_knobs_given_with_e_are_honoured_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _captured(monkeypatch)
    where = tmp_path / "elsewhere"
    argv = ["bench", "--profile", "smoke", "-e", f"lab_results_dir={where}", "-e", "lab_campaign_id=X", "-e", "lab_seed=3"]
    assert main(argv) == 0
    (request,) = seen
    assert request.results == where and request.campaign == "X" and request.profile == "smoke"
    assert request.extravars()["lab_results_dir"] == str(where) and request.extravars()["lab_campaign_id"] == "X"
    assert "-e lab_seed=3" in request.cmdline()
    assert main(["bench", "-e", '{"lab_profile": "aa", "lab_rounds": 4}', "-e", "lab_modes=native,native_b", "--results", str(where)]) == 0
    assert (seen[1].profile, seen[1].rounds, seen[1].modes) == ("aa", 4, ["native", "native_b"])
    relative = main(["bench", "-e", "lab_results_dir=mine", "--campaign", "Y"])
    assert relative == 0 and seen[2].results == PROJECT / "mine", "relative to the project, as the lab role reads it"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--campaign", "a", "-e", "lab_campaign_id=b"], "-e lab_campaign_id=b contradicts --campaign a: give one of them"),
        (["--profile", "aa", "-e", "lab_profile=capacity"], "-e lab_profile=capacity contradicts --profile aa"),
        (["--rounds", "3", "-e", "lab_rounds=4"], "-e lab_rounds=4 contradicts --rounds 3"),
        (["-e", "lab_rounds=none"], "-e lab_rounds: --rounds 'none': a whole number of rounds"),
        (["-e", "[1, 2]"], "extra vars must be key=value pairs"),
    ],
)
def test_a_knob_given_two_ways_is_refused_by_name(
    argv: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _captured(monkeypatch)
    assert main(["bench", "--results", str(tmp_path), *argv]) == 2
    assert message in capsys.readouterr().err and not seen


def test_a_different_results_folder_with_e_contradicts_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--results", str(tmp_path / "a"), "-e", f"lab_results_dir={tmp_path / 'b'}"]) == 2
    assert f"-e lab_results_dir={tmp_path / 'b'} contradicts --results {tmp_path / 'a'}" in capsys.readouterr().err
