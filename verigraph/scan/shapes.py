"""Symbolic output shapes of a Scan node: (number of steps,) + the per-step shape."""
from __future__ import annotations

from verigraph.graph.basic import Constant
from verigraph.graph.traversal import graph_inputs, io_toposort
from verigraph.tensor.type import TensorType


def n_steps_expr(op, inputs):
    """Symbolic number of iterations of a Scan node with these inputs (int64 scalar)."""
    from verigraph.tensor import api
    from verigraph.tensor.shape import shape_i
    n_steps, seqs, _, _ = op.spec.split_inputs(inputs)
    terms = [shape_i(s, 0) for s in seqs]
    if op.spec.has_n_steps:
        terms.append(n_steps)
    out = terms[0]
    for t in terms[1:]:
        out = api.minimum(out, t)
    return out


def _inner_shapes(op, node):
    """Per-step shapes of the non-recurrent outputs from the Ops' infer_shape, or None."""
    from verigraph.tensor.shape import shape_i
    from verigraph.tensor.variable import constant
    spec = op.spec
    _, seqs, inits, nonseqs = spec.split_inputs(node.inputs)
    shape_of = {}
    ins = iter(op.inner_inputs)
    for s in seqs:
        shape_of[id(next(ins))] = tuple(shape_i(s, d) for d in range(1, s.ndim))
    for r, init in zip(spec.recurrent, inits):
        for _ in r.taps:
            ph = next(ins)
            if isinstance(init.type, TensorType):
                first = 1 if r.init_has_time else 0
                shape_of[id(ph)] = tuple(shape_i(init, d) for d in range(first, init.ndim))
    for x in nonseqs:
        ph = next(ins)
        if isinstance(x.type, TensorType):
            shape_of[id(ph)] = tuple(shape_i(x, d) for d in range(x.ndim))
    targets = op.inner_outputs[spec.n_rec:]
    for inner_node in io_toposort(op.inner_inputs, targets):
        shapes = []
        for i in inner_node.inputs:
            if isinstance(i, Constant) and isinstance(i.type, TensorType):
                shapes.append(tuple(constant(s, dtype="int64") for s in i.data.shape))
            elif isinstance(i.type, TensorType):
                shapes.append(shape_of.get(id(i)))
            else:
                shapes.append(None)
        try:
            outs = inner_node.op.call_infer_shape(None, inner_node, shapes)
        except Exception:  # noqa: BLE001 - no shape rule, or one that needs values: give up
            return None
        for o, s in zip(inner_node.outputs, outs):
            shape_of[id(o)] = tuple(s) if s is not None else None
    result = []
    inner_ids = {id(v) for n in io_toposort(op.inner_inputs, targets) for v in n.outputs}
    inner_ids |= {id(v) for v in op.inner_inputs}
    for t in targets:
        s = shape_of.get(id(t))
        if s is None and isinstance(t, Constant):
            s = tuple(constant(d, dtype="int64") for d in t.data.shape)
        if s is None:
            return None
        # An answer that still mentions an inner variable cannot be computed outside.
        if any(id(v) in inner_ids for v in graph_inputs(list(s))) if s else False:
            return None
        result.append(s)
    return result


def scan_output_shapes(op, node):
    """Shapes of every output of a Scan node; raises NotImplementedError when unknown."""
    from verigraph.tensor.shape import shape_i
    spec = op.spec
    _, _, inits, _ = spec.split_inputs(node.inputs)
    n = n_steps_expr(op, node.inputs)
    out = []
    for r, init in zip(spec.recurrent, inits):
        if not isinstance(init.type, TensorType):
            out.append(None)
            continue
        first = 1 if r.init_has_time else 0
        state = tuple(shape_i(init, d) for d in range(first, init.ndim))
        out.append(state if r.keep == "last" else (n,) + state)
    if spec.n_nitsot:
        inner = _inner_shapes(op, node)
        if inner is None:
            raise NotImplementedError(f"{op}: the per-step shape of an output is not known")
        out.extend((n,) + tuple(s) for s in inner)
    return out
