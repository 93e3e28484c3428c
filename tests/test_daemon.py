"""The daemon role without systemd: a pidfile's process is the daemon only if it runs the daemon's
executable (a recycled pid is not; nor is a zombie, which PID 1 reaps about 1 s late here)."""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from labrun import ansible_playbook

pytestmark = pytest.mark.side  # a daemon of its own, in a folder of its own
NAME = "lab-test-daemon"


def run(state: str, state_dir: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    settings = {"test_daemon_name": NAME, "test_state_dir": str(state_dir), "test_daemon_state": state, "test_daemon_env": env or {}}
    return ansible_playbook("tests/playbooks/daemon.yml", "-e", json.dumps(settings), timeout=120)


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


def test_the_process_gets_exactly_its_environment(state_dir: Path) -> None:
    """Nothing of the control node's environment (ansible-runner's campaign folder, ANSIBLE_*) reaches it:
    with ASLR off, the environment's size moves the process's memory layout."""
    odd = "a b'c\"d $HOME `x` %s"
    result = run("started", state_dir, {"LAB_ODD": odd, "LAB_URI": "mongodb://lab:p%40ss@127.0.0.1/"})
    assert result.returncode == 0, result.stdout
    environ = Path(f"/proc/{pid_of(state_dir)}/environ").read_bytes().split(b"\0")
    seen = dict(item.decode().split("=", 1) for item in environ if item)
    assert seen == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LAB_ODD": odd,
        "LAB_URI": "mongodb://lab:p%40ss@127.0.0.1/",
        "PWD": "/",
    }
    assert b"p%40ss" not in Path(f"/proc/{pid_of(state_dir)}/cmdline").read_bytes()
    env_file = state_dir / "env" / f"{NAME}.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


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


def test_a_password_uri_with_percent_is_only_in_the_root_only_environment_file(tmp_path: Path) -> None:
    """The systemd path's files for a mode whose URI holds a password with %, " and \\ (systemd is not
    PID 1 on these machines: the unit is rendered and read, not started)."""
    password = 'p%40ss%25w"ord\\x'
    uri = f"mongodb://lab:{password}@127.0.0.1:27017/?authSource=admin"
    (tmp_path / "env").mkdir()
    (tmp_path / "systemd").mkdir()
    result = ansible_playbook("tests/playbooks/secrets.yml", "-e", json.dumps({"test_dir": str(tmp_path), "test_uri": uri}), timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert password not in result.stdout + result.stderr
    unit = tmp_path / "systemd" / "lab-service-native.service"
    env_file = tmp_path / "etc" / "service-native.env"
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644 and stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(env_file.parent.stat().st_mode) == 0o711
    assert f"EnvironmentFile={env_file}" in unit.read_text()
    # systemd.exec(5): KEY="value", backslash escapes inside the quotes; no % specifiers in this file.
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert json.loads(values["LAB_MONGODB_URI"]) == uri
    holding = [p for p in tmp_path.rglob("*") if p.is_file() and "p%40ss" in p.read_text()]
    assert holding == [env_file], "only the 0600 environment file holds the password"
    recorded = json.loads((tmp_path / "env" / "native.json").read_text())
    assert recorded["LAB_MONGODB_URI"].startswith("sha256:")
