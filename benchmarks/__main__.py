"""``python -m benchmarks [--quick] [--only NAME[,NAME]] [--json PATH] [--backends KEY,...]``.

Times every workload on every importable backend, round-robin, and prints one
table of medians and per-round ratios (see README.md). Run it from the repository
root so ``import verigraph`` finds the working tree.
"""

from __future__ import annotations

import argparse
import sys
from time import perf_counter

import benchmarks  # noqa: F401  (pins threads before NumPy loads)
from benchmarks.backends import BACKENDS, BACKENDS_BY_KEY, load_backends
from benchmarks.settings import FULL, QUICK

STARTUP = "startup"


def _names(text):
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def select_workloads(only, workloads):
    """Workloads named in ``only`` (exact names, or prefixes like ``mlp``); all when empty."""
    if not only:
        return list(workloads), True
    chosen, want_startup = [], False
    for name in only:
        if name == STARTUP:
            want_startup = True
            continue
        matches = [w for w in workloads if w.name == name or w.name.startswith(name + "_")]
        if not matches:
            valid = ", ".join([w.name for w in workloads] + [STARTUP])
            raise SystemExit(f"unknown workload {name!r}; choose from: {valid}")
        chosen += [w for w in matches if w not in chosen]
    return chosen, want_startup


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few rounds, short samples (smoke test, ~1 min)")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="workloads to run (names or prefixes; 'startup' too)")
    parser.add_argument("--json", metavar="PATH", help="also write every sample and ratio as JSON")
    parser.add_argument("--backends", metavar="KEY[,KEY]",
                        help="backends besides numpy (always on): " + ", ".join(b.key for b in BACKENDS[1:]))
    parser.add_argument("--list", action="store_true", help="list workloads and backends, then exit")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of backend errors")
    parser.add_argument("--all-cpus", action="store_true",
                        help="do not pin the run to one CPU (libraries may then use every core)")
    return parser.parse_args(argv)


def _pinning(cpus, total):
    if not cpus:
        return ""
    return f" · pinned to CPU {cpus[0]}" if len(cpus) == 1 else f" · {len(cpus)} of {total} CPUs"


def main(argv=None):
    args = parse_args(argv)
    from rich.console import Console

    from benchmarks.machine import describe
    from benchmarks.debug_summary import debug_summary, debug_table
    from benchmarks.report import format_seconds, results_table, write_json
    from benchmarks.runner import run_workload
    from benchmarks.startup import run_startup
    from benchmarks.workloads import WORKLOADS

    console = Console(width=None if sys.stdout.isatty() else 150)
    if args.list:
        for w in WORKLOADS:
            console.print(f"{w.name:16} {w.title}")
        console.print(f"{STARTUP:16} process start to first logistic-regression result (subprocesses)")
        console.print("backends: " + ", ".join(b.key for b in BACKENDS))
        return 0

    settings = QUICK if args.quick else FULL
    workloads, want_startup = select_workloads(_names(args.only), WORKLOADS)
    wanted = set(_names(args.backends) or BACKENDS_BY_KEY) | {"numpy"}
    unknown = sorted(wanted - set(BACKENDS_BY_KEY))
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; choose from: {', '.join(BACKENDS_BY_KEY)}")
    keys = [b.key for b in BACKENDS if b.key in wanted]

    if args.all_cpus:
        from benchmarks.environment import unpin
        unpin()
    start = perf_counter()
    loaded = load_backends(keys)
    for key, why in loaded.skipped.items():
        console.print(f"[yellow]skipped[/] {BACKENDS_BY_KEY[key].label}: {why}")
    meta = describe(loaded)
    console.print(f"[dim]{meta['date']} · {meta['cpu']} · {meta['cpus']} CPUs · "
                  f"{', '.join(f'{k} {v}' for k, v in meta['versions'].items())} · one thread"
                  f"{_pinning(meta['cpu_affinity'], meta['cpus'])}[/]")

    results = []
    for w in workloads:
        t0 = perf_counter()
        with console.status(f"{w.name}: {w.title}"):
            results.append(run_workload(w, loaded, settings, console, args.verbose))
        console.print(f"[dim]{w.name}: {results[-1].rounds} rounds, {perf_counter() - t0:.1f} s[/]")
    if want_startup:
        t0 = perf_counter()
        with console.status("startup: launching subprocesses"):
            results.append(run_startup(settings, keys, loaded.skipped, console))
        console.print(f"[dim]startup: {perf_counter() - t0:.1f} s[/]")

    console.print(results_table(results))
    summary = debug_summary(results)
    if summary:
        console.print(debug_table(summary, format_seconds))
    mismatches = [f"{r.name}/{row.label}" for r in results for row in r.rows if row.status == "MISMATCH"]
    if mismatches:
        console.print(f"[bold white on red] MISMATCH [/] results differ from NumPy: {', '.join(mismatches)}")
    console.print(f"[dim]total {perf_counter() - start:.0f} s[/]")
    if args.json:
        write_json(args.json, meta, results, loaded.skipped, settings)
        console.print(f"wrote {args.json}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
