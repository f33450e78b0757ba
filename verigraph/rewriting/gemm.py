"""``z - a * dot(x, y)`` and ``z + a * dot(x, y)`` -> one accumulating BLAS call (Gemm).

The SGD update of a weight matrix, ``W - lr * dot(x.T, g)``, is otherwise a GEMM into
a fresh gradient buffer and an elementwise pass reading W and that buffer. As ``Gemm``
it is one GEMM adding into a copy of ``z``, or, once the inplace phase allows it, into
``W``'s own storage: no buffer and no pass (XLA fuses the same update into its GEMM).
"""
from __future__ import annotations

import numpy as np

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import is_elemwise, same_type, scalar_constant, single_client
from verigraph.tensor import api
from verigraph.tensor.blas import Dot
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.gemm import DTYPES, Gemm

SPEC = ("specialize", "default")


def _dot_term(fgraph, term, dtype):
    """``(a, dot node)`` when ``term`` is ``dot(x, y)`` or ``a * dot(x, y)`` (a a scalar), else None.

    The product must feed nothing else (it is not stored any more), be a matrix of
    ``dtype`` from matrices of ``dtype``; ``a`` must have ``dtype`` and only length-1 axes.
    """
    node = term.owner
    if node is None or not single_client(fgraph, term):
        return None
    if isinstance(node.op, Dot):
        a, dot = None, node
    elif is_elemwise(node, "mul") and len(node.inputs) == 2:
        found = None
        for a, d in (node.inputs, node.inputs[::-1]):
            if d.owner is not None and isinstance(d.owner.op, Dot) and single_client(fgraph, d) \
                    and a.dtype == dtype and all(s == 1 for s in a.type.shape):
                found = a, d.owner
                break
        if found is None:
            return None
        a, dot = found
    else:
        return None
    x, y = dot.inputs
    if x.ndim != 2 or y.ndim != 2 or x.dtype != dtype or y.dtype != dtype or \
            dot.outputs[0].dtype != dtype:
        return None
    return a, dot


def _alpha(a, sign, dtype):
    """The Gemm's alpha: ``sign * a`` as a constant when ``a`` is one, else symbolically."""
    if a is None:
        return api.constant(np.asarray(sign, dtype))
    value = scalar_constant(a)
    if value is not None:
        return api.constant(np.asarray(sign * value, dtype))
    return a if sign > 0 else api.neg(a)


@node_rule("local_gemm_accumulate", tracks=[Elemwise], tags=SPEC)
def local_gemm_accumulate(fgraph, node):
    """``z - a * dot(x, y)`` -> ``Gemm(z, -a, x, y)`` (also ``+``, and without ``a``).

    For float32/float64 matrices of one dtype, ``a`` a scalar of it, ``z`` with the
    output's broadcast pattern (so nothing broadcasts), and a product used nowhere else.
    """
    if not is_elemwise(node, "sub", "add") or len(node.inputs) != 2:
        return None
    out = node.outputs[0]
    if out.ndim != 2 or out.dtype not in DTYPES:
        return None
    z0, t0 = node.inputs
    sub = node.op.scalar_op.name == "sub"
    pairs = [(z0, t0, -1.0)] if sub else [(z0, t0, 1.0), (t0, z0, 1.0)]
    pattern = tuple(s == 1 for s in out.type.shape)
    for z, term, sign in pairs:
        if z.dtype != out.dtype or tuple(s == 1 for s in z.type.shape) != pattern:
            continue
        found = _dot_term(fgraph, term, out.dtype)
        if found is None:
            continue
        a, dot = found
        if tuple(s == 1 for s in dot.outputs[0].type.shape) != pattern:
            continue
        new = Gemm()(z, _alpha(a, sign, out.dtype), *dot.inputs)
        new.owner.source = node.source
        return same_type(out, new)
    return None
