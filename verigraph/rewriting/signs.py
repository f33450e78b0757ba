"""Sign rules: negations cancel in products and fold into sums, bit-for-bit exactly.

IEEE rounding is symmetric and a product's sign is the exclusive-or of its factors'
signs, so ``(-a) * b`` equals ``-(a * b)`` in every bit (zeros, infinities included), and
``a + (-b)`` is by definition ``a - b``. The stabilize phase and ``grad`` leave many
negations (``log(sigmoid(z))`` becomes ``-softplus(-z)``, the gradient of ``-y * log(p)``
is a product of three negated factors); each costs a pass over the array in the fused
kernel. These rules run in the specialize phase (after stabilize made them) and only on
float operands of the output's dtype, so no implicit cast moves. ``-a - b`` is left alone:
``-(a + b)`` differs from it in the sign of a zero result.
"""
from __future__ import annotations

import numpy as np

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import elemwise_name, is_elemwise, same_type
from verigraph.tensor import api
from verigraph.tensor.elemwise import Elemwise

SPEC = ("specialize", "default")


def _float_same(node):
    """Whether the output is float and every input has exactly the output's dtype."""
    dtype = node.outputs[0].dtype
    return np.dtype(dtype).kind == "f" and all(i.dtype == dtype for i in node.inputs)


def _strip_neg(var):
    """``a`` when ``var`` is ``-a`` with ``a`` of ``var``'s dtype, else None."""
    if elemwise_name(var) == "neg":
        inner = var.owner.inputs[0]
        if inner.dtype == var.dtype:
            return inner
    return None


@node_rule("local_mul_neg", tracks=[Elemwise], tags=SPEC)
def local_mul_neg(fgraph, node):
    """``(-a) * (-b)`` -> ``a * b`` and ``(-a) * b`` -> ``-(a * b)`` (n-ary products too).

    The negation leaves the product (so an enclosing ``-`` or ``+`` can absorb it); an
    even number of negations disappears.
    """
    if not is_elemwise(node, "mul") or not _float_same(node):
        return None
    stripped = [_strip_neg(i) for i in node.inputs]
    count = sum(s is not None for s in stripped)
    if count == 0:
        return None
    factors = [i if s is None else s for i, s in zip(node.inputs, stripped)]
    prod = api.mul(*factors)
    return same_type(node.outputs[0], api.neg(prod) if count % 2 else prod)


@node_rule("local_add_neg", tracks=[Elemwise], tags=SPEC)
def local_add_neg(fgraph, node):
    """``a + (-b)`` -> ``a - b``, ``(-a) + b`` -> ``b - a``, ``a - (-b)`` -> ``a + b``."""
    if len(node.inputs) != 2 or not _float_same(node):
        return None
    a, b = node.inputs
    if is_elemwise(node, "add"):
        nb = _strip_neg(b)
        if nb is not None:
            return same_type(node.outputs[0], api.sub(a, nb))
        na = _strip_neg(a)
        if na is not None:
            return same_type(node.outputs[0], api.sub(b, na))
        return None
    if is_elemwise(node, "sub"):
        nb = _strip_neg(b)
        if nb is not None:
            return same_type(node.outputs[0], api.add(a, nb))
    return None
