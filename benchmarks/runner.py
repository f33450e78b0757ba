"""Run one workload: build every backend, verify against NumPy, time round-robin, summarise."""

from __future__ import annotations

import traceback
from statistics import median
from time import perf_counter

from benchmarks.backends import BACKENDS_BY_KEY, REFERENCES, LoadedBackends
from benchmarks.results import Row, WorkloadResult
from benchmarks.settings import Settings
from benchmarks.timing import calibrate, median_ratio, quartiles, round_robin
from benchmarks.verify import mismatch, snapshot
from benchmarks.workloads.base import Workload

FLOOR_PREFIX = "extra:"


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
    return text if len(text) <= 160 else text[:157] + "..."


def _build(workload: Workload, family: str, lib):
    factory = {"numpy": workload.numpy, "graph": workload.graph, "jax": workload.jax}[family]
    if factory is None:
        return None
    data = workload.make_data()
    return factory(data) if family == "numpy" else factory(lib, data)


def _prepare(workload, loaded: LoadedBackends, console, verbose):
    """Build each backend's case and check its first result; returns (rows, cases)."""
    rows: dict[str, Row] = {}
    cases = {}
    expected = None
    rtol, atol = workload.tolerance()
    for key, lib in loaded.libs.items():
        if not BACKENDS_BY_KEY[key].runs(workload.name):
            continue  # e.g. DebugMode only on the debugging workloads: no row at all
        row = rows[key] = Row(key, loaded.label(key))
        start = perf_counter()
        try:
            case = _build(workload, BACKENDS_BY_KEY[key].family, lib)
            if case is None:
                row.status, row.notes = "skipped", ["not written for this backend"]
                continue
            call_start = perf_counter()
            first_result = case.run()
            row.first_call_s = perf_counter() - call_start
            observed = snapshot(case.observe(first_result))
            settle = getattr(lib, "settle", None)
            if settle is not None:
                # Kernels requested by the first calls build in the background; the
                # next calls then run (and check) them, all before any timed round.
                for _ in range(3):
                    settle()
                    case.run()
        except Exception as exc:  # a backend that cannot run this workload is reported, not fatal
            row.status, row.notes = "error", [_short(exc)]
            console.print(f"  [red]error[/] {workload.name} / {row.label}: {_short(exc)}")
            if verbose:
                console.print(traceback.format_exc(), markup=False, highlight=False)
            continue
        row.first_s = perf_counter() - start
        cases[key] = case
        if key == "numpy":
            expected = observed
            continue
        problem = mismatch(expected, observed, rtol, atol) if expected is not None else None
        if problem:
            row.status, row.notes = "MISMATCH", [problem]
            console.print(f"  [bold white on red] MISMATCH [/] {workload.name} / {row.label}: {problem}")
            console.print(f"  MISMATCH {workload.name} / {row.label}", markup=False, highlight=False)
    return rows, cases


def run_workload(workload: Workload, loaded: LoadedBackends, settings: Settings,
                 console, verbose: bool = False) -> WorkloadResult:
    """Measure ``workload`` on every loaded backend; see README.md for the method."""
    result = WorkloadResult(workload.name, workload.title, workload.kind)
    rows, cases = _prepare(workload, loaded, console, verbose)
    if "numpy" not in cases:
        result.rows = list(rows.values())
        return result

    once: set[str] = set()
    if workload.kind == "compile":
        # NumPy is only the oracle here; each sample is one full build + first call.
        entries = {k: (c.run, 1) for k, c in cases.items() if k != "numpy"}
        times = round_robin(entries, settings.compile_rounds, settings.compile_rounds,
                            float("inf"), collect_garbage=True)
        rows["numpy"].status, rows["numpy"].notes = "reference", ["oracle only: nothing to compile"]
    else:
        # --quick: a DebugMode call of seconds (PyTensor's on the MLP) is timed once, by
        # its verification call, instead of costing the smoke run more such calls.
        once = {k for k in cases if BACKENDS_BY_KEY[k].debug
                and rows[k].first_call_s > settings.slow_call_s}
        entries = {k: (c.run, calibrate(c.run, settings.target_s))
                   for k, c in cases.items() if k not in once}
        extras = workload.extras(workload.make_data()) if workload.extras else {}
        for name, fn in extras.items():
            fn()
            entries[FLOOR_PREFIX + name] = (fn, calibrate(fn, settings.target_s))
            rows[FLOOR_PREFIX + name] = Row(FLOOR_PREFIX + name, _extra_label(name), "reference")
        caps = {k: settings.debug_rounds for k in cases if BACKENDS_BY_KEY[k].debug}
        times = round_robin(entries, settings.rounds, settings.min_rounds, settings.budget_s,
                            caps=caps)

    result.rounds = max((len(t) for t in times.values()), default=0)
    for key, samples in times.items():
        row = rows[key]
        row.samples_s = samples
        row.inner_n = entries[key][1]
        row.median_s = median(samples)
        compare = BACKENDS_BY_KEY[key].compare if key in BACKENDS_BY_KEY else ()
        for ref in (*REFERENCES, *compare):
            if ref in times and ref != key:
                row.ratios[ref] = median_ratio(times, key, ref)
                row.spread[ref] = quartiles([a / b for a, b in zip(samples, times[ref])])
        _add_notes(workload, row, times)
    for key in once:
        _timed_once(rows[key], times)
    result.rows = list(rows.values())
    return result


def _timed_once(row, times):
    """A row whose only sample is its verification call: ratios against the references' medians."""
    row.samples_s, row.median_s, row.inner_n = [row.first_call_s], row.first_call_s, 1
    for ref in (*REFERENCES, *BACKENDS_BY_KEY[row.key].compare):
        if ref in times and times[ref]:
            row.ratios[ref] = row.first_call_s / median(times[ref])
    row.notes.append("timed once (its first call): ratios to the references' medians")


def _extra_label(name):
    return {"floor": "numpy np.add(a, b, out=c) floor"}.get(name, f"numpy {name}")


def _add_notes(workload, row, times):
    if workload.kind == "compile" and row.first_s is not None:
        row.notes.append(f"first build {row.first_s:.2f} s")
    floor = FLOOR_PREFIX + "floor"
    if workload.bytes_moved and row.median_s:
        gbps = median(workload.bytes_moved / t / 1e9 for t in row.samples_s)
        ratio = median_ratio(times, row.key, floor)
        row.ratios["floor"] = ratio
        row.notes.append(f"{ratio:.2f}x floor, {gbps:.1f} GB/s" if ratio else f"{gbps:.1f} GB/s")
