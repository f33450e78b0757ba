"""ProfilingProgram: the fast linker's straight-line program with a timer around every node.

It is built from the same node order and per-node callables as
:class:`verigraph.link.fast.FastProgram` (``make_fast_fn``; ``perform`` for the
reference linker), generates the same ``v7 = f3(v2, v5)`` / ``del`` lines, and
adds around each call::

    t0 = pc(); v7 = f3(v2, v5); t1 = pc()
    T[3] += t1 - t0; C[3] += 1; M[3] = (_meta(v7),)

where ``T``, ``C``, ``M`` are the FunctionProfile's lists. The non-profiled
FastProgram is untouched: profiling is a separate program, chosen at compile time.
"""
from __future__ import annotations

import itertools
import time

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.link.fast import FastProgram

_ids = itertools.count()


def value_meta(v):
    """``(shape, dtype, nbytes)`` of a runtime value (arrays, NumPy/Python scalars, others)."""
    try:
        return (v.shape, v.dtype, v.nbytes)
    except AttributeError:
        pass
    try:
        a = np.asarray(v)
        if a.dtype != object:
            return (a.shape, a.dtype, a.nbytes)
    except Exception:  # noqa: BLE001 - an opaque value (rng state...) has no array meta
        pass
    return ((), type(v).__name__, 0)


def reference_fn(node):
    """A ``fn(*values)`` running ``perform`` for ``node`` (profiling the reference linker)."""
    from verigraph.link.reference import run_node_reference
    if len(node.outputs) == 1:
        return lambda *vals: run_node_reference(node, list(vals))[0]
    return lambda *vals: tuple(run_node_reference(node, list(vals)))


class ProfilingProgram(FastProgram):
    """``program(*input_values) -> outputs`` that records per-node time, calls and output sizes.

    ``record`` is the :class:`FunctionProfile` it writes into; ``profile`` the
    ProfileStats owning it (what ``Function.profile`` returns).
    """

    def __init__(self, fgraph, record, profile, order=None, fns=None):
        self.record = record
        self.profile = profile
        super().__init__(fgraph, order=order, fns=fns)

    def _build(self):
        fg, rec = self.fgraph, self.record
        names = {}
        glob = {"np": np, "pc": time.perf_counter, "_meta": value_meta,
                "T": rec.node_time, "C": rec.node_calls, "M": rec.node_meta,
                "IM": rec.input_meta}
        for k, v in enumerate(fg.inputs):
            names[v] = f"i{k}"
        counter = itertools.count()

        def name_of(var):
            if var in names:
                return names[var]
            if isinstance(var, Constant):
                n = f"c{next(counter)}"
                glob[n] = var.data
                names[var] = n
                return n
            raise ValueError(f"profiling linker: {var} has no value (not an input, constant or "
                             f"output)")

        last_use = {}
        for idx, node in enumerate(self.order):
            for i in node.inputs:
                last_use[i] = idx
        protected = set(fg.inputs) | set(fg.outputs)
        lines = [f"def program({', '.join(names[v] for v in fg.inputs)}):"]
        lines += [f"    IM[{k}] = _meta(i{k})" for k in range(len(fg.inputs))]
        self.line_to_node = {}
        for idx, node in enumerate(self.order):
            fn_name = f"f{idx}"
            glob[fn_name] = self.fns[idx]
            args = ", ".join(name_of(i) for i in node.inputs)
            outs = []
            for o in node.outputs:
                n = f"v{next(counter)}"
                names[o] = n
                outs.append(n)
            target = outs[0] if len(outs) == 1 else ", ".join(outs)
            lines.append("    t0 = pc()")
            lines.append(f"    {target} = {fn_name}({args})")
            self.line_to_node[len(lines)] = idx
            lines.append("    t1 = pc()")
            lines.append(f"    T[{idx}] += t1 - t0")
            lines.append(f"    C[{idx}] += 1")
            lines.append(f"    M[{idx}] = ({''.join(f'_meta({o}), ' for o in outs)})")
            dead = [names[i] for i in dict.fromkeys(node.inputs)
                    if last_use.get(i) == idx and i not in protected and not isinstance(i, Constant)]
            dead += [names[o] for o in node.outputs if o not in last_use and o not in protected]
            if dead:
                lines.append(f"    del {', '.join(dead)}")
        outs = [name_of(o) for o in fg.outputs]
        lines.append(f"    return [{', '.join(outs)}]")
        self.source = "\n".join(lines)
        fname = f"<verigraph-profiling-program-{next(_ids)}>"
        exec(compile(self.source, fname, "exec"), glob)
        self._program = glob["program"]
        self._filename = fname

    def __call__(self, *values):
        rec = self.record
        t0 = time.perf_counter()
        try:
            return self._program(*values)
        except Exception as exc:  # noqa: BLE001 - re-raised with the failing node's context
            self._reraise(exc, values)
        finally:
            rec.program_time += time.perf_counter() - t0
            rec.program_calls += 1


class WholeProgramTimer:
    """Times a mode's own program as one block (modes that link their own program, e.g. DebugMode)."""

    def __init__(self, inner, record, profile):
        self.inner = inner
        self.record = record
        self.profile = profile
        self.findings = getattr(inner, "findings", [])
        self.fgraph = getattr(inner, "fgraph", None)

    def __call__(self, *values):
        rec = self.record
        t0 = time.perf_counter()
        try:
            return self.inner(*values)
        finally:
            rec.program_time += time.perf_counter() - t0
            rec.program_calls += 1
