"""One concurrent round: every mode's CPU time and requests over the same wall-clock window.

In a concurrent round one k6 process loads every mode at once (a scenario per mode, tagged
`mode`), all modes sharing the service core, while `cpu_sampler.py` reads each mode's cgroup
CPU time every fraction of a second. The window is bounded by the two samples that bracket
the measured phase (the first sample at or after its first request, the last one at or before
its last request); each mode's requests are those k6 saw complete inside the same window,
whatever their phase tag, so CPU and requests cover exactly the same instants. The CPU speed
drifts on these machines, but all modes share the drift within a window: the ratio of two
modes' CPU per request does not.

Standard library only: the lab role's run plugin imports it on the control node too.
"""

from __future__ import annotations

import bisect
import gzip
import json
import re
import zlib
from array import array
from calendar import timegm
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import geometric_mean, quantiles
from typing import IO, Any, cast

_LINE = re.compile(
    rb'^\{"metric":"(http_reqs|http_req_duration|http_req_failed)","type":"Point","data":\{"time":"([^"]*)","value":([-0-9.eE+]+),"tags":\{(.*)\}\}\}\s*$'
)
_WANTED = tuple(b'{"metric":"' + name + b'","type":"Point"' for name in (b"http_reqs", b"http_req_duration", b"http_req_failed"))
_MODE = re.compile(rb'"mode":"([A-Za-z0-9_]+)"')
_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d(?:\.\d+)?)(Z|[+-]\d\d:\d\d)$")


# k6 tags a request whose response was not the expected one (a 5xx, a refused connection).
FAILED_TAG = b'"expected_response":"false"'
# The known-count control's extra requests (lab.js): served, but not what the mode is measured by.
EXTRA_TAG = b'"extra":"1"'

# The sampler's name for every task's CPU time on the service CPUs (cpu_sampler.py @NAME=CPULIST).
SERVICE_CORE = "@service_core"
# Its hard and soft interrupt time from /proc/stat (tick-sampled).
SERVICE_CORE_IRQ = "@service_core:irq"

# Latency histogram bins (ms, log-spaced), shared with the report's sequential runs.
HISTOGRAM_EDGES_MS = [10 ** (-1 + 6 * i / 240) for i in range(241)]


class WindowError(Exception):
    """A concurrent round whose files cannot give a window; the message names the file."""


_minute_cache: dict[str, float] = {}


def epoch(stamp: str) -> float:
    """k6's RFC 3339 time (nanoseconds, Z or an offset) as seconds since the epoch."""
    match = _TIME.match(stamp)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    year, month, day, hour, minute, second, zone = match.groups()
    key = stamp[:16] + zone
    base = _minute_cache.get(key)
    if base is None:
        base = float(timegm((int(year), int(month), int(day), int(hour), int(minute), 0)))
        if zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            base -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
        _minute_cache[key] = base
    return base + float(second)


@dataclass
class ModePoints:
    """One mode's points in a concurrent round."""

    done_at: array[float] = field(default_factory=lambda: array("d"))  # every request's completion time
    served_at: array[float] = field(default_factory=lambda: array("d"))  # those answered as expected (not failed)
    durations_ms: array[float] = field(default_factory=lambda: array("d"))  # measured phase only
    durations_at: array[float] = field(default_factory=lambda: array("d"))  # when each of those was recorded
    extra_at: array[float] = field(default_factory=lambda: array("d"))  # the control's extra requests, served
    measured_requests: int = 0
    failed: float = 0.0
    failed_points: int = 0
    first_measured: float = float("inf")
    last_measured: float = float("-inf")


@dataclass
class ModeWindow:
    """What the report and the stopping rule use of one mode in one concurrent round."""

    mode: str
    requests: int  # every request completed in the window, failed ones included
    cpu_s: float
    window_s: float
    measured_requests: int
    error_rate: float
    latency_ms: dict[int, float]
    histogram: list[int] = field(default_factory=list)
    latency_gmean_ms: float | None = None
    # Every task's CPU time on the service CPUs over the same window (the sampler's @service_core,
    # the same for every mode of the round); None when the samples do not have it.
    core_cpu_s: float | None = None
    # The service CPUs' irq + softirq time over the window (/proc/stat, tick-sampled); None unsampled.
    core_irq_s: float | None = None
    # Per second of the round, from its first request: requests done (any phase) and the p95 of the
    # measured ones (None where there were none); the measured phase starts at measure_from_s.
    per_second_requests: list[int] = field(default_factory=list)
    per_second_p95_ms: list[float | None] = field(default_factory=list)
    measure_from_s: float = 0.0
    # The requests of the window that were served (not failed): what CPU per request divides by.
    served: int | None = None
    # The known-count control's extra requests served in the window (not among `requests`).
    extra: int = 0

    @property
    def extra_share_pct(self) -> float | None:
        """The control's known cost: extra requests per served request, in percent."""
        return 100.0 * self.extra / self.served_requests if self.extra and self.served_requests else None

    @property
    def served_requests(self) -> int:
        return self.requests if self.served is None else self.served

    @property
    def cpu_us_per_request(self) -> float | None:
        """CPU per served request: a failed request costs CPU but serves nothing."""
        return self.cpu_s / self.served_requests * 1e6 if self.served_requests else None

    @property
    def throughput_rps(self) -> float | None:
        return self.requests / self.window_s if self.window_s > 0 else None

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "served_requests": self.served_requests,
            "extra_requests": self.extra,
            "cpu_s": round(self.cpu_s, 6),
            "window_s": round(self.window_s, 6),
            "cpu_us_per_request": _r(self.cpu_us_per_request),
            "throughput_rps": _r(self.throughput_rps),
            "measured_requests": self.measured_requests,
            "error_rate": round(self.error_rate, 6),
            "latency_gmean_ms": _r(self.latency_gmean_ms),
            "latency_p50_ms": _r(self.latency_ms.get(50)),
            "latency_p95_ms": _r(self.latency_ms.get(95)),
            "latency_p99_ms": _r(self.latency_ms.get(99)),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.suffix == ".gz" else path.open("rb")


def read_mode_points(paths: Iterable[Path]) -> dict[str, ModePoints]:
    """Stream k6 NDJSON files (one per load generator segment) and split their points by mode."""
    found: dict[str, ModePoints] = {}
    for path in paths:
        number = 0
        try:
            with _open(path) as handle:
                for number, line in enumerate(handle, start=1):
                    match = _LINE.match(line)
                    if not match:
                        if line.startswith(_WANTED):
                            raise WindowError(f"{path}:{number}: a k6 Point of an unexpected shape")
                        continue
                    metric, stamp, value, tags = match.groups()
                    mode = _MODE.search(tags)
                    if mode is None:
                        continue
                    points = found.setdefault(mode.group(1).decode(), ModePoints())
                    if EXTRA_TAG in tags:
                        if metric == b"http_reqs" and FAILED_TAG not in tags:
                            points.extra_at.append(epoch(stamp.decode()))
                        continue
                    measured = b'"phase":"measure"' in tags
                    if metric == b"http_reqs":
                        at = epoch(stamp.decode())
                        points.done_at.append(at)
                        if FAILED_TAG not in tags:
                            points.served_at.append(at)
                        if measured:
                            points.measured_requests += 1
                            points.first_measured = min(points.first_measured, at)
                            points.last_measured = max(points.last_measured, at)
                    elif measured and metric == b"http_req_duration":
                        points.durations_ms.append(float(value))
                        points.durations_at.append(epoch(stamp.decode()))
                    elif measured:
                        points.failed += float(value)
                        points.failed_points += 1
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError) as exc:
            raise WindowError(f"{path}:{number + 1}: cannot read (truncated or corrupt): {exc}") from exc
    return found


def read_samples(path: Path) -> list[tuple[float, dict[str, int]]]:
    samples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise WindowError(f"{path}: cannot read the CPU samples: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        try:
            item = json.loads(line)
            samples.append((float(item["t"]), {str(k): int(v) for k, v in item["cpu_ns"].items()}))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            if number == len(lines):
                break  # the sampler was stopped while writing its last line
            raise WindowError(f"{path}:{number}: not a CPU sample: {exc!r}") from exc
    return samples


def percentiles(values: array[float]) -> dict[int, float]:
    if len(values) < 2:
        return {q: values[0] for q in (50, 95, 99)} if values else {}
    cuts = quantiles(values, n=100, method="inclusive")
    return {50: cuts[49], 95: cuts[94], 99: cuts[98]}


def gmean_ms(values: Iterable[float]) -> float | None:
    """The geometric mean of request durations: exp(mean log duration); None without any.

    The latency profile's primary metric. Its gap is the mean shift of log latency, the
    "typical request is x% slower" of the whole distribution; on latency-3's 46 rounds its
    per-round sd was 2.57 pp (bridge) and 1.69 pp (docker_host) against the p50's 4.16 and
    1.87: a median of ~600 requests carries ~2 pp of sampling noise alone.
    """
    kept = [max(v, 1e-6) for v in values]
    return geometric_mean(kept) if kept else None


def histogram(values: array[float]) -> list[int]:
    counts = [0] * (len(HISTOGRAM_EDGES_MS) - 1)
    last = len(counts) - 1
    for value in values:
        i = bisect.bisect_right(HISTOGRAM_EDGES_MS, value) - 1
        if 0 <= i <= last or value == HISTOGRAM_EDGES_MS[-1]:
            counts[min(i, last)] += 1
    return counts


def windows(raw: Iterable[Path], samples_path: Path, modes: Iterable[str]) -> dict[str, ModeWindow]:
    """Each mode's CPU, requests and latency over the measured window of one concurrent round."""
    wanted, raw = list(modes), list(raw)
    points = read_mode_points(raw)
    missing = [m for m in wanted if m not in points or points[m].measured_requests == 0]
    if missing:
        raise WindowError(f"no measured requests of {', '.join(missing)} in {', '.join(map(str, raw))}")
    samples = read_samples(samples_path)
    lo = min(points[m].first_measured for m in wanted)
    hi = max(points[m].last_measured for m in wanted)
    inside = [s for s in samples if lo <= s[0] <= hi]
    if len(inside) < 2:
        raise WindowError(f"{samples_path}: {len(inside)} CPU sample(s) inside the measured window {lo:.3f}-{hi:.3f}; 2 are needed")
    (t0, cpu0), (t1, cpu1) = inside[0], inside[-1]
    start = min(min(points[m].done_at) for m in wanted)
    core = (cpu1[SERVICE_CORE] - cpu0[SERVICE_CORE]) / 1e9 if SERVICE_CORE in cpu0 and SERVICE_CORE in cpu1 else None
    irq = (cpu1[SERVICE_CORE_IRQ] - cpu0[SERVICE_CORE_IRQ]) / 1e9 if SERVICE_CORE_IRQ in cpu0 and SERVICE_CORE_IRQ in cpu1 else None
    result = {}
    for mode in wanted:
        if mode not in cpu0 or mode not in cpu1:
            raise WindowError(f"{samples_path}: no CPU samples of mode {mode}")
        done, served, extra = sorted(points[mode].done_at), sorted(points[mode].served_at), sorted(points[mode].extra_at)
        requests = bisect.bisect_right(done, t1) - bisect.bisect_right(done, t0)
        p = points[mode]
        result[mode] = ModeWindow(
            mode=mode,
            requests=requests,
            served=bisect.bisect_right(served, t1) - bisect.bisect_right(served, t0),
            extra=bisect.bisect_right(extra, t1) - bisect.bisect_right(extra, t0),
            cpu_s=(cpu1[mode] - cpu0[mode]) / 1e9,
            window_s=t1 - t0,
            measured_requests=p.measured_requests,
            error_rate=p.failed / p.failed_points if p.failed_points else 0.0,
            latency_ms=percentiles(p.durations_ms),
            latency_gmean_ms=gmean_ms(p.durations_ms),
            histogram=histogram(p.durations_ms),
            per_second_requests=_per_second_counts(p.done_at, start),
            per_second_p95_ms=_per_second_p95(p.durations_at, p.durations_ms, start),
            measure_from_s=p.first_measured - start,
            core_cpu_s=core,
            core_irq_s=irq,
        )
    return result


def other_work(found: dict[str, ModeWindow]) -> float | None:
    """Cores' worth of the service CPU set's time that went to anything but the modes during the
    round's window; None when it was not sampled. ~0.01-0.02 in a clean round here; other work on
    the machine shows."""
    first = next(iter(found.values()), None)
    if first is None or first.core_cpu_s is None or first.window_s <= 0:
        return None
    return (first.core_cpu_s - sum(w.cpu_s for w in found.values())) / first.window_s


def _per_second_counts(times: array[float], start: float) -> list[int]:
    counts: list[int] = []
    for t in times:
        i = int(t - start)
        if i >= len(counts):
            counts.extend([0] * (i + 1 - len(counts)))
        counts[i] += 1
    return counts


def _per_second_p95(times: array[float], values: array[float], start: float) -> list[float | None]:
    buckets: list[list[float]] = []
    for t, v in zip(times, values, strict=True):
        i = int(t - start)
        if i >= len(buckets):
            buckets.extend([] for _ in range(i + 1 - len(buckets)))
        buckets[i].append(v)
    return [percentiles(array("d", b))[95] if len(b) >= 2 else (b[0] if b else None) for b in buckets]
