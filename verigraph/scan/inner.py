"""Turning a traced step into a Scan node: find loop-invariant inputs, build the inner graph.

The user's step function is called on placeholder variables. Everything in its graph that
depends on no placeholder is loop-invariant: it is cut out and computed once, outside the
loop, and enters the inner graph as an input. That handles non-sequences, closures over
shared variables and whole invariant subexpressions (``W.T``) alike.
"""
from __future__ import annotations

from verigraph.graph.basic import Constant
from verigraph.graph.traversal import clone_replace, io_toposort
from verigraph.scan.op import Scan, ScanSpec
from verigraph.tensor.variable import as_tensor_variable, constant


def invariant_cuts(placeholders, exprs):
    """Variables outside the loop that the step reads: invariant inputs of variant nodes.

    Constants stay inside (so the inner graph can fold them).
    """
    variant = set(map(id, placeholders))
    # Expressions of constants alone stay inside too: the inner rewrite folds them.
    constant_only = set()
    cuts = {}
    order = io_toposort(list(placeholders), exprs)
    for node in order:
        if any(id(i) in variant for i in node.inputs):
            variant.update(id(o) for o in node.outputs)
        elif not node.op.stochastic and all(
                isinstance(i, Constant) or id(i) in constant_only for i in node.inputs):
            constant_only.update(id(o) for o in node.outputs)

    def stays_inside(v):
        return id(v) in variant or isinstance(v, Constant) or id(v) in constant_only
    for node in order:
        if id(node.outputs[0]) not in variant:
            continue
        for i in node.inputs:
            if not stays_inside(i):
                cuts.setdefault(id(i), i)
    for e in exprs:
        if not stays_inside(e):
            cuts.setdefault(id(e), e)
    return list(cuts.values())


def make_scan_node(seq_vars, seq_ph, recurrent, inits, rec_ph, exprs, n_nitsot, n_steps,
                   bound=None, truncate_gradient=-1, name=None):
    """Build the Scan node for a traced step; returns its output variables.

    ``seq_vars``/``seq_ph``: outer sequences (row ``t`` at step ``t``) and their
    placeholders. ``recurrent``: Recurrent specs; ``inits`` their initial values;
    ``rec_ph``: one placeholder list per recurrent output (one per tap). ``exprs``: the
    step's recurrent new values then its ``n_nitsot`` non-recurrent outputs, in terms of the
    placeholders. ``bound``: {placeholder: outer variable} for extra loop-invariant inputs
    the step was traced with.
    """
    bound = bound or {}
    placeholders = list(seq_ph) + [p for ps in rec_ph for p in ps]
    cuts = invariant_cuts(placeholders, exprs)
    cut_ph = [c.type() for c in cuts]
    inner_outputs = clone_replace(exprs, dict(zip(cuts, cut_ph)))
    # A cut may be an expression over bound placeholders: rebuild it on the outer values.
    outer_invariants = clone_replace(cuts, bound) if bound else cuts
    if n_steps is None:
        n_steps_var = constant(-1, dtype="int64")
    else:
        n_steps_var = as_tensor_variable(n_steps)
        if n_steps_var.ndim != 0 or n_steps_var.dtype not in (
                "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"scan: n_steps must be an integer scalar, got {n_steps_var} "
                            f"({n_steps_var.type})")
        if n_steps_var.dtype != "int64":
            from verigraph.tensor.api import cast
            n_steps_var = cast(n_steps_var, "int64")
    spec = ScanSpec(n_seqs=len(seq_vars), recurrent=tuple(recurrent), n_nitsot=n_nitsot,
                    n_nonseq=len(cuts), has_n_steps=n_steps is not None,
                    truncate_gradient=int(truncate_gradient), name=name or "scan")
    op = Scan(placeholders + cut_ph, inner_outputs, spec)
    node = op.make_node(n_steps_var, *seq_vars, *inits, *outer_invariants)
    return node.outputs
