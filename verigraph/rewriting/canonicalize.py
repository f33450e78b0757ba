"""Canonicalize rules: drop neutral elements, merge layout ops, simplify sums of allocations.

Every rule keeps the reference value for every input, including non-finite ones, unless
its name ends in ``_unsafe``: those (``x - x``, ``x / x``, ``x * 0`` on floats, which differ
at inf/NaN) are registered without the ``default`` tag and run only when asked for by name.
Replacements keep the exact Type of what they replace (``patterns.same_type``).
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import (elemwise_name, is_constant_value, is_elemwise,
                                          same_type, scalar_constant)
from verigraph.tensor import api
from verigraph.tensor.elemwise import DimShuffle, Elemwise
from verigraph.tensor.reduction import Reduce
from verigraph.tensor.shape import Alloc

CANON = ("canonicalize", "default")
UNSAFE = ("canonicalize", "unsafe")


def _drop_neutral(node, neutral):
    """Inputs of an n-ary add/mul except constants equal to ``neutral`` (None if none dropped)."""
    keep = [i for i in node.inputs if not is_constant_value(i, neutral)]
    if len(keep) == len(node.inputs) or not keep:
        return None
    return keep


@node_rule("local_mul_by_one", tracks=[Elemwise], tags=CANON)
def local_mul_by_one(fgraph, node):
    """``x * 1`` -> ``x`` (any operand position; n-ary products keep their other factors)."""
    if not is_elemwise(node, "mul"):
        return None
    keep = _drop_neutral(node, 1)
    if keep is None:
        return None
    new = keep[0] if len(keep) == 1 else api.mul(*keep)
    return same_type(node.outputs[0], new)


@node_rule("local_add_zero", tracks=[Elemwise], tags=CANON)
def local_add_zero(fgraph, node):
    """``x + 0`` -> ``x`` and ``x - 0`` -> ``x`` (``-0.0 + 0`` is ``0.0``, equal to ``-0.0``)."""
    if is_elemwise(node, "add"):
        keep = _drop_neutral(node, 0)
        if keep is None:
            return None
        new = keep[0] if len(keep) == 1 else api.add(*keep)
        return same_type(node.outputs[0], new)
    if is_elemwise(node, "sub") and is_constant_value(node.inputs[1], 0):
        return same_type(node.outputs[0], node.inputs[0])
    return None


@node_rule("local_neg_neg", tracks=[Elemwise], tags=CANON)
def local_neg_neg(fgraph, node):
    """``-(-x)`` -> ``x`` (exact, also for wrapping integers)."""
    if is_elemwise(node, "neg") and elemwise_name(node.inputs[0]) == "neg":
        return same_type(node.outputs[0], node.inputs[0].owner.inputs[0])
    return None


@node_rule("local_div_one", tracks=[Elemwise], tags=CANON)
def local_div_one(fgraph, node):
    """``x / 1`` -> ``x`` (only when the dtype does not change, so not for integers)."""
    if is_elemwise(node, "true_div") and is_constant_value(node.inputs[1], 1):
        return same_type(node.outputs[0], node.inputs[0])
    return None


def _zeros_of(out, like):
    zero = api.zeros_like(like, dtype=out.dtype)
    return same_type(out, zero)


@node_rule("local_sub_self", tracks=[Elemwise], tags=CANON)
def local_sub_self(fgraph, node):
    """``x - x`` -> zeros for integer and boolean ``x`` (exact; floats: see the unsafe rule)."""
    if is_elemwise(node, "sub") and node.inputs[0] is node.inputs[1] and \
            np.dtype(node.inputs[0].dtype).kind in "iub":
        return _zeros_of(node.outputs[0], node.inputs[0])
    return None


@node_rule("local_sub_self_unsafe", tracks=[Elemwise], tags=UNSAFE)
def local_sub_self_unsafe(fgraph, node):
    """``x - x`` -> zeros for floats too (wrong where x is inf or NaN; not in FAST_RUN)."""
    if is_elemwise(node, "sub") and node.inputs[0] is node.inputs[1]:
        return _zeros_of(node.outputs[0], node.inputs[0])
    return None


@node_rule("local_div_self_unsafe", tracks=[Elemwise], tags=UNSAFE)
def local_div_self_unsafe(fgraph, node):
    """``x / x`` -> ones (wrong where x is 0, inf or NaN; not in FAST_RUN)."""
    if is_elemwise(node, "true_div") and node.inputs[0] is node.inputs[1]:
        one = api.ones_like(node.inputs[0], dtype=node.outputs[0].dtype)
        return same_type(node.outputs[0], one)
    return None


def _mul_zero(node, kinds):
    if not is_elemwise(node, "mul"):
        return None
    if np.dtype(node.outputs[0].dtype).kind not in kinds:
        return None
    if not any(is_constant_value(i, 0) for i in node.inputs):
        return None
    # Only ``x * constants`` where the constants cannot broadcast x: then no run-time shape
    # check of the product is lost, and the zeros take x's shape.
    out = node.outputs[0]
    variables = [i for i in node.inputs if scalar_constant(i) is None]
    others = [i for i in node.inputs if scalar_constant(i) is not None]
    if len(variables) != 1 or variables[0].type.shape != out.type.shape or \
            any(s != 1 for c in others for s in c.type.shape):
        return None
    return _zeros_of(out, variables[0])


@node_rule("local_mul_by_zeros", tracks=[Elemwise], tags=CANON)
def local_mul_by_zeros(fgraph, node):
    """``x * 0`` -> zeros for integer and boolean products (exact; floats: the unsafe rule)."""
    return _mul_zero(node, "iub")


@node_rule("local_mul_by_zeros_unsafe", tracks=[Elemwise], tags=UNSAFE)
def local_mul_by_zeros_unsafe(fgraph, node):
    """``x * 0`` -> zeros for floats too (wrong where x is inf or NaN; not in FAST_RUN)."""
    return _mul_zero(node, "iubfc")


# Ops whose outputs are never negative (for any input, NaN aside), so exp(log(.)) is exact-ish.
NONNEGATIVE = ("exp", "sqr", "abs", "sqrt", "sigmoid", "softplus", "exp2", "cosh")


def known_nonnegative(var):
    """Whether every value of ``var`` is >= 0 or NaN, judged from its owner or constant data."""
    if isinstance(var, Constant):
        data = np.asarray(var.data)
        if data.dtype.kind == "f":
            return bool(np.all((data >= 0) | np.isnan(data)))
        return data.dtype.kind in "iub" and bool(np.all(data >= 0))
    name = elemwise_name(var)
    if name in NONNEGATIVE:
        return True
    from verigraph.tensor.nnet_ops import Softmax
    return var.owner is not None and isinstance(var.owner.op, Softmax)


@node_rule("local_exp_log", tracks=[Elemwise], tags=CANON)
def local_exp_log(fgraph, node):
    """``exp(log(x))`` -> ``x`` when ``x`` is known non-negative (else NaN would become x)."""
    if not is_elemwise(node, "exp") or elemwise_name(node.inputs[0]) != "log":
        return None
    x = node.inputs[0].owner.inputs[0]
    if not known_nonnegative(x):
        return None
    return same_type(node.outputs[0], x)


@node_rule("local_dimshuffle_identity", tracks=[DimShuffle], tags=CANON)
def local_dimshuffle_identity(fgraph, node):
    """A DimShuffle that keeps every axis in order is its input."""
    if node.op.new_order == tuple(range(node.inputs[0].ndim)):
        return same_type(node.outputs[0], node.inputs[0])
    return None


@node_rule("local_dimshuffle_dimshuffle", tracks=[DimShuffle], tags=CANON)
def local_dimshuffle_dimshuffle(fgraph, node):
    """``DimShuffle(DimShuffle(x))`` -> one DimShuffle of ``x`` (or ``x`` if they cancel)."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    x = inner.inputs[0]
    first = inner.op.new_order
    order = tuple("x" if o == "x" else first[o] for o in node.op.new_order)
    if order == tuple(range(x.ndim)):
        return same_type(node.outputs[0], x)
    try:
        new = DimShuffle(x.type.shape, order)(x)
    except ValueError:
        return None
    return same_type(node.outputs[0], new)


@node_rule("local_sum_alloc", tracks=[Reduce], tags=CANON)
def local_sum_alloc(fgraph, node):
    """``sum(alloc(v, *shape), axes)``, 0-d ``v`` -> ``alloc(v * prod(reduced sizes), *kept)``."""
    if node.op.kind != "sum":
        return None
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, Alloc):
        return None
    v, *shape = x.owner.inputs
    if v.ndim != 0:
        return None
    out = node.outputs[0]
    dtype = out.dtype
    if np.dtype(dtype).kind not in "fciu":
        return None
    count = None
    for d in node.op.axis:
        count = shape[d] if count is None else count * shape[d]
    if count is None:
        return None
    total = api.mul(api.cast(v, dtype), api.cast(count, dtype))
    # An empty sum is 0 even where v is inf or NaN (where v * 0 would be NaN).
    total = api.switch(api.eq(count, 0), api.constant(0, dtype=dtype), total)
    kept = [s for d, s in enumerate(shape) if d not in node.op.axis]
    new = api.alloc(total, *kept) if kept else total
    return same_type(out, new)


@node_rule("local_reduce_broadcastable", tracks=[Reduce], tags=CANON)
def local_reduce_broadcastable(fgraph, node):
    """Summing (or max/min/prod) over axes of static size 1 only drops them: a DimShuffle.

    Only where the dtype does not change (a sum of int32 accumulates as int64).
    """
    op = node.op
    x = node.inputs[0]
    if op.kind not in ("sum", "prod", "max", "min") or not op.axis:
        return None
    if any(x.type.shape[a] != 1 for a in op.axis):
        return None
    out = node.outputs[0]
    if out.dtype != x.dtype:
        return None
    keep = [d for d in range(x.ndim) if d not in op.axis]
    return same_type(out, DimShuffle(x.type.shape, keep)(x))
