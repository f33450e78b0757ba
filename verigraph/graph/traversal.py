"""Graph walks: ancestors, topological order, cloning with replacements."""
from __future__ import annotations

from verigraph.graph.basic import Constant


def io_toposort(inputs, outputs, stop_ids=None):
    """Apply nodes between ``inputs`` and ``outputs`` in a deterministic topological order.

    Iterative depth-first post-order over owners, visiting inputs left to right,
    so the same graph always gives the same order (needed for StochasticOrder).
    ``stop_ids`` (ids of variables) stops the walk like ``inputs`` does.
    """
    stop = set(map(id, inputs))
    if stop_ids is not None:
        stop.update(stop_ids)
    order = []
    seen = set()
    for out in outputs:
        stack = [(out, False)]
        while stack:
            var, done = stack.pop()
            node = var.owner
            if node is None or id(var) in stop:
                continue
            if done:
                if id(node) not in seen:
                    seen.add(id(node))
                    order.append(node)
                continue
            if id(node) in seen:
                continue
            stack.append((var, True))
            for inp in reversed(node.inputs):
                if inp.owner is not None and id(inp.owner) not in seen and id(inp) not in stop:
                    stack.append((inp, False))
    return order


def ancestors(outputs, blockers=()):
    """Every Variable that ``outputs`` depend on (including themselves), stopping at blockers."""
    block = set(map(id, blockers))
    seen = {}
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen[id(v)] = v
        if v.owner is not None and id(v) not in block:
            stack.extend(v.owner.inputs)
    return list(seen.values())


def graph_inputs(outputs, blockers=()):
    """Root variables (no owner, or in ``blockers``) of ``outputs``, constants excluded."""
    block = set(map(id, blockers))
    return [v for v in ancestors(outputs, blockers)
            if (v.owner is None or id(v) in block) and not isinstance(v, Constant)]


def clone_replace(outputs, replace=None, strict=True):
    """Copy the graph of ``outputs`` substituting ``replace`` (old var -> new var).

    Nodes whose inputs did not change are shared, not copied, so cloning is cheap.
    """
    memo = {id(k): v for k, v in (replace or {}).items()}
    order = io_toposort(list((replace or {}).keys()), outputs)
    for node in order:
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = node.clone_with_new_inputs(new_inputs, strict=strict)
        for o, n in zip(node.outputs, new_node.outputs):
            if o.name is not None and n.name is None:
                n.name = o.name
            memo[id(o)] = n
    return [memo.get(id(o), o) for o in outputs]
