"""Progress from runner events: structured facts in, the lines a user reads out."""

import io
from typing import Any

from labcli.bench import Printer
from labcli.progress import Progress, headline


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ok(facts: dict[str, Any], task: str = "any task name") -> dict[str, Any]:
    return {"event": "runner_on_ok", "event_data": {"task": task, "host": "localhost", "res": {"ansible_facts": facts}}}


def event(kind: str, **fields: Any) -> dict[str, Any]:
    """The facts of a set_fact that publishes a lab_event (roles/lab/tasks: measure, round, run)."""
    return {"lab_event": {"type": kind, **fields}}


PLAN = {
    "design": "concurrent",
    "baseline": "native",
    "primary_metric": "cpu_us_per_request",
    "max_rounds": 70,
    "max_minutes": 15,
    "target_ci_pp": 0.5,
}


def record(round_: int, docker: float, status: str = "ok") -> dict[str, Any]:
    return {
        "round": round_,
        "modes": ["native", "docker"],
        "status": status,
        "error": None if status == "ok" else "k6 exited 99",
        "per_mode": {"native": {"cpu_us_per_request": 400.0}, "docker": {"cpu_us_per_request": docker}},
    }


def test_a_concurrent_campaign_reads_lab_event_not_task_names() -> None:
    clock = Clock()
    p = Progress(clock=clock)
    assert p.feed({"event": "playbook_on_play_start", "event_data": {"play": "Measure"}}) == ["· Measure"]
    assert p.feed(ok(event("plan", **PLAN))) == []
    p.feed(ok(event("run", round=1, modes=["native", "docker"])))
    clock.now += 30
    assert p.feed(ok(event("record", record=record(1, 500.0)), task="renamed task")) == [], "the line waits for this round's precision"
    lines = p.feed(ok(event("precision", widths={"docker": 1.234}, stop_reason="")))
    assert lines == ["  round 1 (≤ 70)  r1 native docker: ok cpu_us_per_request: docker +25.0%  [0m30s] · CI docker ±1.23 pp (target 0.5)"]
    live = p.live_line()
    assert "round 1 (≤ 70)" in live and "~14m30s left" in live and "docker ±1.23 pp (target 0.5)" in live
    assert p.feed(ok({"__lab_stop_reason": "every primary comparison reached the target"})) == [], "private facts are not read"
    assert p.feed(ok(event("precision", widths={"docker": None}, stop_reason="every primary comparison reached the target"))) == [
        "  stopped: every primary comparison reached the target"
    ]
    assert p.widths == {}, "a width not yet known is left out"


def test_a_planned_campaign_counts_runs_and_estimates_from_its_pace() -> None:
    clock = Clock()
    p = Progress(clock=clock)
    p.feed(ok(event("plan", design="sequential", runs_total=6)))
    for _ in (1, 2):
        clock.now += 50
        p.feed(ok(event("record", record={"round": 1, "mode": "docker", "status": "ok", "error_rate": 0.0, "service_cpu_s": 4.5})))
    assert p.counter() == "run 2/6"
    assert p.eta_s() == 200.0  # 4 runs left at 50 s each
    assert "errors 0.00%, service CPU 4.50 s" in p.last


def test_failed_runs_are_counted_and_show_their_error() -> None:
    p = Progress(clock=Clock())
    p.feed(ok(event("plan", **PLAN)))
    lines = p.feed(ok(event("record", record=record(1, 0.0, status="failed")))) + p.flush()
    assert (p.runs_ok, p.runs_failed) == (0, 1)
    assert "failed k6 exited 99" in lines[0]


def test_the_first_real_failure_is_kept_with_host_task_and_message() -> None:
    p = Progress(clock=Clock())
    ignored = {"event": "runner_on_failed", "event_data": {"ignore_errors": True, "host": "h", "task": "t", "res": {"msg": "no"}}}
    p.feed(ignored)
    assert p.failure is None
    p.feed(
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "lab-1",
                "task": "Check the knobs",
                "play": "Preflight",
                "res": {"msg": "lab_profile 'x':\n  not a profile"},
            },
        }
    )
    p.feed({"event": "runner_on_failed", "event_data": {"host": "lab-2", "task": "later", "res": {"msg": "second"}}})
    assert p.failure is not None
    text = p.failure.paragraph("/r/ansible/stdout")
    assert text == "failed on lab-1, play 'Preflight', task 'Check the knobs': lab_profile 'x': not a profile\nfull log: /r/ansible/stdout"


def test_a_loop_failure_takes_the_failed_items_messages() -> None:
    p = Progress(clock=Clock())
    p.feed(
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "h",
                "task": "t",
                "play": "p",
                "res": {"results": [{"msg": "fine"}, {"failed": True, "msg": "item 2 broke"}]},
            },
        }
    )
    assert p.failure is not None and p.failure.message == "item 2 broke"


def test_headline_needs_the_baseline_in_the_round() -> None:
    assert headline(record(1, 380.0), "native", "cpu_us_per_request") == "cpu_us_per_request: docker -5.0%"
    assert headline(record(1, 380.0), "native_b", "cpu_us_per_request") == ""


def test_printer_on_a_terminal_rewrites_one_line_and_keeps_finished_runs() -> None:
    clock, out = Clock(), io.StringIO()
    printer = Printer(Progress(clock=clock), out, tty=True, every_s=1.0, clock=clock)
    assert printer(ok(event("plan", **PLAN))) is True
    printer(ok(event("run", round=1, modes=["native", "docker"])))  # within 1 s: not redrawn
    clock.now += 2
    printer(ok(event("record", record=record(1, 500.0))))
    printer(ok(event("precision", widths={"docker": 2.5}, stop_reason="")))
    printer.close()
    text = out.getvalue()
    assert text.count("\r\x1b[2K") >= 2 and "CI docker ±2.50 pp" in text
    assert "r1 native docker: ok cpu_us_per_request: docker +25.0%" in text
    assert text.endswith("\r\x1b[2K")


def test_printer_elsewhere_prints_plain_lines_only() -> None:
    clock, out = Clock(), io.StringIO()
    printer = Printer(Progress(clock=clock), out, tty=False, clock=clock)
    for runner_event in [
        {"event": "playbook_on_play_start", "event_data": {"play": "Deploy"}},
        ok(event("plan", **PLAN)),
        {"event": "runner_retry", "event_data": {"task": "Wait for k6"}},
        ok(event("record", record=record(1, 500.0))),
    ]:
        printer(runner_event)
    printer.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "· Deploy" and len(lines) == 2 and "docker +25.0%" in lines[1]
