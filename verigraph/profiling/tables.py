"""The report's tables as plain rows of strings, shared by the text, Markdown and HTML writers."""
from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass
class Table:
    """A titled table: ``columns`` headers, ``rows`` of already formatted cells, numeric columns."""

    title: str
    columns: list
    rows: list
    numeric: tuple = ()
    note: str = ""


def fmt_time(seconds):
    """Seconds in the unit that keeps 3 significant figures readable (s, ms, us, ns)."""
    if seconds is None:
        return "-"
    s = float(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(s) >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns" if s else "0"


def fmt_bytes(n):
    """Bytes with a binary prefix."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n} B"


def fmt_pct(p):
    """A percentage with one decimal."""
    return f"{p:.1f}%"


def fmt_shapes(shapes):
    """``(3, 4), (4,)`` style; ``?`` for unknown."""
    return ", ".join("?" if s is None else "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"
                     for s in shapes)


def fmt_source(source):
    """``file.py:12`` (the directory dropped; the JSON keeps the full path)."""
    return os.path.basename(source) if source else "?"


def function_table(data):
    """One row per function: calls, call/program/overhead time, compile time, memory peak."""
    rows = []
    for f in data["functions"]:
        c = f["compile"]["times"]
        rows.append([f["name"], f["mode"], str(f["calls"]), fmt_time(f["call_time"]),
                     fmt_time(f["program_time"]), fmt_time(f["overhead_time"]),
                     fmt_time(c.get("rewrite")), fmt_time(c.get("link")),
                     fmt_bytes(f["memory"]["peak_bytes"])])
    return Table("Functions", ["function", "mode", "calls", "call time", "in program",
                               "Python overhead", "rewrite", "link", "peak memory"], rows,
                 numeric=(2, 3, 4, 5, 6, 7, 8),
                 note="Python overhead = time in Function.__call__ outside the program "
                      "(argument filtering, cross-checks, updates).")


def class_table(data, top):
    """Time per Op class over every function."""
    rows = [[fmt_pct(r["percent"]), fmt_pct(r["cumulative_percent"]), fmt_time(r["time"]),
             fmt_time(r["time_per_call"]), str(r["calls"]), str(r["nodes"]), r["name"]]
            for r in data["op_classes"][:top]]
    return Table("Op classes", ["%", "cum %", "time", "per call", "calls", "nodes", "class"],
                 rows, numeric=(0, 1, 2, 3, 4, 5))


def op_table(data, top):
    """Time per distinct Op (class and props)."""
    rows = [[fmt_pct(r["percent"]), fmt_pct(r["cumulative_percent"]), fmt_time(r["time"]),
             fmt_time(r["time_per_call"]), str(r["calls"]), str(r["nodes"]), r["name"]]
            for r in data["ops"][:top]]
    return Table("Ops", ["%", "cum %", "time", "per call", "calls", "nodes", "op"], rows,
                 numeric=(0, 1, 2, 3, 4, 5))


def apply_table(f, top):
    """A function's Apply nodes by time, with last-seen input shapes and the user source line."""
    nodes = sorted(f["nodes"], key=lambda n: -n["time"])[:top]
    rows = [[fmt_pct(n["percent"]), fmt_pct(n["cumulative_percent"]), fmt_time(n["time"]),
             fmt_time(n["time_per_call"]), str(n["calls"]), str(n["index"]), _op_cell(n),
             fmt_shapes(n["input_shapes"]), fmt_source(n["source"])] for n in nodes]
    note = ""
    if not f["per_node_timing"]:
        note = f"mode {f['mode']} links its own program: timed as a whole, no per-node times."
    elif f["program_time"]:
        note = (f"nodes account for {fmt_time(f['node_time'])} of {fmt_time(f['program_time'])} "
                f"in the program (the rest is timer and bookkeeping overhead).")
    return Table(f"Apply nodes of {f['name']}",
                 ["%", "cum %", "time", "per call", "calls", "#", "op", "input shapes", "source"],
                 rows, numeric=(0, 1, 2, 3, 4, 5), note=note)


def _op_cell(node):
    # The op, and for compiled-kernel nodes which implementation ran (ckernels.small).
    kernel = node.get("kernel")
    return f"{node['op']} [{kernel}]" if kernel else node["op"]


def _memory_kind(c):
    # "in input": the value lives in an input's memory (an in-place update of a shared
    # variable, or a view of an argument), so it costs no new bytes.
    if c.get("in_input"):
        return "output, in input" if c["is_output"] else "view of input"
    return "output" if c["is_output"] else ("view" if c["is_view"] else "")


def memory_table(f):
    """Largest intermediates of a function, with its simulated peaks as the note."""
    m = f["memory"]
    rows = [[fmt_bytes(c["bytes"]), str(c["node"]), c["op"], fmt_shapes([c["shape"]]), c["dtype"],
             _memory_kind(c)] for c in m["largest"]]
    note = (f"peak {fmt_bytes(m['peak_bytes'])} freeing intermediates after last use "
            f"(at node {m['peak_node']}), {fmt_bytes(m['peak_bytes_no_free'])} without freeing; "
            f"outputs {fmt_bytes(m['output_bytes'])}." if m["peak_bytes"] is not None
            else "not called yet: no sizes recorded.")
    return Table(f"Memory of {f['name']}", ["bytes", "#", "op", "shape", "dtype", ""], rows,
                 numeric=(0, 1), note=note)


def rewrite_table(f, top):
    """Rewrite rules by time spent, with how often each fired."""
    rules = sorted(f["compile"]["rewrite_rules"].items(), key=lambda kv: -kv[1]["time"])[:top]
    rows = [[fmt_time(v["time"]), str(v["fired"]), str(v.get("tried", "")), k] for k, v in rules]
    return Table(f"Rewrites of {f['name']}", ["time", "fired", "tried", "rule"], rows,
                 numeric=(0, 1, 2))


def report_tables(data, top=20):
    """Every table of the report, in reading order."""
    tables = [function_table(data), class_table(data, top), op_table(data, top)]
    for f in data["functions"]:
        tables += [apply_table(f, top), memory_table(f), rewrite_table(f, top)]
    return tables
