"""A known cost for the lab's controls: fixed busy work per request, its CPU time sampled.

The work is `loops` iterations of a pure-Python loop, so its cost is a fixed amount of work,
not of time. One call in SAMPLE_EVERY is timed with the thread's CPU clock: the mean of those
samples is the injected CPU per request, measured inside the process, independently of the
lab's own accounting, at a timer cost that averages out to ~0.1 µs a request.
"""

import time
from dataclasses import dataclass

SAMPLE_EVERY = 16


def burn(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i
    return total


@dataclass
class Counters:
    """Cumulative since the process started; the lab reads them before and after a run."""

    requests: int = 0
    busy_sampled_calls: int = 0
    busy_sampled_ns: int = 0

    def record(self, loops: int) -> None:
        """Count one /records request and do its busy work, timing one call in SAMPLE_EVERY."""
        self.requests += 1
        if loops <= 0:
            return
        if self.requests % SAMPLE_EVERY:
            burn(loops)
            return
        started = time.thread_time_ns()
        burn(loops)
        self.busy_sampled_ns += time.thread_time_ns() - started
        self.busy_sampled_calls += 1
