"""One campaign at a time: the lock decisions of filter_plugins/lab_lock.py."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from lab_lock import decide, lab_lock_decisions, lab_lock_ours, lab_lock_stale, playbook_pid

ME = {"controller": "ctl", "pid": 4242}
PLUGINS = Path(__file__).resolve().parents[2] / "roles" / "lab" / "filter_plugins"


def slurped(lock: dict[str, object] | None, path: str = "/var/lib/container-cost-lab/campaign.lock") -> dict[str, object]:
    result: dict[str, object] = {"item": {"host": "lab-1", "path": path}}
    if lock is not None:
        result["content"] = base64.b64encode(json.dumps(lock).encode()).decode()
    else:
        result |= {"failed": True, "msg": "file not found"}
    return result


def lock(**changes: object) -> dict[str, object]:
    return {"campaign": "c-old", "controller": "ctl", "pid": 999, "started_at": "2026-11-29T12:00:00Z"} | changes


def test_a_free_place_or_our_own_lock_is_taken() -> None:
    assert decide(None, ME, "h:/l")["action"] == "take"
    assert decide(lock(pid=4242), ME, "h:/l")["action"] == "take"


def test_a_running_campaign_refuses_the_start_naming_itself() -> None:
    decision = decide(lock(), ME, "lab-1:/var/lib/container-cost-lab/campaign.lock", alive=lambda pid: True)
    assert decision["action"] == "refuse"
    assert decision["message"] == (
        "lab-1:/var/lib/container-cost-lab/campaign.lock is held by campaign c-old (ansible-playbook pid 999 on ctl, "
        "started 2026-11-29T12:00:00Z), still running: wait for it or stop it"
    )


def test_a_stale_lock_is_taken_over_with_a_warning() -> None:
    decision = decide(lock(), ME, "h:/l", alive=lambda pid: False)
    assert decision["action"] == "takeover" and "took over the stale lock of campaign c-old" in decision["message"]


def test_another_control_nodes_lock_cannot_be_checked_so_it_refuses() -> None:
    decision = decide(lock(controller="other"), ME, "h:/l", alive=lambda pid: False)
    assert decision["action"] == "refuse" and "another control node" in decision["message"] and "delete h:/l" in decision["message"]


def test_decisions_and_releases_over_slurp_results() -> None:
    dead = os.getpid() + 10_000_000  # no such process
    results = [
        slurped(None),
        slurped(lock(pid=4242), "/r/.lock"),
        slurped(lock(pid=dead), "/s"),
        {"item": {"host": "h", "path": "/x"}, "content": "bm90IGpzb24="},
    ]
    actions = [d["action"] for d in lab_lock_decisions(results, ME)]
    assert actions == ["take", "take", "takeover", "take"], "missing, ours, stale, unreadable"
    assert lab_lock_ours(results, ME) == [{"host": "lab-1", "path": "/r/.lock"}]
    assert lab_lock_stale(results, ME) == [{"host": "lab-1", "path": "/s"}]


def test_the_holder_is_the_outermost_ansible_playbook_process() -> None:
    assert playbook_pid() == os.getpid(), "no ansible-playbook above pytest: this process"
    code = f"import sys; sys.path.insert(0, {str(PLUGINS)!r}); from lab_lock import playbook_pid; print(playbook_pid())"
    # A shell named ansible-playbook, with python (a 'worker') under it: the shell is the holder.
    out = subprocess.run(
        ["bash", "-c", f'exec -a ansible-playbook bash -c "{sys.executable} -c \\"{code}\\"; echo \\$\\$"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0] == out[1]
