"""lab_round.py: a round's restarts, health waits, priming and reads in one process."""

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def lab_round(lab_file: Callable[[str], ModuleType]) -> ModuleType:
    return lab_file("files/lab_round.py")


class _Service(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = {"/health": b'{"status": "ok"}', "/records": b"[1, 2, 3]", "/stats": b'{"requests": 7}'}.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body or b"no")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _spec(tmp_path: Path, modes: dict[str, Any], restart: bool = True) -> dict[str, Any]:
    return {"modes": modes, "restart": restart, "timeout_s": 0.5, "cgroups": {"modes": {m: {} for m in modes}}, "bin": str(tmp_path)}


def _daemon(tmp_path: Path, name: str, stop: list[str], start: list[str]) -> str:
    recipe = tmp_path / f"{name}.restart.json"
    recipe.write_text(json.dumps({"stop": stop, "start": start}))
    return str(recipe)


def test_prepare_restarts_waits_places_and_primes_every_mode(
    lab_round: ModuleType, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed: list[list[str]] = []
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: placed.append(sorted(modes)) or {"equal_weight": True})
    started = tmp_path / "started"
    modes = {
        "a": {"base": service, "daemon": _daemon(tmp_path, "a", ["false"], ["touch", str(started)])},
        "b": {"base": service, "daemon": _daemon(tmp_path, "b", ["true"], ["true"])},
    }
    found = lab_round.prepare(_spec(tmp_path, modes))
    # A stop that finds nothing to stop (exit 1) is no problem; the start ran.
    assert found["unhealthy"] == [] and found["problems"] == {} and started.exists()
    assert placed == [["a", "b"]] and found["accounting"] == {"equal_weight": True}
    assert [(p["item"], p["status"]) for p in found["primer"]] == [
        (["a", "records"], 200),
        (["a", "stats"], 200),
        (["b", "records"], 200),
        (["b", "stats"], 200),
    ]
    assert found["primer"][0]["content"] == "[1, 2, 3]" and found["primer"][1]["json"] == {"requests": 7}
    assert set(found["timings_s"]) == {"restart", "health", "cgroups", "prime", "total"}


def test_a_mode_that_does_not_come_back_is_named_with_why_and_left_out(
    lab_round: ModuleType, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: {"modes": sorted(modes)})
    modes = {
        "up": {"base": service, "daemon": _daemon(tmp_path, "up", ["true"], ["true"])},
        "broken": {"base": service, "daemon": _daemon(tmp_path, "broken", ["true"], ["sh", "-c", "echo no such venv >&2; exit 3"])},
        "down": {"base": "http://127.0.0.1:9", "daemon": _daemon(tmp_path, "down", ["true"], ["true"])},
    }
    found = lab_round.prepare(_spec(tmp_path, modes))
    assert found["unhealthy"] == ["broken", "down"]
    assert "exited 3: no such venv" in found["problems"]["broken"]
    assert found["problems"]["down"] == "no 200 from /health within 0.5 s"
    assert found["accounting"] == {"modes": ["up"]}
    assert {p["item"][0] for p in found["primer"]} == {"up"}


def test_after_reads_each_modes_counters_and_checks_the_placement(
    lab_round: ModuleType, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[bool] = []
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: checks.append(check) or {"equal_weight": True})
    found = lab_round.after(
        _spec(tmp_path, {"a": {"base": service, "container": "lab-a"}, "gone": {"base": "http://127.0.0.1:9", "container": "lab-gone"}})
    )
    assert checks == [True]
    assert [(a["item"], a["status"]) for a in found["after"]] == [("a", 200), ("gone", -1)]


def test_every_walk_over_the_modes_goes_in_the_rounds_order(
    lab_round: ModuleType, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No mode is always primed, placed or read first: the walks follow the round's order."""
    placed: list[list[str]] = []
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: placed.append(list(modes)) or {})
    modes = {m: {"base": service, "container": f"lab-{m}"} for m in ("native", "b", "c")}
    spec = _spec(tmp_path, modes, restart=False) | {"order": ["c", "native", "b"]}
    found = lab_round.prepare(spec)
    assert [p["item"][0] for p in found["primer"]][::2] == ["c", "native", "b"]
    assert [a["item"] for a in lab_round.after(spec)["after"]] == ["c", "native", "b"]
    assert placed == [["c", "native", "b"]] * 2
    assert list(lab_round.in_order(spec | {"order": ["b"]})) == ["b", "native", "c"], "modes the order leaves out come last"


def test_lab_cgroups_is_given_the_modes_in_the_rounds_order(lab_round: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[list[str]] = []

    def run(argv: list[str], **_: Any) -> Any:
        given.append(list(json.loads(argv[-1])["modes"]))
        return type("Done", (), {"stdout": "{}", "returncode": 0, "stderr": ""})()

    monkeypatch.setattr(lab_round.subprocess, "run", run)
    spec = {"cgroups": {"modes": {"native": {}, "b": {}, "c": {}}}, "bin": str(tmp_path)}
    lab_round.cgroups(spec, {"c": {}, "native": {}}, check=True)
    assert given == [["c", "native"]]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "non-empty object 'modes'"),
        ({"modes": {"a": {"base": "http://x"}}}, "mode a: needs 'base' and one of 'daemon'"),
        ({"modes": {"a": {"base": "http://x", "daemon": "f", "container": "c"}}}, "mode a: needs 'base' and one of"),
        ({"modes": {"a": {"base": "http://x", "container": "c"}}}, "needs 'cgroups'"),
    ],
)
def test_bad_specs_are_refused_naming_what_is_wrong(
    lab_round: ModuleType, spec: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lab_round.main(["lab_round.py", "prepare", json.dumps(spec)]) == 2
    assert message in capsys.readouterr().err
    assert lab_round.main(["lab_round.py", "sideways", "{}"]) == 2


def test_a_round_in_one_call_fills_in_the_start_and_the_samplers_end_and_reports_k6_as_a_job(
    lab_round: ModuleType, service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: {"equal_weight": True, "check": check})
    scratch = tmp_path / "scratch"
    spec = _spec(tmp_path, {"a": {"base": service, "daemon": _daemon(tmp_path, "a", ["true"], ["true"])}})
    spec["load"] = {
        "scratch": str(scratch),
        "duration_s": 2,
        # k6 waits for the sampler's line: its end is signalled as k6 ends, and a shell that has not
        # written yet would die of the signal (a race the test, not the lab, would lose).
        "k6_argv": [
            "sh",
            "-c",
            f"echo start {{start_at}} > {scratch}/k6.txt; for _ in $(seq 500); do [ -s {scratch}/sampler.txt ] && break; sleep 0.01; done;"
            " echo done; exit 99",
        ],
        "sampler_argv": ["sh", "-c", f"echo until {{until}} > {scratch}/sampler.txt"],
    }
    found = lab_round.one_round(spec)
    started = float((scratch / "k6.txt").read_text().split()[1])
    until = float((scratch / "sampler.txt").read_text().split()[1])
    assert until == pytest.approx(started + 3, abs=0.01)
    assert found["k6"]["rc"] == 99 and found["k6"]["stdout"] == "done\n" and found["k6"]["cmd"][2].startswith("echo start 1")
    assert found["accounting"] == {"equal_weight": True, "check": True} and found["placement"]["check"] is False
    assert [a["item"] for a in found["after"]] == ["a"] and set(found["timings_s"]) == {"prepare", "load", "after"}


def test_a_round_whose_mode_did_not_come_back_runs_no_load(lab_round: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_round, "cgroups", lambda spec, modes, check: {})
    spec = _spec(tmp_path, {"down": {"base": "http://127.0.0.1:9", "daemon": _daemon(tmp_path, "down", ["true"], ["true"])}})
    spec["load"] = {"scratch": str(tmp_path / "s"), "duration_s": 1, "k6_argv": ["false"], "sampler_argv": ["false"]}
    found = lab_round.one_round(spec)
    assert found["unhealthy"] == ["down"] and found["k6"] is None and not (tmp_path / "s").exists()
    assert lab_round.main(["lab_round.py", "round", json.dumps(_spec(tmp_path, {"a": {"base": "x", "container": "c"}}))]) == 2
