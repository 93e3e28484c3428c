"""Reusable fault injection for the fault tests: start a real campaign, wait on conditions, break things.

Every wait is bounded; nothing sleeps blindly. Traffic stays on loopback and the lab's own
containers.
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from labrun import ROOT

LAB_ROOT = Path("/opt/container-cost-lab")
DAEMONS = Path("/var/lib/container-cost-lab/daemons")
PHASES_AFTER_BUILD = ("playbooks/deploy.yml", "playbooks/verify.yml", "playbooks/measure.yml")
FAULT_PROFILE = {
    "executor": "constant-vus",
    "vus": 4,
    "sleep_s": 0,
    "warmup_s": 2,
    "measure_s": 8,
    "rounds": 2,
    "client_lifecycle": "shared",
    "modes": ["native", "docker"],
}


def wait_until(condition: Callable[[], object], timeout_s: float, what: str, every_s: float = 0.2) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(every_s)


def pid_of(name: str) -> int:
    return int((DAEMONS / f"{name}.pid").read_text().strip())


class CampaignRun:
    """One ansible-playbook invocation running a campaign in the background."""

    def __init__(self, results: Path, campaign_id: str, profile: dict[str, object] | None = None, **extra: object) -> None:
        self.results, self.campaign_id = results, campaign_id
        profiles = {"faults": profile or FAULT_PROFILE}
        self.extra = {
            "lab_profile": "faults",
            "lab_profiles": profiles,
            "lab_results_dir": str(results),
            "lab_campaign_id": campaign_id,
        } | extra
        self.process: subprocess.Popen[str] | None = None
        self.log = results / f"{campaign_id}.ansible.log"

    @property
    def folder(self) -> Path:
        """This machine's folder in the campaign (results/<id>/<target>/)."""
        return self.results / self.campaign_id / "localhost"

    def start(self, *playbooks: str) -> "CampaignRun":
        binary = Path(sys.executable).with_name("ansible-playbook")
        env = os.environ | {
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{binary.parent}:{os.environ.get('PATH', '')}",
        }
        self.results.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("w")
        self.process = subprocess.Popen(
            [str(binary), *(playbooks or PHASES_AFTER_BUILD), "-e", json.dumps(self.extra)],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return self

    def finish(self, timeout_s: float = 600) -> tuple[int, str]:
        assert self.process is not None
        rc = self.process.wait(timeout=timeout_s)
        return rc, self.log.read_text()

    def interrupt(self) -> None:
        """Kill the control node's whole process group, as a lost terminal or kill -9 would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def k6_running(self, mode: str, round_: int) -> str | None:
        """The name of the run whose k6 is running against `mode` in `round_`, once its measured phase began."""
        found = subprocess.run(
            ["pgrep", "-f", f"k6 run .*--tag mode={mode} --tag round={round_} --tag campaign={self.campaign_id}"],
            capture_output=True,
            text=True,
        )
        warmup = float(self.extra["lab_profiles"]["faults"]["warmup_s"])  # type: ignore[index]
        for pid in found.stdout.split():
            elapsed = subprocess.run(["ps", "-o", "etimes=", "-p", pid], capture_output=True, text=True).stdout.strip()
            if elapsed.isdigit() and int(elapsed) >= warmup + 1:
                return pid
        return None

    def wait_for_measuring(self, mode: str, round_: int, timeout_s: float = 240) -> None:
        wait_until(lambda: self.k6_running(mode, round_), timeout_s, f"k6 measuring {mode} round {round_}")

    def records(self) -> dict[str, dict[str, object]]:
        """Every run.json, those of runs still running (or cut short) included."""
        return {p.parent.name: json.loads(p.read_text()) for p in sorted(self.folder.glob("runs/*/run.json"))}

    def run_order(self) -> list[dict[str, object]] | None:
        """The campaign's run order once its manifest is written (None before, or while it is being written)."""
        try:
            return list(json.loads((self.folder / "manifest.json").read_text())["run_order"])
        except (OSError, ValueError, KeyError):
            return None

    def runs(self) -> dict[str, dict[str, object]]:
        """The runs that ended (a run's record says `running` from its start until then)."""
        return {name: meta for name, meta in self.records().items() if meta.get("status") != "running"}

    def wait_for_run_json(self, mode: str, round_: int, timeout_s: float = 120) -> None:
        wait_until(
            lambda: any(r["mode"] == mode and r["round"] == round_ for r in self.runs().values()),
            timeout_s,
            f"run.json of {mode} round {round_}",
        )
