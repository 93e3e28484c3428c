#!/usr/bin/python3
"""Start barrier for distributed k6: sleep until an epoch time, note the start, exec the command.

usage: start_at.py EPOCH STARTED_JSON COMMAND [ARG ...]

Every load generator of a run gets the same EPOCH (corrected for its clock offset), so their k6
segments start together however long Ansible took to launch each. STARTED_JSON receives this
host's clock at the moment the command is executed: {"epoch": ..., "late_s": ...}.
"""

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        at = float(argv[1])
    except ValueError:
        print(f"start_at.py: EPOCH must be a number, got {argv[1]!r}", file=sys.stderr)
        return 2
    wait = at - time.time()
    if wait > 0:
        time.sleep(wait)
    now = time.time()
    with open(argv[2], "w", encoding="utf-8") as handle:
        json.dump({"epoch": now, "late_s": round(now - at, 6)}, handle)
    os.execvp(argv[3], argv[3:])
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
