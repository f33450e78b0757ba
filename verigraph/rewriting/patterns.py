"""Matchers shared by the FAST_RUN rule files: elemwise ops by name, scalar constants, types."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.tensor.elemwise import DimShuffle, Elemwise


def elemwise_name(var):
    """The scalar-op name of ``var``'s owner if it is a plain (not in-place) Elemwise, else None."""
    node = var.owner
    if node is None or type(node.op) is not Elemwise or node.op.inplace_pattern:
        return None
    return node.op.scalar_op.name


def is_elemwise(node, *names):
    """Whether ``node`` is a plain Elemwise whose scalar op is one of ``names``."""
    op = node.op
    return type(op) is Elemwise and not op.inplace_pattern and op.scalar_op.name in names


def constant_data(var):
    """The array of a constant, looking through DimShuffles that only add axes; else None."""
    while var.owner is not None and isinstance(var.owner.op, DimShuffle):
        var = var.owner.inputs[0]
    if isinstance(var, Constant):
        return np.asarray(var.data)
    return None


def scalar_constant(var):
    """The single value every element of a constant ``var`` holds (a NumPy scalar), else None."""
    data = constant_data(var)
    if data is None or data.size == 0:
        return None
    first = data.reshape(-1)[0]
    if data.size > 1 and not np.all(data == first):
        return None
    return first


def is_constant_value(var, value):
    """Whether ``var`` is a constant whose every element equals ``value``."""
    v = scalar_constant(var)
    if v is None:
        return False
    with np.errstate(all="ignore"):
        return bool(v == value)


def single_client(fgraph, var):
    """Whether ``var`` has exactly one client in ``fgraph`` (and is not a graph output)."""
    cl = fgraph.clients.get(var, ())
    return len(cl) == 1 and not isinstance(cl[0][0], str)


def single_consumer(fgraph, var):
    """The one Apply using ``var`` (possibly at several positions), or None (also if an output)."""
    cl = fgraph.clients.get(var, ())
    if not cl or isinstance(cl[0][0], str):
        return None
    node = cl[0][0]
    if any(c[0] is not node for c in cl[1:]):
        return None
    return node


def same_type(old, new):
    """``new`` given exactly ``old``'s type, or None when that would need a conversion we avoid.

    Equal types pass through; an equal dtype and rank with less static shape information
    gets a SpecifyShape (a cheap run-time check that also keeps shape errors); anything else
    (another dtype, rank, or a static size that differs) is refused so the rule skips.
    """
    if new.type == old.type:
        return new
    ot, nt = old.type, new.type
    if getattr(nt, "dtype", None) != getattr(ot, "dtype", None) or \
            getattr(nt, "ndim", None) != getattr(ot, "ndim", None):
        return None
    if not nt.is_super(ot):
        return None
    from verigraph.tensor.api import specify_shape
    out = specify_shape(new, ot.shape)
    return out if out.type == ot else None
