"""The order of the lab's tests, and the campaign several modules read, run once per session.

A campaign on this machine costs minutes; the CLI's tests (test_lab_cli.py) and the concurrent
design's (test_concurrent.py) read the same one: the ladder's every mode through `lab bench`,
with k6's dashboard and ASLR off so that those paths run too.
"""

import subprocess
from pathlib import Path

import pytest

from labrun import LAB, ROOT, Campaign, wait_for_side_tests

ASLR = Path("/proc/sys/kernel/randomize_va_space")
# First: modules whose campaigns are sequential (no round is left out for other work on the
# machine), so they run while `make side-tests` still does; the concurrent ones wait for it.
FIRST = ("test_faults.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in FIRST)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def ladder_campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    results = tmp_path_factory.mktemp("shared-results")
    wait_for_side_tests()  # its report counts both rounds
    aslr_before = ASLR.read_text().strip()
    argv = ["bench", "--profile", "smoke_ladder", "--results", str(results), "--campaign", "ci-ladder", "--plain"]
    # ASLR off (not the default) so that the disable-and-restore path is exercised.
    extra = ["-e", "lab_k6_dashboard=true", "-e", "lab_disable_aslr=true"]
    cli = subprocess.run([str(LAB), *argv, *extra], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-2000:]
    assert ASLR.read_text().strip() == aslr_before, "the measure phase must restore kernel.randomize_va_space"
    return Campaign(results, "ci-ladder", cli)
