"""Per-Op profiling of compiled functions and reports fit for CI.

Use ``f = verigraph.function(ins, outs, profile=True)`` (or ``profile=stats`` to share
one :class:`ProfileStats` between functions, or ``config.profile=True`` to profile every
function and print a summary at exit), call ``f``, then read ``f.profile``:
``f.profile.summary()`` prints a terminal table, ``write_reports(f.profile, outdir)``
writes ``profile.json`` (versioned, see ``schema.json``), ``profile.md`` (a CI job
summary) and ``profile.html`` (self-contained, with SVG charts), and
``diff_profiles(old, new)`` / ``verigraph profile diff OLD NEW --fail-on-regression``
flag what got slower.

What is measured: per function the calls, the wall time inside ``Function.__call__``
and inside the linked program (the difference is Python overhead: argument filtering,
cross-checks, updates) and the compile time split into rewriting (per rule: time and
how often it fired) and linking; per Apply node its time, calls, last-seen input and
output shapes and output bytes, aggregated per Op and per Op class; the peak memory
of the program with and without freeing intermediates, simulated from the node order
and the last call's output sizes.

Overhead of profiling: the profiled program is a separate generated program (the
normal fast program is untouched), adding two ``perf_counter()`` reads, two list
updates and a size record per node. Measured on the development machine (Python 3.11,
NumPy 2.4) on a 402-node chain of tiny elementwise ops: 0.43 us per node per call
(212 us -> 386 us per call)
(``tests/profiling/test_overhead.py`` re-measures it and bounds it at 5 us). Nodes whose
kernels take tens of microseconds or more are timed to within a few percent; the sum of
node times is within 10 % of the program time for such graphs (the rest, reported as
``unattributed_time``, is the timers themselves).
"""
from verigraph.profiling.diff import DiffResult, cli_profile_diff, diff_profiles, main_diff
from verigraph.profiling.pyspy import PySpyResult, run_under_pyspy
from verigraph.profiling.report_json import load_profile, load_schema, render_json
from verigraph.profiling.reports import write_reports
from verigraph.profiling.stats import SCHEMA_ID, SCHEMA_VERSION, FunctionProfile, ProfileStats

__all__ = ["ProfileStats", "FunctionProfile", "write_reports", "render_json", "load_profile",
           "load_schema", "diff_profiles", "DiffResult", "main_diff", "cli_profile_diff",
           "run_under_pyspy", "PySpyResult", "SCHEMA_ID", "SCHEMA_VERSION"]
