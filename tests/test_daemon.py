"""The daemon role without systemd: a pidfile's process is the daemon only if it runs the daemon's
executable (a recycled pid is not; nor is a zombie, which PID 1 reaps about 1 s late here)."""

import os
import subprocess
from pathlib import Path

import pytest

from labrun import ansible_playbook

NAME = "lab-test-daemon"


def run(state: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    return ansible_playbook(
        "tests/playbooks/daemon.yml",
        "-e", f"test_daemon_name={NAME}", "-e", f"test_state_dir={state_dir}", "-e", f"test_daemon_state={state}",
        timeout=120,
    )  # fmt: skip


def pid_of(state_dir: Path) -> int:
    return int((state_dir / f"{NAME}.pid").read_text())


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def state_dir(tmp_path: Path):
    yield tmp_path
    pidfile = tmp_path / f"{NAME}.pid"
    if pidfile.exists() and running(pid := pid_of(tmp_path)):
        os.kill(pid, 9)


def test_restart_is_prompt_and_replaces_the_process(state_dir: Path) -> None:
    assert run("started", state_dir).returncode == 0
    first = pid_of(state_dir)
    assert running(first)
    result = run("restarted", state_dir)
    assert result.returncode == 0, result.stdout
    second = pid_of(state_dir)
    assert second != first and running(second) and not running(first)


def test_a_recycled_pid_in_the_pidfile_is_not_the_daemon(state_dir: Path) -> None:
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        (state_dir / f"{NAME}.pid").write_text(f"{stranger.pid}\n")
        result = run("started", state_dir)
        assert result.returncode == 0, result.stdout
        assert pid_of(state_dir) != stranger.pid and running(pid_of(state_dir))
        result = run("stopped", state_dir)
        assert result.returncode == 0, result.stdout
        assert stranger.poll() is None, "the daemon role killed a process that is not its daemon"
    finally:
        stranger.kill()
