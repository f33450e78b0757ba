"""Specialize rules: replace general operations by cheaper special cases (``x**2`` -> ``sqr``).

The replacements agree with the reference to rounding for every finite input. The one
documented edge: ``x**0.5`` -> ``sqrt(x)`` differs at ``x = -inf`` (``pow`` gives ``inf``,
``sqrt`` gives NaN), as in every C math library's ``pow`` versus ``sqrt``.
"""
from __future__ import annotations

import numpy as np

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import is_elemwise, same_type, scalar_constant
from verigraph.tensor import api
from verigraph.tensor.elemwise import Elemwise

SPEC = ("specialize", "default")


def _reciprocal(x, dtype):
    return api.true_div(api.constant(1, dtype=dtype), x)


# exponent -> builder(x, output dtype); exponents whose special form is not an
# improvement (or not exact enough) are simply absent.
POW_SPECIAL = {
    1.0: lambda x, dt: x,
    2.0: lambda x, dt: api.sqr(x),
    0.5: lambda x, dt: api.sqrt(x),
    -1.0: _reciprocal,
    3.0: lambda x, dt: api.mul(api.sqr(x), x),
    -2.0: lambda x, dt: _reciprocal(api.sqr(x), dt),
    -0.5: lambda x, dt: _reciprocal(api.sqrt(x), dt),
}


@node_rule("local_pow_specialize", tracks=[Elemwise], tags=SPEC)
def local_pow_specialize(fgraph, node):
    """``x**1`` -> x, ``x**2`` -> sqr, ``x**0.5`` -> sqrt, ``x**-1`` -> 1/x, ``x**3``, ``x**-2``,
    ``x**-0.5``.

    Only where ``x`` already has the output's dtype (a float, or an integer with a
    non-negative integer exponent), so no implicit conversion changes.
    """
    if not is_elemwise(node, "pow"):
        return None
    x, y = node.inputs
    e = scalar_constant(y)
    out = node.outputs[0]
    if e is None or x.dtype != out.dtype:
        return None
    kind = np.dtype(out.dtype).kind
    try:
        e = float(e)
    except (TypeError, ValueError):
        return None
    build = POW_SPECIAL.get(e)
    if build is None:
        return None
    if kind != "f" and (e < 0 or e != int(e)):
        return None
    if kind not in "fiu":
        return None
    # y may broadcast x (a constant of a larger static shape): same_type keeps that check.
    return same_type(out, build(x, out.dtype))


@node_rule("local_mul_minus_one", tracks=[Elemwise], tags=SPEC)
def local_mul_minus_one(fgraph, node):
    """``x * -1`` -> ``-x`` (exact) for float products of two operands."""
    if not is_elemwise(node, "mul") or len(node.inputs) != 2:
        return None
    out = node.outputs[0]
    if np.dtype(out.dtype).kind != "f":
        return None
    for a, b in (node.inputs, node.inputs[::-1]):
        c = scalar_constant(b)
        if c is not None and c == -1 and a.dtype == out.dtype:
            return same_type(out, api.neg(a))
    return None
