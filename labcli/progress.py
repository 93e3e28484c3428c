"""Campaign progress from ansible-runner events: what is running, how far along, the last number.

The lab publishes its progress as one fact, `lab_event`, set by the lab role at each step worth
showing; every `set_fact` result reaches ansible-runner as an event carrying it. Its types:

- `{type: plan, design, baseline, primary_metric, modes, runs_total, max_rounds, max_minutes,
  target_ci_pp}`: the campaign's plan, once, before the first run;
- `{type: run, round, name, modes | mode}`: a concurrent round (modes in its order) or a
  sequential run begins;
- `{type: record, record}`: its run.json record (status, error, per_mode);
- `{type: precision, widths: {mode: half_width_pp}, stop_reason}`: after each concurrent round,
  the CI half-widths so far and why the campaign stops ("" while it goes on).

`Progress.feed` reads those (never task names, stdout or the role's private facts) and returns
the lines to print: on a terminal one live line rewritten in place, elsewhere one line per
finished run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Event = Mapping[str, Any]


@dataclass
class Failure:
    """The first task that failed the play: where and why."""

    host: str
    task: str
    play: str
    message: str

    def paragraph(self, log: str) -> str:
        return f"failed on {self.host}, play '{self.play}', task '{self.task}': {self.message}\nfull log: {log}"


@dataclass
class Progress:
    """What the events said so far. `clock` is injectable so tests control elapsed time."""

    clock: Callable[[], float] = time.monotonic
    phase: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)
    runs_ok: int = 0
    runs_failed: int = 0
    last: str = ""
    widths: dict[str, float] = field(default_factory=dict)
    stop_reason: str = ""
    failure: Failure | None = None
    measure_started: float | None = None
    started: float = 0.0
    # A concurrent round's line waits for the precision measured after it (else it shows the
    # widths of the round before).
    pending: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.started = self.clock()

    def feed(self, event: Event) -> list[str]:
        """Take one runner event; return the lines worth printing once (phase starts, finished runs)."""
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.phase = str(data.get("play", ""))
            return [*self.flush(), f"· {self.phase}"]
        if kind in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors") and self.failure is None:
            self.failure = _failure(kind, data)
            return []
        if kind != "runner_on_ok":
            return []
        facts = (data.get("res") or {}).get("ansible_facts") or {}
        return self._facts(facts)

    def _facts(self, facts: Mapping[str, Any]) -> list[str]:
        event = facts.get("lab_event")
        if not isinstance(event, Mapping):
            return []
        kind = event.get("type")
        lines: list[str] = []
        if kind == "plan":
            self.plan = {k: v for k, v in event.items() if k != "type"}
            self.measure_started = self.clock()
        elif kind == "run":
            lines += self.flush()
            self.current = {k: v for k, v in event.items() if k != "type"}
        elif kind == "record":
            lines += self.flush()
            record = event.get("record") or {}
            if record.get("status") == "ok":
                self.runs_ok += 1
            else:
                self.runs_failed += 1
            self.last = headline(record, self.plan.get("baseline", ""), self.plan.get("primary_metric", ""))
            if self.plan.get("design") == "concurrent":
                self.pending = dict(record)
            else:
                lines.append(self.finished_line(record))
        elif kind == "precision":
            widths = event.get("widths") or {}
            self.widths = {m: float(w) for m, w in widths.items() if _finite(w)}
            lines += self.flush()
            if event.get("stop_reason"):
                self.stop_reason = str(event["stop_reason"])
                lines.append(f"  stopped: {self.stop_reason}")
        return lines

    def flush(self) -> list[str]:
        """The finished line of the round waiting for its precision, if any."""
        pending, self.pending = self.pending, None
        return [self.finished_line(pending)] if pending is not None else []

    @property
    def runs_done(self) -> int:
        return self.runs_ok + self.runs_failed

    def elapsed_s(self) -> float:
        return 0.0 if self.measure_started is None else self.clock() - self.measure_started

    def eta_s(self) -> float | None:
        """Seconds left: runs left at the pace so far (sequential), or the time budget left (concurrent)."""
        done, elapsed = self.runs_done, self.elapsed_s()
        total = self.plan.get("runs_total")
        if total and done:
            return max(0.0, (int(total) - done) * elapsed / done)
        budget = self.plan.get("max_minutes")
        if budget:
            return max(0.0, float(budget) * 60 - elapsed)
        return None

    def counter(self) -> str:
        """'run 4/9' for a planned campaign, 'round 7 (≤ 70)' for one that stops on precision."""
        total = self.plan.get("runs_total")
        if total:
            return f"run {self.runs_done}/{total}"
        cap = self.plan.get("max_rounds")
        return f"round {self.runs_done}" + (f" (≤ {cap})" if cap else "")

    def finished_line(self, record: Mapping[str, Any]) -> str:
        what = record.get("mode") or " ".join(record.get("modes") or [])
        status = record.get("status", "?")
        tail = f" {self.last}" if status == "ok" and self.last else f" {record.get('error') or ''}".rstrip()
        return f"  {self.counter()}  r{record.get('round', '?')} {what}: {status}{tail}  [{_clock(self.elapsed_s())}]{self._widths_text()}"

    def live_line(self) -> str:
        """The one line a terminal shows while the campaign runs."""
        since = _clock(self.clock() - self.started)
        if not self.plan:
            return f"{self.phase or 'starting'} · {since}"
        running = self.current.get("mode") or " ".join(self.current.get("modes") or [])
        eta = self.eta_s()
        parts = [self.phase, self.counter()]
        if self.current:
            parts.append(f"now r{self.current.get('round', '?')} {running}".strip())
        parts.append(_clock(self.elapsed_s()) + (f", ~{_clock(eta)} left" if eta is not None else ""))
        if self.last:
            parts.append(f"last: {self.last}")
        return " · ".join(parts) + self._widths_text()

    def _widths_text(self) -> str:
        if not self.widths:
            return ""
        target = self.plan.get("target_ci_pp")
        shown = ", ".join(f"{m} ±{w:.2f}" for m, w in sorted(self.widths.items()))
        return f" · CI {shown} pp" + (f" (target {target})" if target else "")


def headline(record: Mapping[str, Any], baseline: str, metric: str) -> str:
    """A run's headline: each mode's primary metric against the baseline in the same round
    (concurrent), or the run's own error rate and CPU (sequential)."""
    per_mode = record.get("per_mode")
    if isinstance(per_mode, Mapping) and baseline in per_mode and metric:
        base = per_mode[baseline].get(metric)
        gaps = []
        for mode, values in sorted(per_mode.items()):
            value = values.get(metric)
            if mode != baseline and _finite(base) and _finite(value) and base:
                gaps.append(f"{mode} {100 * (value / base - 1):+.1f}%")
        return f"{metric}: " + ", ".join(gaps) if gaps else ""
    parts = []
    if _finite(record.get("error_rate")):
        parts.append(f"errors {100 * float(record['error_rate']):.2f}%")
    if _finite(record.get("service_cpu_s")):
        parts.append(f"service CPU {float(record['service_cpu_s']):.2f} s")
    return ", ".join(parts)


def _failure(kind: str, data: Mapping[str, Any]) -> Failure:
    res = data.get("res") or {}
    message = res.get("msg") or res.get("stderr") or res.get("reason") or ("host unreachable" if kind == "runner_on_unreachable" else "")
    if not message and res.get("results"):
        message = "; ".join(str(r.get("msg", "")) for r in res["results"] if isinstance(r, Mapping) and r.get("failed"))
    return Failure(
        host=str(data.get("host", "?")),
        task=str(data.get("task", "?")),
        play=str(data.get("play", "?")),
        message=" ".join(str(message).split()) or "(no message)",
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s"
