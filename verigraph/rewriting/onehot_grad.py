"""The categorical cross-entropy against integer labels as two nodes (``tensor/crossentropy``).

``grad(-mean(log_softmax(x)[arange(n), y]), x)`` arrives as LogSoftmax's backward
``G - sum(G, axis=1)[:, None] * exp(logsm)`` over ``G = zeros_like(logsm)`` incremented at
``(arange(n), y)``: five nodes after the fact, plus the shape nodes the zeros need, each a
Python-level call that, in a training step, runs right after a large product has pushed
its data out of the cache. ``LogSoftmaxOneHotGrad`` computes the same values in one pass.

The rule sits in the canonicalize phase because it recognises the zeros by their shape,
``(Shape_i{0}(logsm), Shape_i{1}(logsm))``, which the shape phase then rewrites into the
guarded sizes of ``logsm``'s inputs (no longer visibly ``logsm``'s shape).

Once the shape phase has turned ``arange(y.shape[0])`` into ``arange(Shape_i{0}(y))``, two
specialize rules drop that row range where it is ``arange(len(labels))``: the forward
``x[arange(len(y)), y]`` becomes ``PickLabels(x, y)`` and the gradient node takes
``label_rows``, so neither the range nor its length is computed.
"""
from __future__ import annotations

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import elemwise_name, is_constant_value, is_elemwise, same_type
from verigraph.tensor.elemwise import DimShuffle, Elemwise
from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad, PickLabels, is_int_vector
from verigraph.tensor.nnet_ops import LogSoftmax
from verigraph.tensor.reduction import Reduce
from verigraph.tensor.shape import ARange, Alloc, Shape_i
from verigraph.tensor.subtensor import IncSubtensor, Subtensor


def _row_sum_of(var, g):
    """Whether ``var`` is ``sum(g, axis=1)[:, None]`` of the 2-d ``g``."""
    ds = var.owner
    if ds is None or not isinstance(ds.op, DimShuffle) or ds.op.new_order != (0, "x"):
        return False
    red = ds.inputs[0].owner
    return (red is not None and isinstance(red.op, Reduce) and red.op.kind == "sum"
            and red.op.axis == (1,) and red.op.dtype in (None, g.dtype) and red.inputs[0] is g)


def _zeros_shaped_like(var, like):
    """Whether ``var`` is ``alloc(0, Shape_i{0}(like), Shape_i{1}(like))``."""
    node = var.owner
    if node is None or not isinstance(node.op, Alloc) or len(node.inputs) != 3:
        return False
    value, *sizes = node.inputs
    if value.ndim != 0 or not is_constant_value(value, 0):
        return False
    return all(s.owner is not None and isinstance(s.owner.op, Shape_i) and s.owner.op.i == d
               and s.owner.inputs[0] is like for d, s in enumerate(sizes))


@node_rule("local_log_softmax_onehot_grad", tracks=[Elemwise], tags=("canonicalize", "default"))
def local_log_softmax_onehot_grad(fgraph, node):
    """``G - sum(G, 1)[:, None] * exp(log_softmax(x))``, ``G`` zeros incremented at
    ``(rows, labels)`` -> ``LogSoftmaxOneHotGrad(values, logsm, rows, labels)``."""
    if not is_elemwise(node, "sub"):
        return None
    g, prod = node.inputs
    if elemwise_name(prod) != "mul" or len(prod.owner.inputs) != 2:
        return None
    a, b = prod.owner.inputs
    e = b if _row_sum_of(a, g) else a if _row_sum_of(b, g) else None
    if e is None or elemwise_name(e) != "exp":
        return None
    logsm = e.owner.inputs[0]
    ls = logsm.owner
    if ls is None or not isinstance(ls.op, LogSoftmax) or logsm.ndim != 2 \
            or ls.op.axis not in (1, -1) or g.dtype != logsm.dtype:
        return None
    inc = g.owner
    if inc is None or type(inc.op) is not IncSubtensor or inc.op.set_instead_of_inc \
            or inc.op.spec != ("a", "a") or len(inc.inputs) != 4:
        return None
    zeros, values, rows, labels = inc.inputs
    if not _zeros_shaped_like(zeros, logsm):
        return None
    if values.ndim > 1 or not (is_int_vector(rows) and is_int_vector(labels)):
        return None
    return same_type(node.outputs[0], LogSoftmaxOneHotGrad()(values, logsm, rows, labels))


def _label_range(rows, labels):
    """Whether ``rows`` is ``arange(0, Shape_i{0}(labels), 1)``."""
    node = rows.owner
    if node is None or not isinstance(node.op, ARange):
        return False
    start, stop, step = node.inputs
    if not (is_constant_value(start, 0) and is_constant_value(step, 1)):
        return False
    length = stop.owner
    return (length is not None and isinstance(length.op, Shape_i) and length.op.i == 0
            and length.inputs[0] is labels)


@node_rule("local_pick_labels", tracks=[Subtensor], tags=("specialize", "default"))
def local_pick_labels(fgraph, node):
    """``x[arange(len(y)), y]`` of a matrix -> ``PickLabels(x, y)``."""
    if node.op.spec != ("a", "a") or len(node.inputs) != 3:
        return None
    x, rows, labels = node.inputs
    if x.ndim != 2 or not is_int_vector(labels) or not _label_range(rows, labels):
        return None
    return same_type(node.outputs[0], PickLabels()(x, labels))


@node_rule("local_onehot_grad_label_rows", tracks=[LogSoftmaxOneHotGrad],
           tags=("specialize", "default"))
def local_onehot_grad_label_rows(fgraph, node):
    """``LogSoftmaxOneHotGrad(v, ls, arange(len(y)), y)`` -> its ``label_rows`` form."""
    if node.op.label_rows:
        return None
    values, logsm, rows, labels = node.inputs
    if not _label_range(rows, labels):
        return None
    return same_type(node.outputs[0], LogSoftmaxOneHotGrad(label_rows=True)(values, logsm, labels))
