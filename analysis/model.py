"""The report's model: one target's campaign summarised (runs, comparisons, verdicts, warnings).

Built from the loaded campaign (analysis.load) and the statistics (analysis.stats); rendered
by analysis.render, pooled across targets by analysis.fleet, written by analysis.report. It
imports none of them: the layers go load -> stats -> model -> fleet/render -> report.
"""

import sys
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import machine, rules, schema
from analysis.contract import CONCURRENT
from analysis.load import Campaign, CampaignError, load_campaign
from analysis.precision import rung_instances
from analysis.stats import (
    BUSY_CORE_WARNING,
    ERROR_RATE_WARNING,
    K6_CPU_WARNING,
    METRICS,
    MIN_ROUNDS_WARNING,
    TARGET_HALF_WIDTH_PP,
    Comparison,
    Ladder,
    compare,
    comparisons,
    ladder,
    noise_floor,
    rounded,
    runs_frame,
    undefined_rounds,
)

# What a step of a ladder adds, by the field of the mode's definition that changes (modes.yml).
# A change of kind is named by the manifest's `kinds` (modes.yml's lab_mode_kinds: `adds`).
STEP_LABELS = {
    ("seccomp", "unconfined", "default"): "Docker's seccomp filter",
    ("network", "host", "bridge"): "the bridge network as a remote client reaches it (DNAT, veth, network namespace)",
    ("client", "remote", "loopback"): "the userland proxy (docker-proxy) a loopback client goes through",
}
STEP_FIELDS = ("kind", "network", "client", "seccomp")
STEP_DEFAULTS = {"network": "host", "client": "loopback", "seccomp": "unconfined"}
# Where each path's kernel work runs, beside every decomposition.
LADDER_CAVEAT = (
    "what the service-core accounting sees: the proxy's second hop runs on the service core and is counted; on the NAT "
    "path much of the DNAT, conntrack and veth work runs in the sender's context (k6, on the load generator's core), "
    "which no mode's cgroup is charged for, and interrupt time is charged to whichever task runs (no "
    "CONFIG_IRQ_TIME_ACCOUNTING here): the bridge step is a floor of what the path costs the machine"
)

SPEED_ADJUSTED_NOTE = (
    "the CIs are at the rounds' speeds (the profile's adjust_for_speed): each round's log-ratio regressed on that "
    "round's machine speed (the other modes' mean CPU per request), the estimate the plain mean, the spread what the "
    "speed leaves; they cover each gap at the speeds this campaign's rounds ran at, not at other speeds "
    "(speed_slope_pp_per_pct: how a step moves with each 1% the machine is slower)"
)

FACTS_THAT_MUST_MATCH = ("packages_sha256", "payload_sha256", "cpuset", "python")
# Load generators started further apart than this are flagged.
SKEW_WARNING_S = 0.5
# The runs of one sequential round started further apart than this (and than 3 times the
# round's planned load) were split, e.g. across a resume: the pair did not share the machine's state.
SPLIT_ROUND_S = 600.0
# How a control's cost is known (gap.json controls[].known_from).
KNOWN_BY_UNCOUNTED = "uncounted requests, the same traffic"
KNOWN_BY_EXTRA = "extra requests, counted"
KNOWN_BY_LOOP_TIME = "the loop's own CPU time (a floor)"


@dataclass
class Report:
    campaign: Campaign
    runs: pd.DataFrame
    comparisons: list[Comparison]
    floor: dict[str, float]
    warnings: list[str]
    flags: dict[str, list[str]]
    histograms: dict[str, np.ndarray]
    aa_modes: frozenset[str] = frozenset()
    # The comparable campaigns before this one in its results folder (analysis.machine), and
    # the comparable ones passed over, with why.
    earlier: list[machine.Occasion] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)

    @property
    def campaign_id(self) -> str:
        return str(self.campaign.manifest["campaign_id"])

    @property
    def baseline(self) -> str:
        return baseline_of(self.campaign)

    @property
    def primary_metric(self) -> str:
        return primary_metric_of(self.campaign)

    def primary(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.metric == self.primary_metric]

    def headlines(self) -> list[str]:
        """The verdicts: which interval they quote, each primary gap, what the campaign could
        resolve, which flagged runs count."""
        headlines = [headline(c, self.floor, self.baseline, self.aa_modes) for c in self.primary()]
        first = [self.interval_line()] if headlines else []
        return (
            first
            + headlines
            + self.control_lines()
            + self.twin_lines()
            + self.ladder_lines()
            + self.resolution_lines()
            + flag_notes(self.campaign, self.flags)
        )

    def machine_view(self, c: Comparison) -> dict[str, Any]:
        profile = str((self.campaign.manifest.get("profile") or {}).get("name") or "?")
        return machine.view(c.gap_pct, c.mode, c.metric, self.earlier, profile, self.passed_over)

    def interval_line(self) -> str:
        """The verdicts' first line: the interval they quote, and the machine's where earlier occasions give one."""
        views = [(c, self.machine_view(c)) for c in self.primary()]
        pooled = [(c, v) for c, v in views if v["occasions"] >= 2]
        if not pooled:
            note = views[0][1]["machine_note"] if views else "one occasion"
            return (
                "intervals quoted: this campaign's 95% CI, which covers its rounds, not another day's campaign "
                f"({note}); repeat the profile on other occasions (lab bench again, later) for the machine's"
            )
        parts = [
            f"{c.mode} {v['machine_gap_pct']:+.2f}% (95% CI {v['ci95_machine'][0]:+.2f} to {v['ci95_machine'][1]:+.2f}; "
            f"next campaign {v['prediction95'][0]:+.2f} to {v['prediction95'][1]:+.2f})"
            for c, v in pooled
        ]
        return (
            f"intervals quoted: below, this campaign's 95% CI (its rounds); for the machine, over {pooled[0][1]['occasions']} "
            f"occasions ({pooled[0][1]['machine_note'].split(': ', 1)[1].split(';')[0]}): " + "; ".join(parts)
        )

    def resolution_lines(self) -> list[str]:
        """What the campaign could have told: per mode, the half-width, MDE and rounds for ±1 pp."""
        lines = []
        for c in self.primary():
            if c.half_width_pp is None:
                continue
            need = c.rounds_for_target
            more = (
                f"±{TARGET_HALF_WIDTH_PP:g} pp reached"
                if c.half_width_pp <= TARGET_HALF_WIDTH_PP
                else f"±{TARGET_HALF_WIDTH_PP:g} pp needs about {need} paired rounds ({need - c.n_pairs} more)"
                if need
                else ""
            )
            lines.append(
                f"{c.mode}: this campaign resolves ±{c.half_width_pp:.2f} pp on {c.metric} (95% CI half-width); it could have "
                f"detected a gap of {c.mde_pct:.2f}% with 80% power; {more}"
            )
        for c in self.primary():
            s = c.speed
            if s is None or s.ci95[0] <= 0 <= s.ci95[1]:
                continue
            lines.append(
                f"{c.mode}: its gap moves {s.slope:+.2f} pp for each 1% the machine is slower (the round's speed: {s.axis} CPU per "
                f"request; 95% CI {s.ci95[0]:+.2f} to {s.ci95[1]:+.2f}, {s.n_pairs} rounds over {s.speed_range[0]:.0f}-"
                f"{s.speed_range[1]:.0f} µs): the gap belongs to this machine state; a campaign at another speed finds another"
            )
        if lines:
            lines.append(
                "these CIs are this occasion's: they cover the rounds' spread, not what changes between campaigns (on the lab's "
                "own machine, campaigns days apart disagreed beyond their CIs through docker-proxy); to answer for the machine, repeat "
                f"the profile on other occasions and pool them: lab pool results/{self.campaign.manifest.get('campaign_id', '<id>')} …"
            )
        return lines

    def controls(self) -> list[dict[str, Any]]:
        """Modes with a known cost beside the lab's estimate of it.

        Three kinds. Uncounted requests (uncounted_every): the same traffic as the baseline, one request
        in N not counted as served, so dearer per served request by exactly their share: checks the
        counting and the windows. Extra requests (extra_request_every): one request in N sent twice,
        the second not counted: real work, known by count if a request costs what a request costs;
        either way `recovered` tests the instrument, with no timing in the known answer. Busy work
        (busy_loops): the loop's own CPU time, sampled inside the service, is a floor of what it
        costs the request (it may cost the rest of the request too: caches, branch predictors);
        `excess_pp` is the estimate above that floor.
        """
        ok = self.ok_runs()
        found = []
        for c in self.comparisons:
            if c.metric != "cpu_us_per_request" or "mode" not in ok:
                continue
            rows = ok[ok["mode"] == c.mode]
            extra = rows["extra_share_pct"].dropna() if "extra_share_pct" in rows else pd.Series(dtype=float)
            busy = rows["busy_us_per_request"].dropna() if "busy_us_per_request" in rows else pd.Series(dtype=float)
            facts = (self.campaign.manifest.get("modes") or {}).get(c.mode) or {}
            if not extra.empty:
                # The gap is a geometric mean of per-round ratios: the known cost is averaged the same way.
                known = (float(np.exp(np.log1p(extra / 100.0).mean())) - 1.0) * 100.0
                known_from = KNOWN_BY_UNCOUNTED if facts.get("uncounted_every") else KNOWN_BY_EXTRA
            elif not busy.empty:
                known, known_from = float(busy.mean()) / c.baseline_value * 100.0, KNOWN_BY_LOOP_TIME
            else:
                continue
            found.append(
                {
                    "mode": c.mode,
                    "known_from": known_from,
                    "injected_pct": rounded(known),
                    "estimate_pct": rounded(c.gap_pct),
                    "ci95": [rounded(c.ci95[0]), rounded(c.ci95[1])] if c.ci95 else None,
                    "recovered": bool(c.ci95 and c.ci95[0] <= known <= c.ci95[1]),
                    "excess_pp": rounded(c.gap_pct - known),
                    "excludes_zero": bool(c.ci95 and (c.ci95[0] > 0 or c.ci95[1] < 0)),
                    "n_pairs": c.n_pairs,
                }
            )
        return found

    def control_lines(self) -> list[str]:
        lines = []
        for k in self.controls():
            ci = f" (95% CI {k['ci95'][0]:+.2f} to {k['ci95'][1]:+.2f})" if k["ci95"] else " (no CI)"
            if k["known_from"] != KNOWN_BY_LOOP_TIME:
                said = (
                    "recovered: the instrument measures a known cost as it is"
                    if k["recovered"]
                    else "NOT recovered: the instrument mis-states a cost known by count"
                )
                counted = "uncounted requests" if k["known_from"] == KNOWN_BY_UNCOUNTED else "extra requests"
                known = f"{k['injected_pct']:+.2f}% by count of {counted}"
                lines.append(f"known-cost control {k['mode']}: {known}, measured {k['estimate_pct']:+.2f}%{ci}: {said}")
            else:
                said = (
                    "within its interval"
                    if k["recovered"]
                    else ("the request bears more than the loop's own time" if k["excess_pp"] > 0 else "below the loop's own time")
                )
                known = f"the loop's own CPU time is {k['injected_pct']:+.2f}% of a request"
                lines.append(f"busy-work control {k['mode']}: {known}, measured {k['estimate_pct']:+.2f}%{ci}: {said}")
        return lines

    @cached_property
    def ladder(self) -> Ladder | None:
        """The profile's decomposition (its `ladder` of rungs) on the primary metric, or None."""
        rungs = [str(r) for r in (self.campaign.manifest.get("profile") or {}).get("ladder") or []]
        if not rungs:
            return None
        return ladder(
            self.ok_runs(),
            rungs,
            self.primary_metric,
            stage_one_of(self.campaign),
            speed_adjusted_of(self.campaign),
            instances_of(self.campaign),
        )

    def ok_runs(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"] if "status" in self.runs else self.runs

    def step_label(self, low: str, high: str) -> str:
        modes = self.campaign.manifest.get("modes") or {}
        a, b = modes.get(low) or {}, modes.get(high) or {}
        # A host process has no syscall filter: as a container's with seccomp unconfined.
        a, b = ({k: f.get(k) or STEP_DEFAULTS.get(k) for k in STEP_FIELDS} for f in (a, b))
        changed = [(k, str(a[k]), str(b[k])) for k in STEP_FIELDS if a[k] != b[k]]
        # The client path exists only on a bridge: entering the bridge names the path taken.
        if any(k == "network" for k, _, _ in changed):
            changed = [c for c in changed if c[0] != "client"]
        kinds = self.campaign.manifest.get("kinds") or {}
        labels = {("kind", a["kind"], b["kind"]): str((kinds.get(b["kind"]) or {}).get("adds") or "")} | STEP_LABELS
        return "; ".join(labels.get(c) or f"{c[0]} {c[1]} -> {c[2]}" for c in changed) or "no difference in definition"

    def ladder_json(self) -> dict[str, Any] | None:
        found = self.ladder
        if found is None:
            return None
        data = found.as_json()
        for row in data["steps"]:
            row["what"] = self.step_label(row["from"], row["to"])
        adjusted = any(bool(row.get("ci_at_rounds_speeds")) for row in [*data["steps"], data["total"]])
        return data | {"caveat": LADDER_CAVEAT, "ci_note": SPEED_ADJUSTED_NOTE if adjusted else None}

    def ladder_lines(self) -> list[str]:
        found = self.ladder
        if found is None:
            return []
        t = found.total
        parts = [
            f"{self.step_label(low, c.mode)} ({low} -> {c.mode}) {c.gap_pct:+.2f}%"
            + (f" ({c.ci95[0]:+.2f} to {c.ci95[1]:+.2f})" if c.ci95 else "")
            + (f", {share:.0%} of it" if share is not None else "")
            for low, c, share in zip(found.rungs, found.steps, found.shares(), strict=False)
        ]
        total = f"{t.gap_pct:+.2f}%" + (f" (95% CI {t.ci95[0]:+.2f} to {t.ci95[1]:+.2f})" if t.ci95 else "")
        return [
            f"where the cost comes from: {t.mode} vs {found.rungs[0]} {total} over {t.n_pairs} rounds, step by step "
            "(each paired in the same rounds; the steps add up in log space): " + "; ".join(parts),
            *([SPEED_ADJUSTED_NOTE] if any(c.speed_adjusted for c in [*found.steps, t]) else []),
            LADDER_CAVEAT,
        ]

    def twin_checks(self) -> list[dict[str, Any]]:
        """A/A controls of modes other than the baseline (twin_of in modes.yml): their gap must hold 0."""
        ok = self.ok_runs()
        if "mode" not in ok:
            return []
        found = []
        for mode, facts in sorted((self.campaign.manifest.get("modes") or {}).items()):
            of = (facts or {}).get("twin_of")
            if not of or of == self.baseline or of not in set(ok["mode"]) or mode not in set(ok["mode"]):
                continue
            c = compare(ok, mode, self.primary_metric, str(of), stage_one_of(self.campaign), speed_adjusted_of(self.campaign))
            if c is None:
                continue
            holds = bool(c.ci95 and c.ci95[0] <= 0 <= c.ci95[1])
            found.append(
                {
                    "mode": mode,
                    "twin_of": of,
                    "metric": c.metric,
                    "gap_pct": rounded(c.gap_pct),
                    "ci95": [rounded(c.ci95[0]), rounded(c.ci95[1])] if c.ci95 else None,
                    "ci_half_width_pp": rounded(c.half_width_pp),
                    "n_pairs": c.n_pairs,
                    "holds_zero": holds,
                }
            )
        return found

    def twin_lines(self) -> list[str]:
        return [
            f"A/A {t['mode']} vs {t['twin_of']}: {t['gap_pct']:+.2f}%"
            + (f" (95% CI {t['ci95'][0]:+.2f} to {t['ci95'][1]:+.2f})" if t["ci95"] else " (no CI)")
            + (
                ": holds 0, as identical deployments must"
                if t["holds_zero"]
                else ": does NOT hold 0: the instrument sees a difference between identical deployments"
            )
            for t in self.twin_checks()
        ]

    def undefined(self) -> dict[tuple[str, str], list[int]]:
        """(mode, metric) -> the paired rounds where the gap does not exist (a value 0 or unmeasured)."""
        return undefined_gaps(self.runs, self.baseline)

    def gap_json(self) -> dict[str, Any]:
        rows = []
        for c in self.comparisons:
            row = c.as_json() | self.machine_view(c)
            if c.metric in self.floor and c.mode not in self.aa_modes:
                row["exceeds_noise_floor"] = abs(c.gap_pct) > self.floor[c.metric]
            rows.append(row)
        manifest = self.campaign.manifest
        return {
            "schema_version": schema.SCHEMA_VERSION,
            "campaign": self.campaign_id,
            "baseline": self.baseline,
            "primary_metric": self.primary_metric,
            "design": manifest["design"],
            "verdicts": self.headlines(),
            "resolution": {
                c.mode: {
                    "ci_half_width_pp": rounded(c.half_width_pp),
                    "mde_80_pct": rounded(c.mde_pct),
                    "n_pairs": c.n_pairs,
                    f"rounds_for_{TARGET_HALF_WIDTH_PP:g}pp": c.rounds_for_target,
                }
                for c in self.primary()
            },
            "controls": self.controls(),
            "twins": self.twin_checks(),
            "ladder": self.ladder_json(),
            "blocks": round_blocks(self.campaign),
            "precision": manifest.get("precision"),
            "comparisons": rows,
            "undefined": [
                {"mode": mode, "metric": metric, "gap_pct": None, "rounds": rounds} for (mode, metric), rounds in self.undefined().items()
            ],
            "noise_floor_pct": round(self.floor["throughput_rps"], 4) if "throughput_rps" in self.floor else None,
            "noise_floor_by_metric_pct": {k: round(v, 4) for k, v in self.floor.items()} or None,
            "warnings": self.warnings,
        }


def baseline_of(campaign: Campaign) -> str:
    return str(campaign.manifest["baseline"])


def aa_modes_of(campaign: Campaign) -> frozenset[str]:
    """The baseline's A/A twins: the modes the manifest records as twin_of the baseline (modes.yml;
    analysis.schema names the twin of campaigns recorded before the manifest said)."""
    modes = campaign.manifest["modes"]
    return frozenset(m for m, f in modes.items() if f.get("twin_of") == baseline_of(campaign))


def stage_one_of(campaign: Campaign) -> int | None:
    """The first stage's rounds when Stein's rule decided the campaign's rounds (analysis.rules)."""
    precision = campaign.manifest.get("precision")
    if not rules.uses_two_stage(precision):
        return None
    value = precision.get("min_rounds") if isinstance(precision, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise CampaignError(
            f"{campaign.path / 'manifest.json'}: precision.min_rounds is {value!r} (expected a whole number of rounds, 2 or more)"
        )
    return value


def speed_adjusted_of(campaign: Campaign) -> bool:
    """Whether the campaign's profile put its CIs at the rounds' speeds (`adjust_for_speed`)."""
    value = rules.with_defaults(campaign.manifest.get("profile") or {}).get("adjust_for_speed")
    if not isinstance(value, bool):
        raise CampaignError(f"{campaign.path / 'manifest.json'}: profile.adjust_for_speed is {value!r} (expected true or false)")
    return value


def instances_of(campaign: Campaign) -> dict[str, list[str]]:
    """Each ladder rung's instances when the profile averages a rung with its twins (`rungs_with_twins`)."""
    profile = rules.with_defaults(campaign.manifest.get("profile") or {})
    value = profile.get("rungs_with_twins")
    if not isinstance(value, bool):
        raise CampaignError(f"{campaign.path / 'manifest.json'}: profile.rungs_with_twins is {value!r} (expected true or false)")
    if not value:
        return {}
    modes = campaign.manifest.get("modes") or {}
    twin_of = {str(m): (facts or {}).get("twin_of") for m, facts in modes.items() if isinstance(facts, dict)}
    return rung_instances([str(r) for r in profile.get("ladder") or []], twin_of, list(twin_of))


def primary_metric_of(campaign: Campaign) -> str:
    return str(campaign.manifest["primary_metric"])


def headline(c: Comparison, floor: dict[str, float], baseline: str, aa_modes: frozenset[str]) -> str:
    metric = {"throughput_rps": "throughput", "cpu_us_per_request": "CPU per request"}.get(c.metric, c.metric)
    ci = f"95% CI {c.ci95[0]:.2f}–{c.ci95[1]:.2f}%" if c.ci95 else ("no CI: fewer than 2 paired rounds" if c.n_pairs < 2 else "no CI")
    p = f"p={c.p_value:.3f}" if c.p_value is not None else "no test"
    detail = f"({ci}, {p}, {c.n_pairs} paired round{'s' if c.n_pairs != 1 else ''})"
    within_floor = c.metric in floor and c.mode not in aa_modes and abs(c.gap_pct) <= floor[c.metric]
    if not c.significant or within_floor:
        reason = f"noise floor {floor[c.metric]:.1f}%" if within_floor else "the noise"
        return f"{c.mode} vs {baseline}: no difference detectable above {reason} in {metric}: gap {c.gap_pct:+.2f}% {detail}"
    word = {"cpu_us_per_request": "costlier" if c.gap_pct > 0 else "cheaper"}.get(c.metric, "slower" if c.gap_pct > 0 else "faster")
    return f"{c.mode} is {abs(c.gap_pct):.2f}% {word} than {baseline} in {metric} {detail}"


def warnings_for(campaign: Campaign, runs: pd.DataFrame, found: list[Comparison]) -> list[str]:
    notes = []
    ok = runs[runs["status"] == "ok"]
    for row in runs[runs["status"] != "ok"].drop_duplicates("run").itertuples():
        notes.append(f"run {row.run} left out: {row.problem}")
    profile = campaign.manifest.get("profile", {})
    planned = [(str(r["mode"]), int(r["round"])) for r in campaign.manifest["run_order"]]
    # A concurrent round is one unit: ("concurrent", R).
    done_rounds = {(CONCURRENT, int(r)) for r in ok["round"]} if manifest_design(campaign) == "concurrent" else set()
    done = {(m, int(r)) for m, r in zip(ok["mode"], ok["round"], strict=True)} | done_rounds
    missing = [f"{unit} {r}" for unit, r in planned if (unit, r) not in done]
    if missing:
        notes.append(f"{len(missing)} planned run(s) missing or failed: {', '.join(missing)}")
    for mode, rate in ok.groupby("mode")["error_rate"].mean().items():
        if rate > ERROR_RATE_WARNING:
            notes.append(f"{mode}: error rate {rate:.1%} is above {ERROR_RATE_WARNING:.0%}")
    busy = ok[ok["k6_core_share"] > K6_CPU_WARNING]
    if not busy.empty:
        notes.append(
            f"k6 used more than {K6_CPU_WARNING:.0%} of its core in {len(busy)} run(s) ({', '.join(busy['run'])}): "
            "the load generator may be the bottleneck"
        )
    saturating = is_saturating(campaign)
    idle = ok.drop_duplicates("run")
    idle = idle[idle["service_core_busy"] < BUSY_CORE_WARNING]
    if saturating and not idle.empty:
        notes.append(
            f"the service core was under {BUSY_CORE_WARNING:.0%} busy in {len(idle)} saturation run(s) "
            f"(median {idle['service_core_busy'].median():.0%}): throughput measures the database or the load generator, "
            "not the service; compare CPU per request or latency"
        )
    if profile.get("records_source", rules.PROFILE_DEFAULTS["records_source"]) == "database" and manifest_design(campaign) == "sequential":
        notes.append(
            "every request goes through the database: where the database is the bottleneck (the embedded one serves ~20 "
            "queries/s here) it hides the container's cost; the capacity profile (records from memory, modes loaded at once) "
            "measures the service"
        )
    primary = primary_metric_of(campaign)
    pairs = {c.mode: c.n_pairs for c in found if c.metric == primary}
    for mode, n in pairs.items():
        if n < MIN_ROUNDS_WARNING:
            notes.append(
                f"{mode}: only {n} paired round(s) with {baseline_of(campaign)}; below {MIN_ROUNDS_WARNING} the CI rests on a spread "
                "estimated from too few rounds"
            )
    baseline = baseline_of(campaign)
    for (mode, metric), rounds in undefined_gaps(runs, baseline).items():
        notes.append(
            f"{metric}: {mode} vs {baseline} has no gap in {len(rounds)} paired round(s) ({', '.join(map(str, rounds))}): "
            "a value there is 0 or was not measured, and a gap against 0 is undefined; those rounds are left out of it"
        )
    split = round_blocks(campaign)
    if len(split) > 1:
        spans = ", ".join(f"rounds {b[0]}-{b[-1]}" if len(b) > 1 else f"round {b[0]}" for b in split)
        notes.append(
            f"the rounds ran in {len(split)} blocks separated by pauses longer than the profile's max_pause_min ({spans}): "
            "each block is its own occasion and this campaign's CI mixes them (gap.json lists the blocks)"
        )
    if baseline not in set(ok["mode"]):
        notes.append(f"no ok run of the baseline '{baseline}': no gap can be computed")
    modes = campaign.manifest.get("modes", {})
    for fact in FACTS_THAT_MUST_MATCH:
        values = {mode: facts.get(fact) for mode, facts in modes.items() if isinstance(facts, dict) and fact in facts}
        if len(set(map(str, values.values()))) > 1:
            notes.append(f"modes differ in {fact}: " + ", ".join(f"{m}={str(v)[:24]}" for m, v in values.items()))
    # Concurrent rounds are short by design (the spread is between rounds, not within a window).
    shortest = 5 if manifest_design(campaign) == "concurrent" else 10
    if profile.get("measure_s") and float(profile["measure_s"]) < shortest:
        notes.append(f"measured windows of {profile['measure_s']} s are short: fine for a smoke test, not for a verdict")
    return notes


def undefined_gaps(runs: pd.DataFrame, baseline: str) -> dict[tuple[str, str], list[int]]:
    ok = runs[runs["status"] == "ok"]
    modes = [m for m in ok["mode"].drop_duplicates() if m != baseline]
    found = {(mode, metric): undefined_rounds(ok, mode, metric, baseline) for mode in modes for metric in METRICS}
    return {key: rounds for key, rounds in found.items() if rounds}


def run_flags(campaign: Campaign, runs: pd.DataFrame) -> dict[str, list[str]]:
    """Run name -> what makes it doubtful (recorded by the lab, read here); runs without a flag are absent."""
    saturating = is_saturating(campaign)
    split = split_rounds(campaign)
    other_limit = rules.max_other_work(campaign.manifest.get("profile"))
    found: dict[str, list[str]] = {}
    for run in campaign.runs:
        mine = runs[runs["run"] == run.name]
        meta = run.meta
        flags = []
        busy = mine["service_core_busy"].dropna()
        if saturating and not busy.empty and float(busy.iloc[0]) < BUSY_CORE_WARNING:
            flags.append(f"service core {float(busy.iloc[0]):.0%} busy")
        share = mine["k6_core_share"].dropna()
        if not share.empty and float(share.iloc[0]) > K6_CPU_WARNING:
            flags.append(f"k6 {float(share.iloc[0]):.0%} of its core")
        if meta.get("recovered"):
            flags.append("recovered before the run")
        other = meta.get("service_core_other")
        if isinstance(other, int | float) and not isinstance(other, bool) and other > other_limit:
            flags.append(f"other work took {other:.0%} of the service core")
        skew = meta.get("start_skew_s")
        if isinstance(skew, int | float) and skew > SKEW_WARNING_S:
            flags.append(f"load generators {skew:.2f} s apart")
        dropped = sum(int(s.get("dropped_iterations") or 0) for s in meta.get("segments") or [] if isinstance(s, dict))
        if dropped:
            flags.append(f"{dropped} iterations dropped")
        if not run.concurrent and meta.get("round") in split:
            flags.append(f"round {meta['round']} split: its runs started {split[meta['round']] / 60:.0f} min apart")
        if flags:
            found[run.name] = flags
    return found


def round_blocks(campaign: Campaign) -> list[list[int]]:
    """A concurrent campaign's ok rounds in blocks split by pauses longer than the profile's
    max_pause_min (a resume hours later is another occasion); one block when there was none."""
    if manifest_design(campaign) != "concurrent":
        return []
    starts = {}
    for run in campaign.runs:
        moment = epoch(run.meta.get("started_at"))
        if run.problem is None and moment is not None:
            starts[int(run.meta["round"])] = moment
    try:
        pause = rules.max_pause_s(campaign.manifest.get("profile"))
    except ValueError as exc:
        raise CampaignError(f"{campaign.path / 'manifest.json'}: profile.{exc}") from None
    return rules.blocks(starts, pause)


def epoch(text: object) -> float | None:
    """An ISO time the lab wrote (…Z) as seconds since the epoch; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def split_rounds(campaign: Campaign) -> dict[int, float]:
    """Sequential rounds whose runs started further apart than a round can take: round -> seconds."""
    profile = campaign.manifest.get("profile") or {}
    load_s = float(profile.get("warmup_s") or 0) + float(profile.get("measure_s") or 0)
    limit = max(SPLIT_ROUND_S, 3 * load_s * max(1, len(campaign.manifest.get("modes") or {})))
    starts: dict[int, list[float]] = {}
    for run in campaign.runs:
        started = run.meta.get("started_at")
        if run.concurrent or not isinstance(started, str):
            continue
        try:
            moment = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
        except ValueError:
            continue
        starts.setdefault(int(run.meta["round"]), []).append(moment)
    return {r: max(t) - min(t) for r, t in starts.items() if len(t) > 1 and max(t) - min(t) > limit}


def flag_notes(campaign: Campaign, flags: dict[str, list[str]]) -> list[str]:
    """Which flagged runs the gaps kept and which they left out, by name."""
    left_out = {run.name for run in campaign.runs if run.problem is not None}
    notes = []
    kept = [f"{name} ({'; '.join(why)})" for name, why in flags.items() if name not in left_out]
    if kept:
        notes.append(f"{len(kept)} flagged run(s) kept in the gaps: {', '.join(kept)}")
    dropped = [f"{name} ({'; '.join(why)})" for name, why in flags.items() if name in left_out]
    if dropped:
        notes.append(f"{len(dropped)} flagged run(s) left out of the gaps: {', '.join(dropped)}")
    return notes


def is_saturating(campaign: Campaign) -> bool:
    """A closed-model profile without sleep: the service core should be busy all the time."""
    profile = campaign.manifest.get("profile") or {}
    return bool(profile.get("executor", "constant-vus") == "constant-vus" and not float(profile.get("sleep_s") or 0))


def manifest_design(campaign: Campaign) -> str:
    return str(campaign.manifest["design"])


def build_or_say(prog: str, folder: Path) -> Report | None:
    """build(folder) for a command line: None, with "<prog>: <why>" on stderr, when it cannot be read."""
    try:
        return build(folder)
    except CampaignError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return None


def build(folder: Path) -> Report:
    campaign = load_campaign(folder)
    runs = runs_frame(campaign)
    ok = runs[runs["status"] == "ok"]
    found = comparisons(ok, baseline_of(campaign), primary_metric_of(campaign), stage_one_of(campaign), speed_adjusted_of(campaign))
    histograms: dict[str, np.ndarray] = {}
    for run in campaign.runs:
        if run.problem is None and run.points is not None and run.points.histogram is not None:
            mode = run.meta["mode"]
            histograms[mode] = histograms.get(mode, 0) + run.points.histogram
        for mode, window in (run.windows or {}).items():
            histograms[mode] = histograms.get(mode, 0) + np.asarray(window.histogram)
    flags = run_flags(campaign, runs)
    aa_modes = aa_modes_of(campaign)
    earlier, passed_over = machine.earlier_occasions(campaign.path, campaign.manifest)
    notes = warnings_for(campaign, runs, found)
    return Report(campaign, runs, found, noise_floor(found, aa_modes), notes, flags, histograms, aa_modes, earlier, passed_over)
