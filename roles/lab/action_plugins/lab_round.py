"""One concurrent round as one task, when the target is its own load generator (the default).

The round's record exists from its start (status running); `lab_round.py round` on the target
restarts, places and primes every mode, runs the CPU sampler and k6, checks the placement again
and reads the counters; its raw files come home to the run's folder, the record is made by the
same function the task-by-task round uses (lab_run.lab_concurrent_record) and written with k6's
output; the scratch folder goes. A round with a load generator elsewhere (a fleet) runs
task by task (round.yml), since this plugin reaches the target only.

Options: run_dir, scratch, bin_dir, spec (lab_round.py's SPEC_JSON with "load"), run (what the
record takes from the campaign: lab_run_facts with modes and block), started (the started
record), expected_sha256, files (the raw files to bring home), python (the target's python).
Returns: record, unhealthy (modes to recover before the next round), timings_s.

A control node killed outright (SIGKILL, a lost terminal) does not take this worker with it:
Ansible's workers call setsid. Left alone, the worker would finish the round and record it as
ok while a resumed campaign restarts the same modes (seen with a sequential run in one call,
2026-12-07). So the worker watches its parent: once it is gone, it kills its own process group
(itself, lab_round.py, k6 and the sampler) before anything else is written: the round's record
stays "running", which is what a resume expects of a cut round.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "filter_plugins"))

from lab_run import lab_concurrent_record  # noqa: E402 (found through the path above)

REQUIRED = ("run_dir", "scratch", "bin_dir", "spec", "run", "started", "expected_sha256", "files")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self._task.args
        missing = [k for k in REQUIRED if k not in args]
        if missing:
            raise AnsibleActionFail(f"lab_round: missing option(s) {', '.join(missing)}")
        clock = time.monotonic()
        orphan_guard(os.getppid())
        run_dir = Path(str(args["run_dir"]))
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        _write(run_dir / "run.json", json.dumps(args["started"], indent=4, sort_keys=True) + "\n")

        argv = [str(args.get("python") or "/usr/bin/python3"), f"{args['bin_dir']}/lab_round.py", "round", json.dumps(args["spec"])]
        done = self._execute_module(
            module_name="ansible.legacy.command", module_args={"argv": argv}, task_vars=task_vars or {}, wrap_async=False
        )
        if done.get("rc") != 0:
            raise AnsibleActionFail(f"lab_round.py round exited {done.get('rc')}: {(done.get('stderr') or done.get('msg') or '')[:500]}")
        observed = json.loads(done["stdout"])
        on_target = time.monotonic() - clock

        mark = time.monotonic()
        scratch = str(args["scratch"])
        for name in args["files"]:
            try:
                self._connection.fetch_file(f"{scratch}/{name}", str(run_dir / name))
            except Exception:  # noqa: BLE001 (a file k6 did not write: the record names it missing)
                continue
        for path in run_dir.iterdir():
            path.chmod(0o640)
        fetched = time.monotonic() - mark

        mark = time.monotonic()
        record = round_record(run_dir, dict(args["run"]), observed, dict(args["expected_sha256"]))
        k6 = observed.get("k6")
        stderr = f"{NOT_STARTED}\n" if k6 is None else f"{k6.get('stderr') or ''}\n{k6.get('stdout') or ''}\n"
        _write(run_dir / "k6.stderr.txt", stderr)
        self._execute_module(
            module_name="ansible.legacy.file", module_args={"path": scratch, "state": "absent"}, task_vars=task_vars or {}, wrap_async=False
        )
        recorded = time.monotonic() - mark
        steps_here = {"on_target": round(on_target, 3), "fetch": round(fetched, 3), "record": round(recorded, 3)}
        record["steps_s"] = dict(record.get("steps_s") or {}) | {"control": steps_here}
        _write(run_dir / "run.json", json.dumps(record, indent=4, sort_keys=True) + "\n")
        result.update(changed=True, record=record, unhealthy=list(observed.get("unhealthy") or []), timings_s=record["steps_s"])
        return result


NOT_STARTED = "k6 not started: a mode did not come back after its restart"
# How often the worker looks for its parent (a killed control node's round stops within this).
PARENT_POLL_S = 0.2


def orphan_guard(parent: int, poll_s: float = PARENT_POLL_S) -> threading.Thread:
    """A daemon thread that kills this process's group once `parent` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="lab-round-orphan-guard", daemon=True)
    thread.start()
    return thread


def round_record(run_dir: Path, run: dict[str, Any], observed: dict[str, Any], expected_sha256: dict[str, str]) -> dict[str, Any]:
    """The round's run.json from what `lab_round.py round` reported (lab_concurrent_record's
    inputs); a round whose modes did not all come back ran no load and fails, naming them."""
    k6 = observed.get("k6") or {"rc": -1, "stdout": "", "stderr": NOT_STARTED, "cmd": []}
    facts = run | {"finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    record = lab_concurrent_record(
        str(run_dir),
        facts,
        {
            "k6_jobs": [k6 | {"job": {"loadgen": run["target"]}}],
            "primer": observed.get("primer") or [],
            "after": observed.get("after") or [],
            "expected_sha256": expected_sha256,
            "recovered": [],
            "accounting": observed.get("accounting") if observed.get("k6") else None,
            "steps_s": observed.get("timings_s") or {},
        },
    )
    if observed.get("unhealthy"):
        why = "; ".join(f"{m}: {w}" for m, w in (observed.get("problems") or {}).items())
        record |= {"status": "failed", "error": f"modes did not come back after their restart ({why}); recovered before the next round"}
    return record


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a killed control node never leaves half a record."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o640)
    os.replace(tmp, path)
