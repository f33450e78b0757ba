"""Inplace rules: Elemwise, FusedElemwise and IncSubtensor write into an input they consume last.

An input may be destroyed only when nothing else can observe it: it is computed in
the graph by an Op known to return fresh memory (or is a declared view of such a value),
every variable on that view chain has this node as its only client, and the chain never
reaches a graph input (user argument or shared variable storage) or a constant.

One exception, for ``Gemm`` only: a shared variable's storage may be overwritten by the
node computing that variable's own update, when every other reader of the storage (or
of a view of it) is an ancestor of the node, so it has run before (``update_target``).
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.traversal import ancestors
from verigraph.rewriting.db import node_rule
from verigraph.tensor.blas import Dot, Matmul
from verigraph.tensor.elemwise import DimShuffle, Elemwise
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.gemm import Gemm
from verigraph.tensor.nnet_ops import LogSoftmax, Softmax
from verigraph.tensor.reduction import Reduce
from verigraph.tensor.shape import Alloc, Shape, Shape_i, SpecifyShape
from verigraph.tensor.subtensor import IncSubtensor

INPLACE = ("inplace", "default")

# Ops whose fast path always returns a newly allocated array for outputs with ndim > 0.
FRESH_OUTPUT = (Elemwise, FusedElemwise, Dot, Matmul, Softmax, LogSoftmax, Alloc, IncSubtensor,
                Gemm)
# Ops whose output is a declared view of input 0: destroying it destroys that input.
VIEW_OPS = (DimShuffle, SpecifyShape)
# Ops that read only an input's shape, which overwriting its values does not change.
SHAPE_READERS = (Shape, Shape_i)


def _fresh(node):
    op = node.op
    if isinstance(op, Reduce):
        return bool(op.axis)  # reducing no axis may hand back the input itself
    return isinstance(op, FRESH_OUTPUT)


def destroyable(fgraph, var, consumer):
    """Whether ``consumer`` (an Apply) may overwrite the memory of its input ``var``."""
    seen = 0
    while True:
        clients = fgraph.clients.get(var, ())
        if len(clients) != 1 or clients[0][0] is not consumer:
            return False
        node = var.owner
        if node is None or var in fgraph.inputs:
            return False  # a user argument, shared storage or a constant
        op = node.op
        aliased = {**op.view_map, **op.destroy_map}.get(var.index)
        if aliased:
            if not isinstance(op, VIEW_OPS) and not op.destroy_map:
                return False  # a view whose memory layout we do not know
            var, consumer = node.inputs[aliased[0]], node
            seen += 1
            if seen > 1000:
                return False
            continue
        return _fresh(node)


def update_target(fgraph, var, consumer):
    """Whether ``consumer`` may overwrite graph input ``var``: shared storage it updates.

    ``fgraph.update_map`` (output index -> input index, set by the function maker) must say
    that ``consumer``'s output is the new value of ``var``; that output must feed nothing
    else; ``var`` and its views must not be outputs; and every other node reading ``var``
    or a view of it (shape-only readers aside) must be an ancestor of ``consumer``, so it
    runs first in every order. ``consumer`` itself must read ``var`` only as input 0.
    """
    update_map = getattr(fgraph, "update_map", None)
    if not update_map or var not in fgraph.inputs:
        return False
    out = consumer.outputs[0]
    positions = [k for k, o in enumerate(fgraph.outputs) if o is out]
    if len(positions) != 1 or update_map.get(positions[0]) != fgraph.inputs.index(var):
        return False
    if any(not isinstance(c, str) for c, _ in fgraph.clients.get(out, ())):
        return False
    before = {v.owner for v in ancestors(consumer.inputs) if v.owner is not None}
    stack = [var]
    while stack:
        v = stack.pop()
        for client, k in fgraph.clients.get(v, ()):
            if isinstance(client, str):
                return False   # var, or a view of it, is an output
            if client is consumer:
                if v is var and k == 0 and consumer.inputs.count(var) == 1:
                    continue
                return False
            if isinstance(client.op, SHAPE_READERS):
                continue
            if client not in before:
                return False
            aliased = {**client.op.view_map, **client.op.destroy_map}
            stack.extend(client.outputs[o] for o, ins in aliased.items() if k in ins)
    return True


@node_rule("local_elemwise_inplace", tracks=[Elemwise], tags=INPLACE)
def local_elemwise_inplace(fgraph, node):
    """``Elemwise(op)`` -> ``Elemwise(op, inplace_pattern={0: k})`` for a destroyable input k.

    Input k must have the output's exact type (so it has the output's shape at run
    time), appear once among the inputs, and the row must be a real ufunc (``out=``).
    """
    op = node.op
    if type(op) is not Elemwise or op.inplace_pattern or op.scalar_op.ufunc is None:
        return None
    out = node.outputs[0]
    if out.ndim == 0:
        return None  # 0-d values travel as NumPy scalars, which cannot be written into
    for k, inp in enumerate(node.inputs):
        if inp.type != out.type or node.inputs.count(inp) != 1:
            continue
        if not destroyable(fgraph, inp, node):
            continue
        new = Elemwise(op.scalar_op, {0: k})(*node.inputs)
        new.owner.source = node.source
        return new if new.type == out.type else None
    return None


@node_rule("local_fused_inplace", tracks=[FusedElemwise], tags=INPLACE)
def local_fused_inplace(fgraph, node):
    """``FusedElemwise`` -> its in-place form, writing into a destroyable input of its type."""
    op = node.op
    out = node.outputs[0]
    if op.inplace_input is not None or out.ndim == 0:
        return None
    for k, inp in enumerate(node.inputs):
        if inp.type != out.type or node.inputs.count(inp) != 1:
            continue
        if not destroyable(fgraph, inp, node):
            continue
        new = FusedElemwise(op.steps, inplace_input=k)(*node.inputs)
        new.owner.source = node.source
        return new
    return None


@node_rule("local_incsubtensor_inplace", tracks=[IncSubtensor], tags=INPLACE)
def local_incsubtensor_inplace(fgraph, node):
    """``IncSubtensor`` -> ``IncSubtensor(inplace=True)`` when its ``x`` input is destroyable."""
    op = node.op
    if op.inplace or node.outputs[0].ndim == 0:
        return None
    x = node.inputs[0]
    if x in node.inputs[1:] or not destroyable(fgraph, x, node):
        return None
    if np.dtype(x.dtype) != np.dtype(node.outputs[0].dtype):
        return None
    new = IncSubtensor(op.spec, op.set_instead_of_inc, inplace=True)(*node.inputs)
    new.owner.source = node.source
    return new


@node_rule("local_gemm_inplace", tracks=[Gemm], tags=INPLACE)
def local_gemm_inplace(fgraph, node):
    """``Gemm`` -> ``Gemm(inplace=True)`` when ``z`` is destroyable or its update target."""
    if node.op.inplace:
        return None
    z = node.inputs[0]
    if z in node.inputs[1:]:
        return None
    if not (destroyable(fgraph, z, node) or update_target(fgraph, z, node)):
        return None
    new = Gemm(inplace=True)(*node.inputs)
    new.owner.source = node.source
    return new
