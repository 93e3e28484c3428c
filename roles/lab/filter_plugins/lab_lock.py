"""One campaign at a time: who holds a lab host or results folder, and whether that holder still runs.

A lock is a small JSON file ({campaign, controller, pid, started_at}) on each target
(/var/lib/container-cost-lab/campaign.lock) and in the control node's results folder
(.lock). The holder is the ansible-playbook process of the campaign, found by walking up
from whichever Ansible process evaluates the filter (filters always run on the control node).

- lab_controller: this control node's name and its ansible-playbook pid.
- lab_lock_decisions: for every lock read (slurp results), take it, take it over (its holder
  is gone: a warning), or refuse (another campaign holds it: a sentence naming it).
- lab_lock_ours: the places whose lock is ours (what a campaign releases at its end).
- lab_lock_stale: the places locked by a campaign of this control node that no longer runs
  (what playbooks/restore.yml releases after an interrupted campaign).

Tested in tests/unit/test_lab_lock.py.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path
from typing import Any


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _is_playbook(pid: int) -> bool:
    try:
        return b"ansible-playbook" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def playbook_pid(start: int | None = None) -> int:
    """The outermost ansible-playbook process above `start` (this process by default); else `start`."""
    pid = start or os.getpid()
    found = pid
    while pid > 1:
        if _is_playbook(pid):
            found = pid
        try:
            pid = _parent(pid)
        except (OSError, ValueError, IndexError):
            break
    return found


def lab_controller(_: Any = None) -> dict[str, Any]:
    return {"controller": socket.gethostname(), "pid": playbook_pid()}


def _alive(pid: Any) -> bool:
    return isinstance(pid, int) and pid > 0 and Path(f"/proc/{pid}").exists() and _is_playbook(pid)


def _holder(lock: dict[str, Any]) -> str:
    return (
        f"campaign {lock.get('campaign') or '(unnamed)'} (ansible-playbook pid {lock.get('pid')} on {lock.get('controller')}, "
        f"started {lock.get('started_at')})"
    )


def decide(lock: dict[str, Any] | None, me: dict[str, Any], where: str, alive: Any = _alive) -> dict[str, str]:
    """take | takeover (with a warning) | refuse (with the reason), for one place's lock."""
    if not lock:
        return {"action": "take", "where": where, "message": ""}
    if lock.get("controller") == me["controller"] and lock.get("pid") == me["pid"]:
        return {"action": "take", "where": where, "message": ""}
    if lock.get("controller") != me["controller"]:
        return {
            "action": "refuse",
            "where": where,
            "message": f"{where} is held by {_holder(lock)}, another control node: wait for it, or delete {where} if that campaign is gone",
        }
    if alive(lock.get("pid")):
        return {"action": "refuse", "where": where, "message": f"{where} is held by {_holder(lock)}, still running: wait for it or stop it"}
    return {"action": "takeover", "where": where, "message": f"{where}: took over the stale lock of {_holder(lock)}, which no longer runs"}


def _read(result: dict[str, Any]) -> dict[str, Any] | None:
    content = result.get("content")
    if not content:
        return None
    try:
        data = json.loads(base64.b64decode(content))
    except (ValueError, TypeError):
        return None  # unreadable: a lock cut short by a crash, as good as none
    return data if isinstance(data, dict) else None


def lab_lock_decisions(slurped: list[dict[str, Any]], me: dict[str, Any]) -> list[dict[str, str]]:
    """One decision per slurp result of a loop over {host, path} places."""
    out = []
    for result in slurped:
        place = result.get("item") or {}
        out.append(decide(_read(result), me, f"{place.get('host')}:{place.get('path')}"))
    return out


def lab_lock_ours(slurped: list[dict[str, Any]], me: dict[str, Any]) -> list[dict[str, Any]]:
    """The places (loop items) whose lock this campaign holds."""
    ours = []
    for result in slurped:
        lock = _read(result)
        if lock and lock.get("controller") == me["controller"] and lock.get("pid") == me["pid"]:
            ours.append(result.get("item"))
    return ours


def lab_lock_stale(slurped: list[dict[str, Any]], me: dict[str, Any]) -> list[dict[str, Any]]:
    """The places (loop items) locked by a campaign of this control node that no longer runs."""
    return [r.get("item") for r in slurped if (lock := _read(r)) and decide(lock, me, "")["action"] == "takeover"]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "lab_controller": lab_controller,
            "lab_lock_decisions": lab_lock_decisions,
            "lab_lock_ours": lab_lock_ours,
            "lab_lock_stale": lab_lock_stale,
        }
