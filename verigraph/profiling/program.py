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

import time

import numpy as np

from verigraph.link.fast import FastProgram


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

    inline_scalars = False  # every node is one timed call
    filename_prefix = "verigraph-profiling-program"

    def _prologue(self, glob):
        rec = self.record
        glob.update({"pc": time.perf_counter, "_meta": value_meta, "T": rec.node_time,
                     "C": rec.node_calls, "M": rec.node_meta, "IM": rec.input_meta})
        return [f"    IM[{k}] = _meta(i{k})" for k in range(len(self.fgraph.inputs))]

    def _node_lines(self, idx, target, call, outs):
        return [("    t0 = pc()", False),
                (f"    {target} = {call}", True),
                ("    t1 = pc()", False),
                (f"    T[{idx}] += t1 - t0", False),
                (f"    C[{idx}] += 1", False),
                (f"    M[{idx}] = ({''.join(f'_meta({o}), ' for o in outs)})", False)]

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
