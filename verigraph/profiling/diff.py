"""Compare two profile JSONs: which functions and Ops got slower or faster (for CI gates).

Times are compared per call so runs with different call counts compare fairly:
a function by its program time per call and its whole call time per call; an Op
by its time per program call (summed over its nodes, so a rewrite that adds a
second node of the same Op shows up). A change counts when the relative change
exceeds ``threshold`` *and* the absolute change exceeds ``min_time`` seconds per
call (timer noise on sub-microsecond Ops is not a regression).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

from verigraph.profiling.report_json import ProfileFormatError, load_profile
from verigraph.profiling.tables import fmt_time


@dataclasses.dataclass
class DiffEntry:
    """One compared quantity. ``status``: slower, faster, same, added or removed."""

    kind: str         # "function" | "function_call" | "op"
    name: str
    old: float | None
    new: float | None
    change: float | None   # (new - old) / old
    status: str

    def to_dict(self):
        """Plain data."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DiffResult:
    """Every compared entry plus the threshold used; ``regressions``/``improvements`` filter it."""

    threshold: float
    min_time: float
    entries: list

    @property
    def regressions(self):
        """Entries that got slower beyond the threshold."""
        return [e for e in self.entries if e.status == "slower"]

    @property
    def improvements(self):
        """Entries that got faster beyond the threshold."""
        return [e for e in self.entries if e.status == "faster"]

    def to_dict(self):
        """Plain data: threshold, entries, and the names of regressions/improvements."""
        return {"threshold": self.threshold, "min_time": self.min_time,
                "entries": [e.to_dict() for e in self.entries],
                "regressions": [f"{e.kind}:{e.name}" for e in self.regressions],
                "improvements": [f"{e.kind}:{e.name}" for e in self.improvements]}

    def to_text(self):
        """A short human-readable report (also valid Markdown)."""
        lines = [f"verigraph profile diff (threshold {self.threshold:.0%} per call): "
                 f"{len(self.regressions)} slower, {len(self.improvements)} faster"]
        for e in self.entries:
            if e.status in ("same",):
                continue
            ch = f"{e.change:+.0%}" if e.change is not None else ""
            lines.append(f"- {e.status:8s} {e.kind:13s} {e.name}: {fmt_time(e.old)} -> "
                         f"{fmt_time(e.new)} {ch}".rstrip())
        return "\n".join(lines)


def _classify(old, new, threshold, min_time):
    if old is None:
        return None, "added"
    if new is None:
        return None, "removed"
    change = (new - old) / old if old > 0 else (float("inf") if new > 0 else 0.0)
    if abs(new - old) < min_time:
        return change, "same"
    if change > threshold:
        return change, "slower"
    if change < -threshold:
        return change, "faster"
    return change, "same"


def _per_call(total, calls):
    return total / calls if calls else None


def _function_values(data):
    out = {}
    for f in data.get("functions", []):
        out[("function", f["name"])] = _per_call(f["program_time"], f["program_calls"])
        out[("function_call", f["name"])] = _per_call(f["call_time"], f["calls"])
    return out


def _op_values(data):
    calls = sum(f.get("program_calls", 0) for f in data.get("functions", []))
    return {("op", r["name"]): _per_call(r["time"], calls) for r in data.get("ops", [])}


def diff_profiles(old_json, new_json, threshold=0.2, min_time=1e-6):
    """Compare two profiles (paths, JSON text or dicts); returns a DiffResult."""
    if threshold < 0:
        raise ValueError(f"diff_profiles: threshold must be >= 0, got {threshold}")
    old, new = load_profile(old_json), load_profile(new_json)
    a = {**_function_values(old), **_op_values(old)}
    b = {**_function_values(new), **_op_values(new)}
    entries = []
    for key in list(a) + [k for k in b if k not in a]:
        o, n = a.get(key), b.get(key)
        if o is None and n is None:
            continue
        change, status = _classify(o, n, threshold, min_time)
        entries.append(DiffEntry(key[0], key[1], o, n, change, status))
    rank = {"slower": 0, "faster": 1, "added": 2, "removed": 3, "same": 4}
    entries.sort(key=lambda e: (rank[e.status], -abs(e.change or 0.0), e.kind, e.name))
    return DiffResult(threshold, min_time, entries)


def cli_profile_diff(old, new, threshold=0.2, fail=False, out=None):
    """Print the diff of two profile files; exit code 1 on a regression when ``fail``, 2 on bad input."""
    out = out or sys.stdout
    try:
        result = diff_profiles(old, new, threshold=threshold)
    except (ProfileFormatError, ValueError) as exc:
        print(f"verigraph profile diff: {exc}", file=sys.stderr)
        return 2
    print(result.to_text(), file=out)
    return 1 if fail and result.regressions else 0


def main_diff(argv=None):
    """``verigraph profile diff OLD NEW [--fail-on-regression] [--threshold 0.2]`` -> exit code."""
    p = argparse.ArgumentParser(prog="verigraph profile diff",
                                description="Compare two profile.json files per function and Op.")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--threshold", type=float, default=0.2,
                   help="relative change per call that counts (default 0.2 = 20%%)")
    p.add_argument("--fail-on-regression", action="store_true",
                   help="exit with status 1 when anything got slower beyond the threshold")
    args = p.parse_args(argv)
    return cli_profile_diff(args.old, args.new, args.threshold, args.fail_on_regression)
