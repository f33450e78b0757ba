"""Rewrite bisection: which single rule, once excluded, makes the fast program agree with the reference.

The graph is compiled like FAST_RUN (same rule query, fast linker) and its results are
compared with the reference evaluator on the unrewritten graph. If they differ, each
rule that fired is excluded in turn (``Mode.excluding(name)``), in firing order; the
first exclusion that removes the discrepancy names the culprit.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.precision import working_dtypes
from verigraph.checks.tolerance import compare
from verigraph.graph.fgraph import FunctionGraph


class _Raised:
    """A call that raised, kept so that 'raises' vs 'returns' also counts as a discrepancy."""

    def __init__(self, error):
        self.error = error


def _resolve(fn_or_graph, inputs):
    """(graph inputs, outputs, values for the graph inputs, base Mode) from what the user has."""
    from verigraph.compile.function_object import Function
    from verigraph.modes import FAST_RUN, Mode
    if isinstance(fn_or_graph, Function):
        fn = fn_or_graph
        m = fn.maker
        values = fn._filter(fn._bind(list(inputs), {})) + [c[0] for c in fn._containers]
        mode = m.mode
        base = Mode("fast", mode.optimizer, mode.include, mode.exclude, mode.require,
                    name="bisect")
        return m.original.inputs, m.original.outputs, values, base
    if isinstance(fn_or_graph, FunctionGraph):
        return fn_or_graph.inputs, fn_or_graph.outputs, list(inputs), FAST_RUN
    if isinstance(fn_or_graph, tuple) and len(fn_or_graph) == 2:
        ins, outs = fn_or_graph
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return list(ins), outs, list(inputs), FAST_RUN
    raise TypeError(f"bisect: expected a compiled Function, a FunctionGraph or an "
                    f"(inputs, outputs) pair, got {type(fn_or_graph).__name__}")


def _run(program, values):
    try:
        return program(*[np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                         for v in values])
    except Exception as exc:  # noqa: BLE001 - raising is one side of a discrepancy
        return _Raised(exc)


def _differs(got, ref, work):
    if isinstance(got, _Raised) or isinstance(ref, _Raised):
        return isinstance(got, _Raised) != isinstance(ref, _Raised)
    return any(compare(np.asarray(a), np.asarray(b), w) is not None
               for a, b, w in zip(got, ref, work))


def _compile(ins, outs, mode):
    from verigraph.link.fast import FastProgram
    from verigraph.rewriting.driver import rewrite
    g = FunctionGraph(ins, outs, clone=True)
    rewrite(g, mode.rules())
    return g, FastProgram(g)


def bisect(fn_or_graph, inputs, mode=None):
    """Name of the single rule whose exclusion removes the fast-vs-reference discrepancy.

    ``fn_or_graph``: a compiled Function (its original graph, rule selection and shared
    values are used), a FunctionGraph, or an ``(inputs, outputs)`` pair; ``inputs``:
    values for the explicit inputs. Returns None when the fast program already agrees
    with the reference, or when no single exclusion fixes it (a faulty Op, not a rule).
    """
    from verigraph.link.reference import evaluate
    ins, outs, values, base = _resolve(fn_or_graph, inputs)
    base = mode or base
    try:
        ref = evaluate(outs, dict(zip(ins, values)))
    except Exception as exc:  # noqa: BLE001 - the original raising is the reference answer
        ref = _Raised(exc)
    work = working_dtypes(outs)
    g, program = _compile(ins, outs, base)
    if not _differs(_run(program, values), ref, work):
        return None
    fired = list(dict.fromkeys(r.rule for r in g.replacements if r.rule))
    for name in fired:
        _, program = _compile(ins, outs, base.excluding(name))
        if not _differs(_run(program, values), ref, work):
            return name
    return None
