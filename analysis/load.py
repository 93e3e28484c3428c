"""Load a campaign folder: its manifest, each run's run.json, and the measured k6 points.

The k6 NDJSON is streamed line by line and only the lines that matter are parsed: Points of
http_reqs, http_req_duration and http_req_failed. The common shape is read with a fast byte
match; any other shape of those metrics goes through json.loads. A run's measured durations
are kept as one array of floats; nothing else of the raw file stays in memory.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from array import array
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from analysis import contract, rules, schema
from analysis.window import FAILED_TAG, ModeWindow, WindowError, gmean_ms, windows
from analysis.window import HISTOGRAM_EDGES_MS as _EDGES

METRICS = (b"http_reqs", b"http_req_duration", b"http_req_failed")
_FAST = re.compile(
    rb'^\{"metric":"(http_reqs|http_req_duration|http_req_failed)","type":"Point","data":\{"time":"[^"]*","value":([-0-9.eE+]+),"tags":\{(.*)\}\}\}\s*$'
)
_METRIC_KEY = b'{"metric":"'
_WANTED = tuple(b'{"metric":"' + name + b'","type":"Point"' for name in METRICS)


class CampaignError(Exception):
    """Input the report cannot read; the message names the file (and line)."""


# Latency histogram bins (ms, log-spaced): enough to draw a distribution per mode without
# keeping every request's duration once its run is summarised.
HISTOGRAM_EDGES_MS = np.array(_EDGES)


@dataclass
class RunPoints:
    """What one run's raw output says, for the measured phase (and a count of all requests)."""

    requests: int = 0
    requests_all_phases: int = 0
    served_all_phases: int = 0  # requests of any phase not tagged expected_response=false
    failed: float = 0.0
    failed_points: int = 0
    durations_ms: array[float] = field(default_factory=lambda: array("d"))
    percentiles_ms: dict[int, float] = field(default_factory=dict)
    gmean_ms: float | None = None
    histogram: np.ndarray | None = None
    segments: int = 1

    def merge(self, other: RunPoints) -> None:
        """Add another k6 instance's points of the same run (one execution segment)."""
        self.requests += other.requests
        self.requests_all_phases += other.requests_all_phases
        self.served_all_phases += other.served_all_phases
        self.failed += other.failed
        self.failed_points += other.failed_points
        self.durations_ms.extend(other.durations_ms)
        self.segments += other.segments

    def summarise(self) -> None:
        """Keep the percentiles and a histogram; let the run's durations go."""
        durations = np.frombuffer(self.durations_ms, dtype=float)
        if durations.size:
            self.percentiles_ms = dict(zip((50, 95, 99), np.percentile(durations, [50, 95, 99]).tolist(), strict=True))
            self.gmean_ms = gmean_ms(durations.tolist())
        self.histogram = np.histogram(durations, bins=HISTOGRAM_EDGES_MS)[0]
        self.durations_ms = array("d")


@dataclass
class Run:
    name: str
    path: Path
    meta: dict[str, Any]
    points: RunPoints | None = None
    problem: str | None = None
    # A concurrent round: each mode's window (CPU, requests, latency), instead of `points`.
    windows: dict[str, ModeWindow] | None = None

    @property
    def concurrent(self) -> bool:
        return self.meta.get("design") == "concurrent"

    @property
    def order(self) -> int:
        """The run's place in the campaign: run.json's order, else its folder's number."""
        identity = contract.run_identity(self.name)
        return int(self.meta.get("order") or (identity[0] if identity else 0))


@dataclass
class Campaign:
    path: Path
    manifest: dict[str, Any]
    runs: list[Run]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CampaignError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CampaignError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise CampaignError(f"{path}: a JSON object was expected")
    return data


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")


def _add(points: RunPoints, metric: str, value: float, phase: str | None, served: bool = True) -> None:
    if metric == "http_reqs":
        points.requests_all_phases += 1
        points.served_all_phases += served
    if phase != "measure":
        return
    if metric == "http_reqs":
        points.requests += 1
    elif metric == "http_req_duration":
        points.durations_ms.append(value)
    else:
        points.failed += value
        points.failed_points += 1


def _slow(line: bytes, path: Path, number: int) -> tuple[str, float, str | None, bool] | None:
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CampaignError(f"{path}:{number}: malformed k6 line: {exc}") from exc
    if not isinstance(item, dict) or item.get("type") != "Point" or item.get("metric", "").encode() not in METRICS:
        return None
    try:
        data = item["data"]
        tags = data.get("tags") or {}
        return item["metric"], float(data["value"]), tags.get("phase"), tags.get("expected_response") != "false"
    except (KeyError, TypeError, ValueError) as exc:
        raise CampaignError(f"{path}:{number}: k6 Point without data.value: {exc!r}") from exc


def read_points(path: Path) -> RunPoints:
    """Stream one k6 NDJSON file (gzip or plain) and keep only what the report needs."""
    points = RunPoints()
    number = 0
    try:
        with _open(path) as handle:
            for number, line in enumerate(handle, start=1):
                if line.startswith(_METRIC_KEY):
                    # k6's own layout: only the three metrics the report uses are read.
                    if line.startswith(_WANTED):
                        match = _FAST.match(line)
                        parsed = (
                            (match.group(1).decode(), float(match.group(2)), _phase(match.group(3)), FAILED_TAG not in match.group(3))
                            if match
                            else _slow(line, path, number)
                        )
                        if parsed:
                            _add(points, *parsed)
                    continue
                if not line.startswith(b"{"):
                    if line.strip():
                        raise CampaignError(f"{path}:{number}: malformed k6 line (not a JSON object)")
                    continue
                if b'"Point"' in line and b'"http_req' in line:
                    parsed = _slow(line, path, number)
                    if parsed:
                        _add(points, *parsed)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise CampaignError(f"{path}:{number + 1}: cannot read (truncated or corrupt): {exc}") from exc
    return points


def _phase(tags: bytes) -> str | None:
    if b'"phase":"measure"' in tags:
        return "measure"
    return "warmup" if b'"phase":"warmup"' in tags else None


def _runs(folder: Path, modes: list[str]) -> Iterator[Run]:
    for run_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        identity = contract.run_identity(run_dir.name)
        if identity is None:
            continue
        try:
            yield Run(name=run_dir.name, path=run_dir, meta=_read_json(run_dir / "run.json"))
        except CampaignError as exc:
            # A run cut short (control node killed between fetch and record, disk full): left out
            # by name, never the campaign's end; a resume runs it again under a new number.
            yield _unrecorded(run_dir, identity, modes, str(exc))


def _unrecorded(run_dir: Path, identity: tuple[int, str, int], modes: list[str], why: str) -> Run:
    _, unit, round_ = identity
    if unit == contract.CONCURRENT:
        meta: dict[str, Any] = {"design": contract.CONCURRENT, "modes": modes, "round": round_, "measure_duration_s": 0}
    else:
        meta = {"mode": unit, "round": round_, "measure_duration_s": 0}
    meta |= {"status": "unrecorded", "error": why}
    return Run(name=run_dir.name, path=run_dir, meta=meta, problem=f"no usable run.json ({why}); resuming the campaign runs it again")


def raw_file(run_dir: Path) -> Path | None:
    for name in ("k6.json.gz", "k6.json"):
        if (run_dir / name).exists():
            return run_dir / name
    return None


SEGMENT_FILE = re.compile(r"^k6\.seg(\d+)\.json(\.gz)?$")


def raw_files(run_dir: Path) -> list[Path]:
    """The run's k6 output: k6.json.gz, or one k6.segN.json.gz per load generator (distributed)."""
    numbered = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := SEGMENT_FILE.match(p.name))]
    if numbered:
        return [p for _, p in sorted(numbered)]
    single = raw_file(run_dir)
    return [single] if single else []


def target_folders(folder: Path) -> list[Path]:
    """The target folders of a campaign, results/<id>/<target>/, each holding a manifest.json.

    A folder with a manifest.json of its own is one target's (or a campaign from before
    targets had folders) and stands for itself.
    """
    if not folder.is_dir():
        raise CampaignError(f"{folder}: not a campaign folder")
    if (folder / "manifest.json").exists():
        return [folder]
    found = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").exists())
    if not found:
        raise CampaignError(f"{folder}: no manifest.json, and no target folder (<target>/manifest.json) in it")
    return found


def load_campaign(folder: Path) -> Campaign:
    """Read one target's manifest and every run; a run that cannot be used gets a `problem`, not an exit.

    `folder` is a target folder, or a campaign folder with exactly one target.
    """
    targets = target_folders(folder)
    if len(targets) > 1:
        names = ", ".join(p.name for p in targets)
        raise CampaignError(f"{folder}: a campaign of {len(targets)} targets ({names}); name one, e.g. {targets[0]}")
    folder = targets[0]
    raw_manifest = _read_json(folder / "manifest.json")
    for key in ("campaign_id", "profile", "modes"):
        if key not in raw_manifest:
            raise CampaignError(f"{folder / 'manifest.json'}: required key '{key}' missing")
    try:
        manifest = schema.migrate_manifest(raw_manifest, folder / "manifest.json")
    except schema.SchemaError as exc:
        raise CampaignError(str(exc)) from None
    runs_dir = folder / "runs"
    if not runs_dir.is_dir():
        raise CampaignError(f"{runs_dir}: missing (no runs)")
    runs = list(_runs(runs_dir, list(manifest["modes"])))
    if not runs:
        raise CampaignError(f"{runs_dir}: no runs")
    to_read: dict[tuple[Path, ...], Run] = {}
    for run in runs:
        keys = contract.CONCURRENT_KEYS if run.concurrent else contract.SEQUENTIAL_KEYS
        missing = [key for key in keys if key not in run.meta]
        if missing:
            raise CampaignError(f"{run.path / 'run.json'}: required keys missing: {', '.join(missing)}")
        wrong = contract.type_problems(run.meta)
        if wrong:
            raise CampaignError(f"{run.path / 'run.json'}: {'; '.join(wrong)}")
        try:
            schema.check_run(run.meta, run.path / "run.json")
        except schema.SchemaError as exc:
            raise CampaignError(str(exc)) from None
        raw = raw_files(run.path)
        expected = len(run.meta.get("segments") or []) or 1
        if run.problem is not None:
            continue
        if run.meta["status"] != "ok":
            run.problem = f"status {run.meta['status']}: {run.meta.get('error') or 'no reason recorded'}"
        elif excluded := _excluded(run, manifest):
            run.problem = excluded
        elif not raw:
            run.problem = "no k6.json.gz"
        elif len(raw) != expected:
            run.problem = f"{len(raw)} k6 output file(s) for {expected} load generator segment(s): {', '.join(p.name for p in raw)}"
        elif run.concurrent and not (run.path / contract.SAMPLES_FILE).exists():
            run.problem = f"no {contract.SAMPLES_FILE} (the CPU samples of a concurrent round)"
        else:
            to_read[tuple(raw)] = run
    jobs = [(raws, tuple(run.meta["modes"]) if run.concurrent else None) for raws, run in to_read.items()]
    # Runs are independent: read them on every core, one run per worker at a time.
    workers = min(len(to_read), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) if workers > 1 else nullcontext() as pool:
        mapped = pool.map(_read_job, jobs) if pool else map(_read_job, jobs)
        for (raws, run), result in zip(to_read.items(), mapped, strict=True):
            if isinstance(result, str):
                run.problem = result
            elif isinstance(result, dict):
                run.windows = result
            elif result.requests == 0:
                run.problem = f"{', '.join(map(str, raws))}: no measured points (phase=measure)"
            else:
                run.points = result
    return campaign_or_error(folder, manifest, runs)


def _excluded(run: Run, manifest: dict[str, Any]) -> str | None:
    try:
        return rules.exclusion(run.meta, manifest.get("profile"))
    except ValueError as exc:
        raise CampaignError(f"{run.path.parent.parent / 'manifest.json'}: profile.{exc}") from None


def read_run_points(raws: tuple[Path, ...] | list[Path]) -> RunPoints:
    """One run's points: a single k6 output, or every segment's merged into one run."""
    points = read_points(raws[0])
    for raw in raws[1:]:
        points.merge(read_points(raw))
    return points


def _read_job(job: tuple[tuple[Path, ...], tuple[str, ...] | None]) -> RunPoints | dict[str, ModeWindow] | str:
    raws, modes = job
    if modes is None:
        return _summarised(raws)
    try:
        return windows(raws, raws[0].parent / contract.SAMPLES_FILE, modes)
    except WindowError as exc:
        return str(exc)


def _summarised(raws: tuple[Path, ...]) -> RunPoints | str:
    """One run's points, merged over its segments and summarised; or why they cannot be read."""
    try:
        points = read_run_points(raws)
    except CampaignError as exc:
        return str(exc)
    points.summarise()
    return points


def campaign_or_error(folder: Path, manifest: dict[str, Any], runs: list[Run]) -> Campaign:
    usable = [run for run in runs if run.problem is None]
    if not usable:
        reasons = "; ".join(f"{run.name}: {run.problem}" for run in runs)
        raise CampaignError(f"{folder}: no usable run ({reasons})")
    return Campaign(path=folder, manifest=manifest, runs=runs)
