"""Helpers for the tests that drive the real playbooks on this machine."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ansible_playbook(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run ansible-playbook from the project root with its ansible.cfg; never raises on failure."""
    binary = Path(sys.executable).with_name("ansible-playbook")
    env = os.environ | {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    env["PATH"] = f"{binary.parent}:{env.get('PATH', '')}"
    return subprocess.run([str(binary), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
