"""The ``verigraph`` command: ``check``, ``profile`` (and ``profile diff``), ``fuzz``.

Every command answers ``--help``. Exit status: 0 when all is well, 1 when a check
or fuzz run found something (or a profile regressed with ``--fail-on-regression``),
2 for bad input (a missing file, a module without the named function), always
with a one-line message instead of a traceback (``--traceback`` shows it).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

EXIT_OK, EXIT_FOUND, EXIT_USAGE = 0, 1, 2
MODE_CHOICES = ("DebugMode", "FAST_RUN", "FAST_COMPILE")


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


# -- output: rich when installed, plain text otherwise ---------------------------------------------
class _Output:
    """The little the commands need from a console: lines, a table, a progress bar."""

    def __init__(self, quiet=False):
        self.quiet = quiet
        try:
            from rich.console import Console
            self.console = Console(highlight=False, soft_wrap=True)
        except ImportError:  # rich is a dependency; plain text keeps a broken install usable
            self.console = None

    def line(self, text="", style=None):
        if self.quiet:
            return
        if self.console is not None:
            self.console.print(text, style=style, markup=False)
        else:
            print(text)

    def table(self, title, columns, rows, styles=None):
        if self.quiet:
            return
        if self.console is not None:
            from rich.table import Table
            table = Table(title=title)
            for col in columns:
                table.add_column(col, justify="right" if col in ("findings", "time (s)", "calls")
                                 else "left")
            for k, row in enumerate(rows):
                table.add_row(*map(str, row), style=(styles or {}).get(k))
            self.console.print(table)
            return
        print(title)
        print("  ".join(columns))
        for row in rows:
            print("  ".join(map(str, row)))

    def progress(self, total, description):
        """A context manager yielding ``advance(label)``."""
        return _Progress(self, total, description)


class _Progress:
    def __init__(self, out, total, description):
        self.out, self.total, self.description = out, total, description
        self.bar = None

    def __enter__(self):
        if self.out.console is not None and not self.out.quiet:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn)
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                console=self.out.console, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.description, total=self.total)
        return self

    def label(self, text):
        if self.bar is not None:
            self.bar.update(self.task, description=f"{self.description} {text}")

    def advance(self, n=1):
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


# -- check ---------------------------------------------------------------------------------------
def cmd_check(args, out):
    """Run workloads with every function in DebugMode (or cross-checked FAST_RUN)."""
    from verigraph.testing.reports import write_check_reports
    from verigraph.testing.workloads import TargetError, resolve_targets, run_target
    try:
        targets = resolve_targets(args.targets)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    crosscheck = args.crosscheck
    from verigraph.configparser import parse_crosscheck
    try:
        parse_crosscheck(crosscheck)
    except ValueError as exc:
        raise UsageError(f"--crosscheck: {exc}") from None
    results = []
    t0 = time.perf_counter()
    with out.progress(len(targets), f"check ({args.mode})") as bar:
        for target in targets:
            bar.label(target.label)
            try:
                result = run_target(target, mode=args.mode, crosscheck=crosscheck,
                                    max_calls=args.max_calls or None)
            except TargetError as exc:
                raise UsageError(str(exc)) from None
            if args.expect_findings:
                result.expect_findings = True
            results.append(result)
            bar.advance()
    seconds = time.perf_counter() - t0
    paths = write_check_reports(results, args.reports, args.mode, crosscheck, seconds)
    rows, styles = [], {}
    for k, r in enumerate(results):
        # Details (errors, findings) follow the table as one line each.
        rows.append((r.name, r.status, len(r.findings), f"{r.seconds:.2f}"))
        styles[k] = "green" if r.passed else "bold red"
    out.table(f"verigraph check ({args.mode}, crosscheck {crosscheck})",
              ("workload", "status", "findings", "time (s)"), rows, styles)
    for r in results:
        if r.error:
            out.line(f"ERROR {os.path.basename(r.name)}: {r.error}", style="bold red")
        for f in r.findings:
            tag = "expected" if r.expect_findings else "FINDING"
            out.line(f"{tag} {r.name}.{f.function}: {f.headline}",
                     style="yellow" if r.expect_findings else "red")
    failed = [r for r in results if not r.passed]
    out.line(f"reports: {paths['json']}, {paths['markdown']}")
    if failed:
        out.line(f"{len(failed)} of {len(results)} workloads failed: "
                 f"{', '.join(r.name for r in failed)}", style="bold red")
        return EXIT_FOUND
    out.line(f"all {len(results)} workloads passed", style="bold green")
    return EXIT_OK


# -- profile -------------------------------------------------------------------------------------
def cmd_profile(args, out):
    """Run workloads with profiling on; write per-workload and combined reports."""
    from verigraph.testing.workloads import TargetError, resolve_targets, run_target
    try:
        from verigraph.profiling import ProfileStats, write_reports
        from verigraph.profiling.session import session_stats
    except ImportError as exc:
        raise UsageError(f"profiling is not available ({exc})") from None
    try:
        targets = resolve_targets(args.targets)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    session = session_stats()
    combined = ProfileStats(name="bundled workloads")
    rows, failed = [], []
    with out.progress(len(targets), f"profile ({args.mode})") as bar:
        for target in targets:
            bar.label(target.label)
            start = len(session.functions)
            try:
                result = run_target(target, mode=args.mode, crosscheck="off",
                                    max_calls=args.max_calls or None, profile=True)
            except TargetError as exc:
                raise UsageError(str(exc)) from None
            # Take this workload's functions out of the session-wide stats: the CLI writes
            # its own reports, and the at-exit summary should not repeat them.
            mine = session.functions[start:]
            del session.functions[start:]
            stats = ProfileStats(name=target.label)
            for fp in mine:
                stats.add_function(fp)
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in target.label)
            try:
                if mine:
                    write_reports(stats, os.path.join(args.reports, "profile", safe))
                for fp in mine:
                    combined.add_function(fp)
            except Exception as exc:  # noqa: BLE001 - one workload's report must not stop the rest
                first = (str(exc).strip().splitlines() or [""])[0]
                result.error = result.error or f"profile report failed: {type(exc).__name__}: " \
                                               f"{first}"
            if result.error or (result.findings and not result.expect_findings):
                failed.append(result)
            total = sum(fp.call_time for fp in mine)
            status = "error" if result.error else \
                (f"{len(result.findings)} findings" if result.findings else "ok")
            rows.append((target.label, status, len(mine), sum(fp.calls for fp in mine),
                         f"{total:.3f}", f"{result.seconds:.2f}"))
            bar.advance()
    paths = write_reports(combined, args.reports)
    out.table(f"verigraph profile ({args.mode})",
              ("workload", "status", "functions", "calls", "call time (s)", "time (s)"), rows)
    for r in failed:
        if r.error:
            out.line(f"ERROR {os.path.basename(r.name)}: {r.error}", style="bold red")
    if not args.no_summary and combined.functions:
        combined.summary(top=args.top)
    out.line(f"reports: {paths['json']}, {paths['markdown']}, {paths['html']}")
    if failed:
        out.line(f"{len(failed)} workloads failed: {', '.join(r.name for r in failed)}",
                 style="bold red")
        return EXIT_FOUND
    return EXIT_OK


def cmd_profile_diff(args, out):
    """Compare two profile.json files; exit 1 on a regression with --fail-on-regression."""
    try:
        from verigraph.profiling import cli_profile_diff
    except ImportError as exc:
        raise UsageError(f"profiling is not available ({exc})") from None
    for path in (args.old, args.new):
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
    code = cli_profile_diff(args.old, args.new, threshold=args.threshold,
                            fail=args.fail_on_regression)
    return EXIT_USAGE if code == 2 else code


# -- fuzz ----------------------------------------------------------------------------------------
def cmd_fuzz(args, out):
    """Random graphs in every mode vs the reference evaluator and NumPy; shrink and report."""
    import json

    from verigraph.testing.fuzz import run_fuzz
    from verigraph.testing.fuzz_cases import CASE_KINDS, fuzz_strategy
    from verigraph.testing.strategies import STEP_KINDS
    modes = tuple(m for m in args.modes.split(",") if m)
    for m in modes:
        if m not in MODE_CHOICES:
            raise UsageError(f"--modes: unknown mode {m!r}; choose from {', '.join(MODE_CHOICES)}")
    kinds = tuple(k for k in args.kinds.split(",") if k) if args.kinds else STEP_KINDS
    bad = [k for k in kinds if k not in STEP_KINDS + CASE_KINDS]
    if bad:
        raise UsageError(f"--kinds: unknown {', '.join(bad)}; choose from "
                         f"{', '.join(STEP_KINDS + CASE_KINDS)}")
    strategy = fuzz_strategy(kinds, max_steps=args.max_steps)
    with out.progress(args.examples, f"fuzz (seed {args.seed})") as bar:
        try:
            result = run_fuzz(args.examples, args.seed, outdir=args.reports, modes=modes,
                              strategy=strategy, on_example=lambda n: bar.advance())
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
    os.makedirs(args.reports, exist_ok=True)
    with open(os.path.join(args.reports, "fuzz.json"), "w", encoding="utf-8") as fh:
        json.dump(result.to_dict(), fh, indent=2)
        fh.write("\n")
    if result.ok:
        out.line(f"fuzz: {result.examples} graphs agreed in {', '.join(modes)} "
                 f"({result.seconds:.1f} s, seed {args.seed})", style="bold green")
        return EXIT_OK
    out.line(f"fuzz: disagreement after {result.examples} graphs (seed {args.seed}); "
             f"minimal graph:", style="bold red")
    for line in result.failure.source_lines():
        out.line(f"    {line}")
    for p in result.problems:
        out.line(f"  {p}", style="red")
    out.line(f"reproducer: {result.reproducer}")
    return EXIT_FOUND


# -- argument parsing -----------------------------------------------------------------------------
def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def build_parser():
    """The argparse parser for ``verigraph`` and its sub-commands."""
    p = argparse.ArgumentParser(
        prog="verigraph",
        description="Check, profile and fuzz verigraph programs against the reference evaluator.")
    p.add_argument("--traceback", action="store_true",
                   help="show the full traceback of an unexpected error")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser(
        "check", help="run workloads with every function checked (DebugMode)",
        description="Run workloads (default: the bundled profiles/) with every compiled "
                    "function in DebugMode, or in FAST_RUN cross-checked on every call. "
                    "Writes REPORTS/check.json, REPORTS/check.md and a reproducer per "
                    "finding. Exit 0 only when no workload has an unexpected finding.")
    c.add_argument("targets", nargs="*", metavar="TARGET",
                   help="a bundled workload name, a .py file, a directory, or "
                        "module:function / file.py:function (default: profiles.WORKLOADS)")
    c.add_argument("--mode", choices=MODE_CHOICES, default="DebugMode",
                   help="compile every function in this mode (default DebugMode)")
    c.add_argument("--crosscheck", default="always",
                   help="config.crosscheck while checking: off, first, sample:P, always "
                        "(default always; used by FAST_RUN)")
    c.add_argument("--expect-findings", action="store_true",
                   help="treat every target as expected to produce a finding")
    c.add_argument("--reports", default="reports", metavar="DIR",
                   help="where check.json, check.md and reproducers go (default reports/)")
    c.add_argument("--max-calls", type=_positive_int, default=50, metavar="N",
                   help="call each compiled function at most N times (0: all; default 50)")
    c.set_defaults(run=cmd_check)

    pr = sub.add_parser(
        "profile", help="run workloads with per-Op profiling; 'profile diff' compares runs",
        description="Run workloads (default: the bundled profiles/) with profiling on and write "
                    "REPORTS/profile.{json,md,html} (all workloads) and "
                    "REPORTS/profile/<workload>/. Use 'verigraph profile diff OLD NEW' to "
                    "compare two profile.json files.")
    pr.add_argument("targets", nargs="*", metavar="TARGET",
                    help="as for check (default: profiles.WORKLOADS)")
    pr.add_argument("--mode", choices=MODE_CHOICES, default="FAST_RUN",
                    help="compile mode to profile (default FAST_RUN)")
    pr.add_argument("--reports", default="reports", metavar="DIR",
                    help="output directory (default reports/)")
    pr.add_argument("--max-calls", type=_positive_int, default=0, metavar="N",
                    help="call each compiled function at most N times (default 0: all)")
    pr.add_argument("--top", type=_positive_int, default=15, help="rows in the terminal summary")
    pr.add_argument("--no-summary", action="store_true", help="skip the terminal summary")
    pr.set_defaults(run=cmd_profile)

    f = sub.add_parser(
        "fuzz", help="random graphs: every mode vs the reference evaluator and NumPy",
        description="Generate random well-typed graphs with Hypothesis (elementwise table rows "
                    "within their domains, broadcasting, reductions, dot, shape ops, indexing incl. "
                    "boolean masks, inc/set_subtensor, join/stack/split, int casts; size-0/1 "
                    "axes; float32/float64), compile each in every mode and "
                    "compare with the reference evaluator on the unrewritten graph and with "
                    "NumPy. A disagreement is shrunk to a minimal graph and written as a "
                    "reproducer script.")
    f.add_argument("--examples", type=_positive_int, default=200, metavar="N",
                   help="number of random graphs (default 200)")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--modes", default=",".join(MODE_CHOICES),
                   help="comma-separated modes to compare (default all three)")
    f.add_argument("--kinds", default="",
                   help="comma-separated kinds to draw: forward step kinds (default all of "
                        "them) and/or the slower case kinds grad, large, scan, ifelse, random, sgd")
    f.add_argument("--max-steps", type=_positive_int, default=6, help="steps per graph")
    f.add_argument("--reports", default="reports", metavar="DIR",
                   help="where fuzz.json and the reproducer go (default reports/)")
    f.set_defaults(run=cmd_fuzz)
    return p


def build_diff_parser():
    """The parser for ``verigraph profile diff``."""
    d = argparse.ArgumentParser(
        prog="verigraph profile diff",
        description="Compare two profile.json files per function and per Op; list what got "
                    "slower or faster beyond the threshold.")
    d.add_argument("old", metavar="OLD.json")
    d.add_argument("new", metavar="NEW.json")
    d.add_argument("--threshold", type=float, default=0.2,
                   help="relative change per call that counts (default 0.2 = 20%%)")
    d.add_argument("--fail-on-regression", action="store_true",
                   help="exit with status 1 when anything got slower beyond the threshold")
    d.set_defaults(run=cmd_profile_diff)
    return d


def main(argv=None):
    """Entry point of the ``verigraph`` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in argv
    if show_traceback:
        argv.remove("--traceback")
    try:
        if argv[:2] == ["profile", "diff"]:
            args = build_diff_parser().parse_args(argv[2:])
        else:
            parser = build_parser()
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return EXIT_USAGE
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    out = _Output()
    try:
        return args.run(args, out)
    except UsageError as exc:
        print(f"verigraph: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("verigraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line unless --traceback
        if show_traceback:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"verigraph: error: {type(exc).__name__}: {first} (rerun with --traceback for "
              f"details)", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
