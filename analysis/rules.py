"""Decisions fixed before the data: which rounds count, and how many rounds a campaign runs.

Both the lab (its stopping rule, `lab_precision`) and the report read these, so a round left
out of the gaps is left out of the stopping rule too, and the report's interval is the one the
stopping rule was designed for.

- A round whose window had other work on the service core above the profile's
  `max_other_work` (cores' worth; default DEFAULT_MAX_OTHER_WORK) is left out, by name, with
  its reason. Clean rounds here take 0.01-0.02 of the core for other work; a test suite run
  beside a campaign took 0.12-0.30 and doubled CPU per request. 0.10 sits between the two.
- A campaign with a precision target stops by Stein's two-stage rule (analysis.precision):
  the profile's `rounds` are the first stage, whose spread fixes how many rounds the
  campaign runs in all; the final interval uses that first-stage spread.

Standard library only: the lab role's filter plugin imports it on the control node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_MAX_OTHER_WORK = 0.10
# A concurrent campaign resumed after a longer pause than this between two rounds is two blocks
# (occasions): the machine's state moves over hours (docs/2026-11-29-campaigns.md).
DEFAULT_MAX_PAUSE_MIN = 30.0
STOPPING_RULE = "stein_two_stage"
# What a profile key means when a profile leaves it out: the one place (the lab resolves every
# profile through resolve_profile; the report reads older manifests through the same table).
PROFILE_DEFAULTS: dict[str, Any] = {
    "design": "sequential",
    "records_source": "database",
    "primary_metric": "throughput_rps",
    "target_ci_pp": 0,
    "max_minutes": 0,
    "max_error_rate": 0.01,
    "rate": 0,
    "sleep_s": 0,
    "ladder": [],
    "adjust_for_speed": False,
    "rungs_with_twins": False,
    "max_other_work": DEFAULT_MAX_OTHER_WORK,
    "max_pause_min": DEFAULT_MAX_PAUSE_MIN,
    "block_rounds": 0,
    "block_resets": [],
}
PROFILE_REQUIRED = ("executor", "vus", "warmup_s", "measure_s", "rounds", "client_lifecycle", "modes")


def resolve_profile(name: str, profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The profile with every default applied (PROFILE_DEFAULTS; restart_each_round: true for a
    concurrent design), or ValueError naming the missing key."""
    if not isinstance(profile, Mapping):
        raise ValueError(f"lab_profiles.{name} is {profile!r}: a mapping of profile keys")
    missing = [key for key in PROFILE_REQUIRED if key not in profile]
    if missing:
        raise ValueError(f"lab_profiles.{name} has no {', '.join(missing)} (every profile needs {', '.join(PROFILE_REQUIRED)})")
    return with_defaults(profile)


def with_defaults(profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """A profile (as given, or as an older manifest recorded it) with PROFILE_DEFAULTS filled in:
    two campaigns' profiles compare equal when they mean the same."""
    found = PROFILE_DEFAULTS | {k: v for k, v in (profile or {}).items() if v is not None}
    found.setdefault("restart_each_round", found["design"] == "concurrent")
    return found


def max_other_work(profile: Mapping[str, Any] | None) -> float:
    """The profile's threshold of other work on the service core, or the default."""
    value = (profile or {}).get("max_other_work")
    if value is None:
        return float(PROFILE_DEFAULTS["max_other_work"])
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"max_other_work is {value!r}: a share of the service core above 0 (e.g. 0.10)")
    return float(value)


def exclusion(meta: Mapping[str, Any], profile: Mapping[str, Any] | None) -> str | None:
    """Why an ok round is left out of the gaps, or None when it counts."""
    other = meta.get("service_core_other")
    limit = max_other_work(profile)
    if isinstance(other, int | float) and not isinstance(other, bool) and other > limit:
        return f"excluded: other work took {other:.0%} of the service core in its window (the profile's max_other_work is {limit:.0%})"
    return None


def max_pause_s(profile: Mapping[str, Any] | None) -> float:
    """The profile's longest pause between two rounds of one block, in seconds (`max_pause_min`)."""
    value = (profile or {}).get("max_pause_min", PROFILE_DEFAULTS["max_pause_min"])
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"max_pause_min is {value!r}: minutes above 0 (e.g. 30)")
    return float(value) * 60.0


def blocks(starts: Mapping[int, float], pause_s: float) -> list[list[int]]:
    """Rounds (number -> start, epoch seconds) in blocks: a new block wherever a round started more
    than pause_s after the one before it."""
    found: list[list[int]] = []
    last = None
    for number, start in sorted(starts.items(), key=lambda item: item[1]):
        if last is None or start - last > pause_s:
            found.append([])
        found[-1].append(number)
        last = start
    return found


def uses_two_stage(precision: Mapping[str, Any] | None) -> bool:
    """Whether a campaign's manifest says its rounds were decided by the two-stage rule."""
    return bool(precision) and (precision or {}).get("rule") == STOPPING_RULE
