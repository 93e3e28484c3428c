"""A study: N campaigns of one profile spread in time, each one occasion, pooled at the end.

`lab bench --occasions N --every DURATION [--study ID]` runs campaign ID-o1 at once, ID-o2
DURATION after the study started, and so on (an occasion whose time has passed starts at once),
each an ordinary campaign in the results folder; then it pools them (python -m
analysis.occasions) into results/ID.pool.json and prints the pooled gap, the interval across
occasions. results/ID.study.json records the plan and the campaigns; the same command again
resumes the study: finished occasions are kept, an interrupted one is resumed, the rest run.

Why: a campaign's CI covers its rounds, not the occasion (the machine's state that hour); on
the lab's machine campaigns hours apart disagreed beyond their CIs. Only other occasions show
that spread, and each campaign's report pools the comparable campaigns before it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from labcli.bench import BenchRequest
from labcli.campaigns import LAB_FILE, read_json

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration_s(text: str) -> int:
    """'90s', '45m', '1h', '1h30m' as seconds; ValueError naming the text otherwise."""
    found = _DURATION.match(text.strip())
    if not text.strip() or not found or not any(found.groups()):
        raise ValueError(f"--every {text!r}: a duration such as 90s, 45m, 1h or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class Study:
    id: str
    occasions: int
    every_s: int
    started_at: float  # epoch seconds

    def campaign(self, i: int) -> str:
        return f"{self.id}-o{i}"

    def starts_at(self, i: int) -> float:
        return self.started_at + (i - 1) * self.every_s

    def record(self, request: BenchRequest) -> dict[str, Any]:
        return {
            "study": self.id,
            "occasions": self.occasions,
            "every_s": self.every_s,
            "started_at": datetime.fromtimestamp(self.started_at, UTC).isoformat(timespec="seconds"),
            "campaigns": [self.campaign(i) for i in range(1, self.occasions + 1)],
            "request": request.recorded(),
        }


def plan(results: Path, study_id: str, occasions: int, every_s: int, request: BenchRequest, now: float) -> tuple[Study, str | None]:
    """The study, new or as recorded; or why the recorded one cannot be continued with these options."""
    path = results / f"{study_id}.study.json"
    recorded = read_json(path)
    if recorded is None:
        if path.exists():
            return Study(study_id, occasions, every_s, now), f"{path}: unreadable; move it away to start the study afresh"
        study = Study(study_id, occasions, every_s, now)
        results.mkdir(parents=True, exist_ok=True)
        _write(path, study.record(request))
        return study, None
    for key, value in (("occasions", occasions), ("every_s", every_s)):
        if recorded.get(key) != value:
            return Study(study_id, occasions, every_s, now), f"{path}: the study has {key} {recorded.get(key)}, not {value}"
    started = datetime.fromisoformat(str(recorded["started_at"])).timestamp()
    return Study(study_id, occasions, every_s, started), None


def finished(results: Path, campaign: str) -> bool:
    return (read_json(results / campaign / LAB_FILE) or {}).get("rc") == 0


def run(
    study: Study,
    request: BenchRequest,
    bench: Callable[[BenchRequest], int],
    pool: Callable[[list[str]], int],
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run every occasion not yet finished, each at its time, then pool them; the first failing campaign's code."""
    results = request.results
    for i in range(1, study.occasions + 1):
        campaign = study.campaign(i)
        if finished(results, campaign):
            print(f"occasion {i}/{study.occasions}: {campaign} finished earlier, kept", file=out, flush=True)
            continue
        wait = study.starts_at(i) - clock()
        if wait > 0:
            at = datetime.fromtimestamp(study.starts_at(i), UTC).strftime("%H:%M:%S UTC")
            print(f"occasion {i}/{study.occasions}: {campaign} starts at {at} (in {wait / 60:.1f} min)", file=out, flush=True)
            sleep(wait)
        again = (results / campaign).is_dir()
        print(f"occasion {i}/{study.occasions}: {campaign}{' (resumed)' if again else ''}", file=out, flush=True)
        rc = bench(replace(request, campaign=campaign, resume=again))
        if rc != 0:
            print(f"study {study.id}: occasion {i} ended with exit {rc}; the same command resumes the study", file=out, flush=True)
            return rc
    folders = [str(results / study.campaign(i)) for i in range(1, study.occasions + 1)]
    if study.occasions < 2:
        print(f"study {study.id}: one occasion; its report is the campaign's own", file=out)
        return 0
    return pool([*folders, "--json", str(results / f"{study.id}.pool.json")])


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
