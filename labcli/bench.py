"""Run bench.yml through ansible-runner: structured events in, progress out, artifacts kept.

The campaign id is chosen here (so the artifacts can live in the campaign's folder before
Ansible names it) and is the runner's `ident`: Ansible's stdout and every job event land in
results/<id>/ansible/<ident>/. A resumed campaign gets the next ident (<id>.2, <id>.3 ...),
so nothing recorded by an earlier attempt is overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from labcli.campaigns import LAB_FILE, read_json
from labcli.progress import Progress

# A password in a URI, as the lab masks it everywhere else (roles/lab/vars/main.yml).
_SECRET_IN_URI = re.compile(r"(//[^:/@\s\"']*):[^@/\s\"']*@")


@dataclass
class BenchRequest:
    """What `lab bench` was asked to do, as Ansible extra vars."""

    project: Path
    results: Path
    inventory: Path
    campaign: str
    resume: bool = False
    profile: str | None = None
    modes: list[str] | None = None
    rounds: int | None = None
    verify_only: bool = False
    extra: list[str] = field(default_factory=list)

    def extravars(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lab_campaign_id": self.campaign, "lab_results_dir": str(self.results)}
        if self.profile:
            out["lab_profile"] = self.profile
        if self.modes:
            out["lab_modes"] = self.modes
        if self.rounds:
            out["lab_rounds"] = self.rounds
        if self.verify_only:
            out["lab_verify_only"] = True
        return out

    def recorded(self) -> dict[str, Any]:
        """What a resume reuses when it is not told otherwise (lab.json)."""
        return {"profile": self.profile, "modes": self.modes, "rounds": self.rounds, "extra": self.extra}

    def resumed(self, recorded: dict[str, Any]) -> BenchRequest:
        """This request with the recorded campaign's settings wherever this one gives none."""
        return replace(
            self,
            profile=self.profile or recorded.get("profile"),
            modes=self.modes or recorded.get("modes"),
            rounds=self.rounds or recorded.get("rounds"),
            extra=self.extra or list(recorded.get("extra") or []),
        )

    def cmdline(self) -> str:
        """Passthrough `-e` values, after the options above (so they win, as on ansible-playbook)."""
        return " ".join(f"-e {shlex.quote(e)}" for e in self.extra)


def new_campaign_id(results: Path, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """A UTC timestamp id that no folder in `results` has yet (suffix -2, -3 ... within one second)."""
    base = now().strftime("%Y%m%dT%H%M%SZ")
    candidate, n = base, 1
    while (results / candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def next_ident(artifacts: Path, campaign: str) -> str:
    """<id> for the first attempt, <id>.2, <id>.3 ... for each resume."""
    if not (artifacts / campaign).exists():
        return campaign
    n = 2
    while (artifacts / f"{campaign}.{n}").exists():
        n += 1
    return f"{campaign}.{n}"


class Printer:
    """Progress on a terminal (one live line, rewritten) or in a log (one line per event worth a line)."""

    def __init__(self, progress: Progress, out: TextIO, tty: bool, every_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.progress, self.out, self.tty, self.every_s, self.clock = progress, out, tty, every_s, clock
        self._shown = -1e9
        self._live = False

    def __call__(self, event: Mapping[str, Any]) -> bool:
        for line in self.progress.feed(event):
            self._print(line)
        if self.tty and self.clock() - self._shown >= self.every_s:
            self._shown = self.clock()
            self.out.write("\r\x1b[2K" + self.progress.live_line()[: _columns() - 1])
            self.out.flush()
            self._live = True
        return True  # keep the event in the runner's artifacts

    def _print(self, line: str) -> None:
        if self._live:
            self.out.write("\r\x1b[2K")
            self._live = False
        self.out.write(line + "\n")
        self.out.flush()
        self._shown = -1e9  # redraw the live line below it

    def close(self) -> None:
        for line in self.progress.flush():
            self._print(line)
        if self._live:
            self.out.write("\r\x1b[2K")
            self.out.flush()


def run(request: BenchRequest, out: TextIO = sys.stdout, tty: bool | None = None) -> int:
    """Run the campaign; print progress; return the playbook's exit code."""
    tty = out.isatty() if tty is None else tty
    folder = request.results / request.campaign
    artifacts = folder / "ansible"
    artifacts.mkdir(parents=True, exist_ok=True)
    ident = next_ident(artifacts, request.campaign)
    log = artifacts / ident / "stdout"
    lab_file = folder / LAB_FILE
    started = datetime.now(UTC).isoformat(timespec="seconds")
    _write_json(
        lab_file,
        {
            "pid": os.getpid(),
            "started_at": started,
            "ident": ident,
            "profile": request.profile,
            "inventory": str(request.inventory),
            "argv": sys.argv,
            "request": request.recorded(),
        },
    )
    progress = Progress()
    printer = Printer(progress, out, tty)
    print(f"campaign {request.campaign} (ansible log: {log})", file=out, flush=True)
    with _stop_on_signals() as stopped:
        result = _run_playbook(request, "bench.yml", artifacts, ident, printer, cancel=lambda: bool(stopped))
    printer.close()
    mask_secrets(artifacts / ident)
    rc = int(result.rc if result.rc is not None else 1)
    if result.status == "canceled":
        rc = 130
        print(f"interrupted ({stopped[0].name}); putting the targets back (playbooks/restore.yml) ...", file=out, flush=True)
        restore = _run_playbook(request, "playbooks/restore.yml", artifacts, f"{ident}.restore", lambda event: True)
        if restore.status != "successful":
            print(f"restoring failed ({restore.status}); see {artifacts / (ident + '.restore') / 'stdout'}", file=out)
    _write_json(
        lab_file,
        {**(_read_json(lab_file)), "rc": rc, "status": result.status, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
    )
    if rc != 0:
        failure = progress.failure
        if result.status != "canceled":
            what = failure.paragraph(str(log)) if failure else f"ansible-playbook ended {result.status} (exit {rc}); full log: {log}"
            print(what, file=out)
        print(f"resume with: lab bench --resume {request.campaign}", file=out, flush=True)
        return rc
    for line in final_lines(folder, request.verify_only):
        print(line, file=out)
    out.flush()
    return 0


def _run_playbook(
    request: BenchRequest,
    playbook: str,
    artifacts: Path,
    ident: str,
    handler: Callable[[Mapping[str, Any]], bool],
    cancel: Callable[[], bool] | None = None,
) -> Any:
    import ansible_runner

    with tempfile.TemporaryDirectory(prefix="lab-runner-") as private:
        return ansible_runner.run(
            private_data_dir=private,
            project_dir=str(request.project),
            playbook=playbook,
            inventory=str(request.inventory),
            artifact_dir=str(artifacts),
            ident=ident,
            extravars=request.extravars(),
            cmdline=request.cmdline() or None,
            envvars={
                "ANSIBLE_CONFIG": str(request.project / "ansible.cfg"),
                "ANSIBLE_NOCOLOR": "1",
                # The ansible-playbook of this interpreter's venv, even when `lab` was called by its path.
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            },
            event_handler=handler,
            cancel_callback=cancel,
            quiet=True,
            suppress_env_files=True,
        )


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[list[signal.Signals]]:
    """Ctrl-C or SIGTERM: remember it (the runner's cancel callback stops the playbook) instead of raising."""
    stopped: list[signal.Signals] = []

    def remember(signum: int, _frame: object) -> None:
        stopped.append(signal.Signals(signum))

    previous = {s: signal.signal(s, remember) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def final_lines(folder: Path, verify_only: bool) -> list[str]:
    """The verdicts of every target's report and where the reports are (or the verify result)."""
    if verify_only:
        return [f"verified: {p}" for p in sorted(folder.glob("*/verify.json"))] or ["verified (no verify.json written)"]
    lines: list[str] = []
    for gap in sorted(folder.glob("*/report/gap.json")):
        data = _read_json(gap)
        lines += [f"[{gap.parent.parent.name}] {v}" for v in data.get("verdicts", [])]
        lines.append(f"[{gap.parent.parent.name}] report: {gap.parent / 'report.html'}")
    fleet = folder / "report" / "report.html"
    if fleet.exists():
        lines.append(f"fleet report: {fleet}")
    return lines


def mask_secrets(folder: Path) -> int:
    """Mask passwords in URIs in every file under `folder` (Ansible's stdout, job events), and keep
    only the Ansible and lab variables of the environment the runner records; returns files changed."""
    changed = _trim_environment(folder / "command")
    for path in _files(folder):
        text = path.read_text(errors="replace")
        masked = _SECRET_IN_URI.sub(r"\1:***@", text)
        if masked != text:
            path.write_text(masked)
            changed += 1
    return changed


def _trim_environment(command: Path) -> int:
    """The runner's `command` file holds the whole environment (tokens included): keep what explains the run."""
    data = _read_json(command)
    env = data.get("env")
    if not isinstance(env, dict):
        return 0
    data["env"] = {k: v for k, v in env.items() if k.startswith(_KEPT_ENV)}
    _write_json(command, data)
    return 1


_KEPT_ENV = ("ANSIBLE_", "LAB_", "PATH", "PYTHON")


def _files(folder: Path) -> Iterable[Path]:
    return (p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else ()


def _read_json(path: Path) -> dict[str, Any]:
    return read_json(path) or {}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 120
