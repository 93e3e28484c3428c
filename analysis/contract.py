"""The results contract: names shared by the lab role (which writes results) and the report.

A run folder is runs/NNN_<unit>_r<round>/: <unit> is the mode of a sequential run, or
CONCURRENT for a round in which one k6 loads every mode at once (run.json then has
design = "concurrent", `modes` in position order and a `per_mode` block).
"""

import re

RUN_NAME = re.compile(r"^(?P<order>\d{3,})_(?P<mode>[A-Za-z0-9_]+)_r(?P<round>\d+)$")
CONCURRENT = "concurrent"
SAMPLES_FILE = "cpu.jsonl"
SEQUENTIAL_KEYS = ("mode", "round", "status", "measure_duration_s")
CONCURRENT_KEYS = ("modes", "round", "status", "measure_duration_s", "per_mode")


# The type of every run.json key the report reads; None is allowed where a value may be unmeasured.
_NUMBER = (int, float)
RUN_TYPES: dict[str, tuple[tuple[type, ...], bool, str]] = {
    "mode": ((str,), False, "a mode name"),
    "modes": ((list,), False, "a list of mode names"),
    "round": ((int,), False, "a whole number"),
    "order": ((int,), True, "a whole number"),
    "status": ((str,), False, "a string"),
    "measure_duration_s": (_NUMBER, False, "a number of seconds"),
    "warmup_duration_s": (_NUMBER, True, "a number of seconds"),
    "service_cpu_s": (_NUMBER, True, "a number of seconds or null"),
    "k6_cpu_s": (_NUMBER, True, "a number of seconds or null"),
    "service_core_busy": (_NUMBER, True, "a share or null"),
    "service_core_other": (_NUMBER, True, "a share or null"),
    "per_mode": ((dict,), False, "an object by mode"),
    "segments": ((list,), True, "a list"),
}


def type_problems(meta: dict[str, object]) -> list[str]:
    """Each key of a run.json whose value has the wrong type, said as 'key is VALUE (expected ...)'."""
    found = []
    for key, (types, nullable, expected) in RUN_TYPES.items():
        if key not in meta or (meta[key] is None and nullable):
            continue
        value = meta[key]
        wrong = isinstance(value, bool) or not isinstance(value, types)
        if key == "modes" and not wrong:
            wrong = not all(isinstance(m, str) for m in value)  # type: ignore[attr-defined]
        if wrong:
            found.append(f"'{key}' is {value!r} (expected {expected})")
    return found


def run_name(order: int, unit: str, round_number: int) -> str:
    return f"{order:03d}_{unit}_r{round_number}"


def run_identity(name: str) -> tuple[int, str, int] | None:
    """(order, unit, round) of a run folder's name; None when the name is not a run folder's."""
    found = RUN_NAME.match(name)
    return (int(found["order"]), found["mode"], int(found["round"])) if found else None
