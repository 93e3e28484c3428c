"""Molecule `default`: the provisioning playbooks converge on a fresh container, twice with no change."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labrun import ROOT

pytestmark = pytest.mark.side  # its own container


def test_molecule_default_converges_idempotently_and_verifies() -> None:
    binary = Path(sys.executable).with_name("molecule")
    env = os.environ | {"PATH": f"{binary.parent}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1", "NO_COLOR": "1"}
    result = subprocess.run([str(binary), "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}: Executed: Successful" in output, f"molecule step {step} did not succeed"
