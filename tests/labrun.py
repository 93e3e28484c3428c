"""Helpers for the tests that drive the real playbooks on this machine."""

import fcntl
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAB = Path(sys.executable).with_name("lab")
# Held by `make side-tests` (the Makefile exports the path) while it runs beside the lab's tests.
SIDE_LOCK = Path(os.environ.get("SIDE_LOCK", "/var/lib/container-cost-lab/side-tests.lock"))


def ansible_playbook(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the project root with its ansible.cfg; never raises on failure."""
    binary = Path(sys.executable).with_name("ansible-playbook")
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    env["PATH"] = f"{binary.parent}:{env.get('PATH', '')}"
    return subprocess.run([str(binary), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def wait_for_side_tests() -> None:
    """Return once `make side-tests` is not running (at once when nothing holds SIDE_LOCK).

    Beside the lab's tests, `make test` runs Molecule, preflight-only tests and the fleet's
    container hosts' provisioning: work on both cores that a concurrent round would count as other
    work and leave out of its gaps (analysis.rules.exclusion). A test that counts a concurrent
    campaign's rounds, or needs the fleet's hosts, waits for them first."""
    SIDE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with SIDE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)


@dataclass(frozen=True)
class Campaign:
    """A finished `lab bench` campaign: its results folder, its id and what the CLI printed."""

    results: Path
    campaign_id: str
    cli: subprocess.CompletedProcess[str]

    @property
    def home(self) -> Path:
        """The campaign's folder (results/<id>): every target's, the fleet report, lab.json, the runner's artifacts."""
        return self.results / self.campaign_id

    @property
    def folder(self) -> Path:
        """This machine's folder in the campaign (results/<id>/localhost)."""
        return self.home / "localhost"

    @property
    def artifacts(self) -> Path:
        """ansible-runner's artifacts of the campaign's one run."""
        return self.home / "ansible" / self.campaign_id

    @property
    def log(self) -> str:
        """ansible-playbook's full output, as ansible-runner kept it."""
        return (self.artifacts / "stdout").read_text()
