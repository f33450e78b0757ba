"""Merge (common-subexpression elimination) and constant folding."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.rewriting.db import node_rule
from verigraph.tensor.guards import ShapeGuard

# Constant folding would bake in arrays this large; leave them to run time.
FOLD_MAX_ELEMENTS = 10_000


def merge_graph(fgraph, _node=None):
    """Replace each node equal to an earlier one (same Op, same inputs) and equal constants."""
    seen_consts = {}
    changes = 0
    # Constants in graph order, not in ``fgraph.variables`` (a set) order: which of two
    # equal constants survives (and so its name) must not change between compilations.
    ordered = [i for node in fgraph.toposort() for i in node.inputs] + list(fgraph.outputs)
    for var in dict.fromkeys(ordered):
        if isinstance(var, Constant) and fgraph.clients.get(var):
            key = var.signature() if hasattr(var, "signature") else id(var)
            first = seen_consts.setdefault(key, var)
            if first is not var and var in fgraph.variables:
                fgraph.replace(var, first, reason="merge")
                changes += 1
    seen = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes or node.op.stochastic or node.op.destroy_map:
            continue
        key = (node.op, tuple(id(i) for i in node.inputs))
        other = seen.get(key)
        if other is None or other not in fgraph.apply_nodes:
            seen[key] = node
            continue
        for old, new in zip(node.outputs, other.outputs):
            if old in fgraph.variables:
                fgraph.replace(old, new, reason="merge")
        changes += 1
    return changes


merge_graph.is_global = True
node_rule("merge", tags=("merge", "default", "fast_compile"))(merge_graph)


@node_rule("constant_folding", tags=("constant_folding", "default", "fast_compile"))
def constant_folding(fgraph, node):
    """A node whose inputs are all constants becomes a constant (run once, with ``perform``)."""
    if node.op.stochastic or node.op.destroy_map or not node.inputs:
        return None
    if not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if isinstance(node.op, ShapeGuard):
        # A guard over constants that agree is a no-op; one that disagrees must raise at run time.
        vals = [int(np.asarray(i.data)) for i in (node.inputs[1:] if node.op.carry else node.inputs)]
        if len(set(vals)) != 1:
            return None
    from verigraph.link.reference import run_node_reference
    from verigraph.tensor.variable import TensorConstant
    try:
        outs = run_node_reference(node, [i.data for i in node.inputs])
    except Exception:  # noqa: BLE001 - an error must surface at run time, in every mode
        return None
    if any(np.size(o) > FOLD_MAX_ELEMENTS for o in outs):
        return None
    result = []
    for o, v in zip(node.outputs, outs):
        arr = np.array(v)
        arr.setflags(write=False)
        result.append(TensorConstant(o.type, arr))
    return result
