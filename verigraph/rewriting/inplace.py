"""Inplace rules: Elemwise, FusedElemwise and IncSubtensor write into an input they consume last.

An input may be destroyed only when nothing else can observe it: it is computed in
the graph by an Op known to return fresh memory (or is a declared view of such a value),
every variable on that view chain has this node as its only client, and the chain never
reaches a graph input (user argument or shared variable storage) or a constant.
"""
from __future__ import annotations

import numpy as np

from verigraph.rewriting.db import node_rule
from verigraph.tensor.blas import Dot, Matmul
from verigraph.tensor.elemwise import DimShuffle, Elemwise
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.nnet_ops import LogSoftmax, Softmax
from verigraph.tensor.reduction import Reduce
from verigraph.tensor.shape import Alloc, SpecifyShape
from verigraph.tensor.subtensor import IncSubtensor

INPLACE = ("inplace", "default")

# Ops whose fast path always returns a newly allocated array for outputs with ndim > 0.
FRESH_OUTPUT = (Elemwise, FusedElemwise, Dot, Matmul, Softmax, LogSoftmax, Alloc, IncSubtensor)
# Ops whose output is a declared view of input 0: destroying it destroys that input.
VIEW_OPS = (DimShuffle, SpecifyShape)


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
