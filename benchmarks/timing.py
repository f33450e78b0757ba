"""Timing primitives: one sample, inner-loop calibration, and round-robin rounds.

A *sample* is the mean time per call over an inner loop of ``n`` calls, with ``n``
calibrated once so a sample lasts about ``target_s`` (5-20 ms): long enough to
swamp timer resolution, short enough that machine speed swings (up to 1.6x within
seconds on the project's VMs) hit every backend alike, because each *round* times
every backend once, back to back, before the next round starts.
"""

from __future__ import annotations

import gc
import math
from itertools import repeat
from statistics import median
from time import perf_counter
from typing import Callable


def sample(fn: Callable[[], object], n: int, collect_garbage: bool = False) -> float:
    """Mean seconds per call of ``fn`` over ``n`` back-to-back calls (GC off unless asked)."""
    was_enabled = gc.isenabled()
    if not collect_garbage:
        gc.disable()
    try:
        start = perf_counter()
        for _ in repeat(None, n):
            fn()
        return (perf_counter() - start) / n
    finally:
        if was_enabled:
            gc.enable()


def calibrate(fn: Callable[[], object], target_s: float) -> int:
    """Inner-loop length so that one sample of ``fn`` lasts about ``target_s``."""
    n = 1
    while True:
        per_call = sample(fn, n)
        if per_call * n >= min(target_s / 4, 2e-3) or n >= 1 << 22:
            break
        n *= 4
    if per_call >= 2 * target_s:
        return 1  # one call is a whole sample already (DebugMode); a second look changes nothing
    per_call = min(per_call, sample(fn, n))  # second look: the first may have hit a slow patch
    return max(1, math.ceil(target_s / per_call))


def round_robin(entries: dict[str, tuple[Callable[[], object], int]], rounds: int,
                min_rounds: int, budget_s: float, collect_garbage: bool = False,
                caps: dict[str, int] | None = None) -> dict[str, list[float]]:
    """Time every entry once per round, rotating the order each round.

    ``entries`` maps a key to ``(callable, inner_n)``. Stops after ``rounds`` rounds,
    or earlier once ``budget_s`` is spent and at least ``min_rounds`` are done.
    ``caps`` maps a key to the number of rounds it takes part in (the first ones), for
    slow entries such as DebugMode; their time does not count against ``budget_s``, so
    they cost the other entries no rounds. Returns key -> per-round sample times (index =
    round), shorter lists for capped keys; their indices are still the same rounds.
    """
    keys = list(entries)
    caps = caps or {}
    times: dict[str, list[float]] = {k: [] for k in keys}
    start, excluded = perf_counter(), 0.0
    for r in range(rounds):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            if r >= caps.get(key, rounds):
                continue
            fn, n = entries[key]
            t0 = perf_counter()
            times[key].append(sample(fn, n, collect_garbage))
            if key in caps:
                excluded += perf_counter() - t0
        if r + 1 >= min_rounds and perf_counter() - start - excluded > budget_s:
            break
    return times


def median_ratio(times: dict[str, list[float]], key: str, ref: str) -> float | None:
    """Median over rounds of ``times[key][r] / times[ref][r]`` (not a ratio of medians)."""
    if key not in times or ref not in times:
        return None
    pairs = [a / b for a, b in zip(times[key], times[ref]) if b > 0]
    return median(pairs) if pairs else None


def quartiles(values: list[float]) -> tuple[float, float]:
    """25th and 75th percentiles (inclusive method; equal for one value)."""
    v = sorted(values)
    if len(v) == 1:
        return v[0], v[0]

    def at(q):
        pos = q * (len(v) - 1)
        lo = math.floor(pos)
        return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (pos - lo)

    return at(0.25), at(0.75)
