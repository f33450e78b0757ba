"""Working precision: the least precise float dtype a value was computed through, for its tolerance.

A float64 output computed from float32 intermediates (``cast(softplus(x32), 'float64')``)
carries float32 rounding: a rewrite that reorders the float32 arithmetic, or a fused
kernel using another float32 formula, legitimately changes it by float32 ulps. Comparing
such a value at float64 tolerance is a false alarm, so the checks compare at the
tolerance of the value's *working dtype*: the loosest float dtype among the values
computed on the way to it (graph inputs are exact data and do not count; their casts do).
"""
from __future__ import annotations


from verigraph.checks.tolerance import tolerance
from verigraph.dtypes import dtype_name
from verigraph.graph.traversal import io_toposort


def loosest(dtypes):
    """The float or complex dtype among ``dtypes`` with the widest tolerance (None if none)."""
    best, best_tol = None, None
    for d in dtypes:
        if d is None:
            continue
        name = dtype_name(d)
        if not name.startswith(("float", "complex")):
            continue
        tol = tolerance(name)
        if best is None or tol > best_tol:
            best, best_tol = name, tol
    return best


def node_working_dtype(node):
    """The loosest float dtype ``node`` computes in: its outputs and, for a fused kernel, its steps."""
    dtypes = [getattr(o.type, "dtype", None) for o in node.outputs]
    inner = getattr(node.op, "working_dtypes", None)
    if inner is not None:
        dtypes += list(inner())
    return loosest(dtypes)


def working_dtypes(outputs):
    """Per output, the loosest float dtype among the values computed on the way to it (or None)."""
    outputs = list(outputs)
    roots = [v for v in outputs if v is not None]
    work = {}
    for node in io_toposort([], roots):
        here = node_working_dtype(node)
        below = loosest([work.get(id(i)) for i in node.inputs])
        w = loosest([here, below])
        for o in node.outputs:
            work[id(o)] = w
    return [None if v is None else work.get(id(v)) for v in outputs]
