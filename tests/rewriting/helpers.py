"""Helpers for the FAST_RUN rule tests: compile, ask which rules fired, compare to the reference."""
from __future__ import annotations

import numpy as np

import verigraph as vg
from verigraph.checks.tolerance import compare
from verigraph.link.reference import evaluate
from verigraph.modes import FAST_RUN


def compile_fast(inputs, outputs, include=(), exclude=(), **kw):
    """A FAST_RUN function, optionally including/excluding rules by name or tag."""
    mode = FAST_RUN
    if include:
        mode = mode.including(*include)
    if exclude:
        mode = mode.excluding(*exclude)
    return vg.function(inputs, outputs, mode=mode, **kw)


def fired(f, rule):
    """Whether ``rule`` replaced something while compiling ``f``."""
    return any(r.rule == rule for r in f.maker.fgraph.replacements)


def op_names(f):
    """String form of every Op in the rewritten graph, in execution order."""
    return [str(n.op) for n in f.maker.fgraph.toposort()]


def reference(f, *values):
    """Outputs of ``f``'s unrewritten graph on ``values``, from the reference evaluator."""
    original = f.maker.original
    n = len(values)
    givens = dict(zip(original.inputs[:n], values))
    for var, shared in zip(original.inputs[n:], f.maker.shared_inputs):
        givens[var] = shared.container[0]
    return evaluate(original.outputs[:f.maker.n_outputs], givens)


def assert_matches_reference(f, *values):
    """``f(*values)`` agrees with the reference evaluator on the original graph (and dtypes)."""
    got = f(*values)
    got = got if isinstance(got, list) else [got]
    ref = reference(f, *values)
    for k, (a, b) in enumerate(zip(got, ref)):
        assert isinstance(a, np.ndarray), f"output {k} is a {type(a).__name__}"
        bad = compare(a, np.asarray(b))
        assert bad is None, f"output {k}: {bad}; got {a!r}, reference {b!r}"
