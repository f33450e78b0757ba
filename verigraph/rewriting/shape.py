"""Shape rules: answer ``shape(f(x))`` from ``infer_shape`` without computing ``f``."""
from __future__ import annotations

from verigraph.graph.basic import Constant
from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import same_type
from verigraph.tensor.shape import MakeVector, Shape, Shape_i, shape_i
from verigraph.tensor.subtensor import Subtensor


def _dim(var, d):
    # Static sizes are trusted only where they are enforced: graph inputs (checked by
    # Type.filter on entry) and constants. An intermediate's static size can rest on an
    # assumption (specify_shape, broadcasting), so it is asked of its owner's infer_shape.
    if var.owner is None:
        return shape_i(var, d)
    return Shape_i(d)(var)


def input_shapes(node):
    """Symbolic shape tuple of each input of ``node``."""
    return [tuple(_dim(i, d) for d in range(i.ndim)) if hasattr(i.type, "ndim") else None
            for i in node.inputs]


def inferred_shape(fgraph, var):
    """``var``'s shape from its owner's ``infer_shape`` (guarded), or None if not available."""
    node = var.owner
    if node is None or not node.op.has_infer_shape():
        return None
    try:
        shapes = node.op.call_infer_shape(fgraph, node, input_shapes(node))
    except NotImplementedError:
        return None
    from verigraph.tensor import api
    out = shapes[var.index]
    return tuple(api.cast(s, "int64") if getattr(s, "dtype", "int64") != "int64" else s
                 for s in out)


@node_rule("local_shape_to_shape_i", tracks=(Shape, Shape_i), tags=("shape", "default"))
def local_shape_to_shape_i(fgraph, node):
    """``Shape(f(x))`` -> ``MakeVector`` of inferred sizes; ``Shape_i(f(x))`` -> inferred size."""
    x = node.inputs[0]
    if isinstance(node.op, Shape):
        if x.owner is None:
            if x.ndim == 0:
                return None
            return MakeVector("int64")(*[shape_i(x, d) for d in range(x.ndim)])
        shp = inferred_shape(fgraph, x)
        if shp is None:
            return None
        if not shp:
            return None
        return MakeVector("int64")(*shp)
    if x.owner is None:
        static = x.type.shape[node.op.i]
        return shape_i(x, node.op.i) if static is not None else None
    shp = inferred_shape(fgraph, x)
    if shp is None:
        return None
    return shp[node.op.i]


@node_rule("local_subtensor_make_vector", tracks=[Subtensor], tags=("shape", "default"))
def local_subtensor_make_vector(fgraph, node):
    """``MakeVector(a, b, ...)[i]`` for a constant ``i`` -> that entry (``x.shape[0]`` becomes
    ``Shape_i{0}(x)`` instead of building the shape vector and indexing it)."""
    if node.op.spec != ("i",):
        return None
    vec, index = node.inputs
    if vec.owner is None or not isinstance(vec.owner.op, MakeVector) or \
            not isinstance(index, Constant):
        return None
    entries = vec.owner.inputs
    i = int(index.data)
    if not -len(entries) <= i < len(entries):
        return None  # out of range: leave the IndexError to the indexing itself
    entry = entries[i]
    if entry.dtype != node.outputs[0].dtype:
        return None
    return same_type(node.outputs[0], entry)
