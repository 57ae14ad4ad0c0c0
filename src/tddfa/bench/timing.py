"""Wall-clock timing of one callable: median and 90th percentile in milliseconds."""
from __future__ import annotations

import time
from typing import Callable

import numpy as np


def measure(fn: Callable[[], object], budget_s: float = 1.0, min_repeat: int = 10, max_repeat: int = 500,
            warmup: int = 3) -> dict:
    """Run ``fn`` ``warmup`` times, then until ``budget_s`` is spent (at least ``min_repeat`` runs).

    Returns ``{"median": ms, "p90": ms, "n": runs, "cpu_median": ms}``. The median resists the load spikes
    of a shared machine; p90 shows them. ``cpu_median`` is the process CPU time per call: at one thread it
    estimates the wall time on an idle machine even when other jobs compete for the cores (at more threads it
    is the sum over threads, not a latency).
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    cpu: list[float] = []
    end = time.perf_counter() + budget_s
    while len(times) < max_repeat and (len(times) < min_repeat or time.perf_counter() < end):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ms = np.asarray(times) * 1e3
    return {"median": round(float(np.median(ms)), 4), "p90": round(float(np.percentile(ms, 90)), 4), "n": len(ms),
            "cpu_median": round(float(np.median(cpu)) * 1e3, 4)}
