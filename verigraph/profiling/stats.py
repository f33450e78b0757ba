"""ProfileStats: the profile data (per function, Op class, Op, Apply node, rewrite rule, memory).

Data before rendering: the profiling program writes raw counters into a
:class:`FunctionProfile`; :meth:`ProfileStats.to_dict` turns every function's
counters into plain data (the JSON schema in ``schema.json`` describes it), and
the writers (``report_text``, ``report_md``, ``report_html``, ``report_json``)
only format that dict.
"""
from __future__ import annotations

import dataclasses
import time

from verigraph.profiling.memory import simulate_memory

SCHEMA_ID = "verigraph.profile"
SCHEMA_VERSION = 1


@dataclasses.dataclass
class NodeInfo:
    """Static facts about one Apply node of a profiled program (fixed at link time)."""

    index: int
    op: str
    op_class: str
    props: dict
    source: str
    tag_rule: str | None
    inputs: list      # per input: ("node", node_index, output_index) | ("input", k) | ("constant", None)
    n_outputs: int
    output_names: list
    views: list       # per output: index of the input it aliases (view/destroy map) or None


@dataclasses.dataclass
class FunctionProfile:
    """One compiled function's counters; the profiling program mutates the lists in place."""

    name: str
    mode: str
    nodes: list                       # NodeInfo, in execution (topological) order
    input_names: list
    output_refs: list                 # where each fgraph output comes from (see NodeInfo.inputs)
    per_node_timing: bool = True      # False when the mode's own program is wrapped whole
    calls: int = 0                    # Function.__call__ invocations
    call_time: float = 0.0            # wall time inside Function.__call__
    program_calls: int = 0
    program_time: float = 0.0         # wall time inside the linked program
    node_time: list = dataclasses.field(default_factory=list)
    node_calls: list = dataclasses.field(default_factory=list)
    node_meta: list = dataclasses.field(default_factory=list)   # last call: per output (shape, dtype, nbytes)
    input_meta: list = dataclasses.field(default_factory=list)  # last call: per program input
    constant_meta: dict = dataclasses.field(default_factory=dict)  # (node, input) -> meta
    rewrite: dict = dataclasses.field(default_factory=dict)     # rule -> {time, fired, tried}
    compile_times: dict = dataclasses.field(default_factory=dict)
    node_fns: list = dataclasses.field(default_factory=list)   # the program's per-node callables

    def __post_init__(self):
        n = len(self.nodes)
        self.node_time = self.node_time or [0.0] * n
        self.node_calls = self.node_calls or [0] * n
        self.node_meta = self.node_meta or [None] * n

    # -- derived data ----------------------------------------------------------------------
    def _meta_of(self, ref, node_index=None, input_pos=None):
        kind = ref[0]
        if kind == "node":
            m = self.node_meta[ref[1]]
            return m[ref[2]] if m is not None else None
        if kind == "input":
            return self.input_meta[ref[1]] if ref[1] < len(self.input_meta) else None
        return self.constant_meta.get((node_index, input_pos))

    def to_dict(self):
        """Plain data for this function (see schema.json, ``functions[]``)."""
        total_nodes = sum(self.node_time)
        base = self.program_time if self.program_time > 0 else total_nodes
        order = sorted(range(len(self.nodes)), key=lambda i: -self.node_time[i])
        cum = 0.0
        cum_at = {}
        for i in order:
            cum += self.node_time[i]
            cum_at[i] = 100.0 * cum / base if base else 0.0
        nodes = []
        for i, info in enumerate(self.nodes):
            t, c = self.node_time[i], self.node_calls[i]
            outs = self.node_meta[i] or [None] * info.n_outputs
            nodes.append({
                "index": i, "op": info.op, "op_class": info.op_class, "props": info.props,
                "source": info.source, "tag_rule": info.tag_rule,
                "time": t, "calls": c, "time_per_call": t / c if c else 0.0,
                "percent": 100.0 * t / base if base else 0.0,
                "cumulative_percent": cum_at[i],
                "inputs": [list(r) for r in info.inputs],
                "input_shapes": [_shape(self._meta_of(r, i, k)) for k, r in enumerate(info.inputs)],
                "output_shapes": [_shape(m) for m in outs],
                "output_dtypes": [_dtype(m) for m in outs],
                "output_bytes": [_nbytes(m) for m in outs],
                "kernel": _kernel(self.node_fns, i),
            })
        memory = simulate_memory(self)
        return {
            "name": self.name, "mode": self.mode, "per_node_timing": self.per_node_timing,
            "calls": self.calls, "call_time": self.call_time,
            "program_calls": self.program_calls, "program_time": self.program_time,
            "overhead_time": max(self.call_time - self.program_time, 0.0),
            "node_time": total_nodes,
            "unattributed_time": max(self.program_time - total_nodes, 0.0) if self.per_node_timing else 0.0,
            "compile": {
                "times": dict(self.compile_times),
                "rewrite_rules": {k: dict(v) for k, v in sorted(self.rewrite.items())},
            },
            "input_names": list(self.input_names),
            "outputs": [list(r) for r in self.output_refs],
            "nodes": nodes, "memory": memory,
        }


def _kernel(fns, i):
    # Which implementation the node runs at report time (C or NumPy; see ckernels.small).
    if i >= len(fns):
        return None
    from verigraph.link.ckernels.small import describe_kernel
    return describe_kernel(fns[i])


def _shape(meta):
    return list(meta[0]) if meta is not None else None


def _dtype(meta):
    return str(meta[1]) if meta is not None else None


def _nbytes(meta):
    return int(meta[2]) if meta is not None else None


class ProfileStats:
    """Profile of one or several compiled functions (pass the same instance as ``profile=``).

    ``function(..., profile=True)`` makes a fresh one, ``profile=stats`` shares ``stats``;
    read it back from ``f.profile``. ``to_dict()`` is the versioned plain-data form;
    ``summary()`` prints a terminal table; ``verigraph.profiling.write_reports`` writes
    JSON, Markdown and HTML.
    """

    def __init__(self, name=None):
        self.name = name or "profile"
        self.functions: list[FunctionProfile] = []
        self.created = time.time()
        self.attachments: dict = {}   # e.g. {"pyspy": "path/to/profile.speedscope.json"}

    def add_function(self, fp):
        """Register a FunctionProfile (done by the profiling hook at compile time)."""
        self.functions.append(fp)
        return fp

    def to_dict(self):
        """Plain data: ``{"schema", "version", "functions", "op_classes", "ops", "totals", ...}``."""
        funcs = [fp.to_dict() for fp in self.functions]
        names = _unique_names([f["name"] for f in funcs])
        for f, n in zip(funcs, names):
            f["name"] = n
        total_program = sum(f["program_time"] for f in funcs)
        return {
            "schema": SCHEMA_ID, "version": SCHEMA_VERSION, "name": self.name,
            "created": self.created,
            "totals": {
                "calls": sum(f["calls"] for f in funcs),
                "call_time": sum(f["call_time"] for f in funcs),
                "program_time": total_program,
                "overhead_time": sum(f["overhead_time"] for f in funcs),
                "node_time": sum(f["node_time"] for f in funcs),
                "compile_time": sum(sum(f["compile"]["times"].values()) for f in funcs),
            },
            "functions": funcs,
            "op_classes": _aggregate(funcs, lambda n: n["op_class"], total_program),
            "ops": _aggregate(funcs, lambda n: n["op"], total_program, with_props=True),
            "attachments": dict(self.attachments),
        }

    def summary(self, file=None, top=20, width=120):
        """Render the terminal report; print it to ``file`` (stdout if None) and return the text."""
        from verigraph.profiling.report_text import render_text
        text = render_text(self.to_dict(), top=top, width=width)
        import sys
        print(text, file=file or sys.stdout)
        return text

    def __repr__(self):
        return f"<ProfileStats {self.name!r}: {len(self.functions)} function(s)>"


def _unique_names(names):
    seen, out = {}, []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def _aggregate(funcs, key, total_program, with_props=False):
    """Rows grouped by ``key`` over every function's nodes, sorted by time, with cumulative %."""
    rows = {}
    for f in funcs:
        for n in f["nodes"]:
            k = key(n)
            r = rows.get(k)
            if r is None:
                r = rows[k] = {"name": k, "op_class": n["op_class"], "time": 0.0, "calls": 0,
                               "nodes": 0}
                if with_props:
                    r["props"] = n["props"]
            r["time"] += n["time"]
            r["calls"] += n["calls"]
            r["nodes"] += 1
    out = sorted(rows.values(), key=lambda r: (-r["time"], r["name"]))
    cum = 0.0
    for r in out:
        cum += r["time"]
        r["time_per_call"] = r["time"] / r["calls"] if r["calls"] else 0.0
        r["percent"] = 100.0 * r["time"] / total_program if total_program else 0.0
        r["cumulative_percent"] = 100.0 * cum / total_program if total_program else 0.0
    return out
