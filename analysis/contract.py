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


def run_name(order: int, unit: str, round_number: int) -> str:
    return f"{order:03d}_{unit}_r{round_number}"
