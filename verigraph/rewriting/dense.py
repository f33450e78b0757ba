"""``act(dot(x, w) + b)`` -> one ``Dense`` node (bias and activation computed on each block
of the product in the C loop; see ``tensor/dense.py``), for act tanh, sigmoid, relu
(``maximum(z, 0)``) or none.

Runs in the fusion phase, on the FusedElemwise node elementwise fusion made of the add
(and the activation): its steps must be exactly ``add(product, bias)`` and optionally
the activation of that, the product a matrix-matrix Dot used by nothing else, and the bias a
vector broadcast over the rows (``DimShuffle{x,0}``), all of one float dtype. Only where
the C kernels are on and a compiler exists: elsewhere the node would only compute what
the graph computed before.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import (elemwise_name, is_constant_value, is_elemwise,
                                          same_type, single_client)
from verigraph.tensor import api
from verigraph.tensor.blas import Dot
from verigraph.tensor.dense import Dense, DensePair
from verigraph.tensor.dense_grad import NarrowTanhGrad
from verigraph.tensor.elemwise import DimShuffle, Elemwise
from verigraph.tensor.gemm import Gemm
from verigraph.tensor.reduction import Reduce
from verigraph.tensor.fused import FusedElemwise


def _activation(node):
    """The activation when the steps are ``add(i0, i1)`` then nothing, tanh, sigmoid or
    ``maximum(s0, 0)`` (relu, the zero a constant third input), else None."""
    steps = node.op.steps
    if not steps or steps[0][0] != "add" or sorted(k for _, k in steps[0][1]) != [0, 1] or \
            any(kind != "i" for kind, _ in steps[0][1]):
        return None
    if len(steps) == 1:
        return "identity" if len(node.inputs) == 2 else None
    if len(steps) != 2:
        return None
    name, refs, _ = steps[1]
    if name in ("tanh", "sigmoid") and refs == (("s", 0),) and len(node.inputs) == 2:
        return name
    if name == "maximum" and refs == (("s", 0), ("i", 2)) and len(node.inputs) == 3:
        zero = node.inputs[2]
        if isinstance(zero, Constant) and all(s == 1 for s in zero.type.shape) and \
                np.all(np.asarray(zero.data) == 0):
            return "relu"
    return None


@node_rule("local_dense_epilogue", tracks=[FusedElemwise], tags=("fusion", "default"))
def local_dense_epilogue(fgraph, node):
    """``FusedElemwise{add[,act]}(dot(x, w), b.dimshuffle('x', 0)[, 0])`` -> ``Dense(act)(x, w, b)``."""
    op = node.op
    if op.inplace_input is not None:
        return None
    act = _activation(node)
    out = node.outputs[0]
    dtype = out.dtype
    if act is None or out.ndim != 2 or dtype not in ("float32", "float64") or \
            any(s[2] != dtype for s in op.steps):
        return None
    from verigraph.link import ckernels
    from verigraph.link.ckernels import dense
    if not dense.may_serve(dtype, out.type.shape[1]) or not ckernels.can_compile():
        return None
    for product, row in (node.inputs[:2], node.inputs[1::-1]):
        dot = product.owner
        if dot is None or not isinstance(dot.op, Dot) or not single_client(fgraph, product):
            continue
        x, w = dot.inputs
        if x.ndim != 2 or w.ndim != 2 or x.dtype != dtype or w.dtype != dtype or \
                product.dtype != dtype:
            continue
        ds = row.owner
        if ds is None or not isinstance(ds.op, DimShuffle) or ds.op.new_order != ("x", 0):
            continue
        b = ds.inputs[0]
        if b.dtype != dtype:
            continue
        new = Dense(act)(x, w, b)
        new.owner.source = node.source
        return new
    return None


@node_rule("local_dense_pair", tracks=[Dense], tags=("fusion", "default"))
def local_dense_pair(fgraph, node):
    """``Dense{identity}(Dense{act}(x, w, b), w2, b2)`` -> ``DensePair{act}(x, w, b, w2, b2)``
    where ``w2`` may be narrow (at most two vectors of columns, or not known statically):
    the second product runs on each block of the first's output while it is in L1. Where
    ``w2`` turns out wider at run time the node computes the two layers as before."""
    if node.op.act != "identity":
        return None
    h, w2, b2 = node.inputs
    first = h.owner
    if first is None or type(first.op) is not Dense:
        return None
    cols = w2.type.shape[1]
    lanes = 64 // np.dtype(w2.dtype).itemsize
    if cols is not None and cols > 2 * lanes:
        return None
    pair = DensePair(first.op.act).make_node(*first.inputs, w2, b2)
    pair.source = node.source
    return [(h, pair.outputs[0]), (node.outputs[0], pair.outputs[1])]


def _one_minus_square_of(var):
    """``h`` when ``var`` is ``1 - sqr(h)`` (tanh's derivative from its output), else None."""
    if elemwise_name(var) != "sub":
        return None
    one, sq = var.owner.inputs
    if not is_constant_value(one, 1) or elemwise_name(sq) != "sqr":
        return None
    return sq.owner.inputs[0]


def _weight_gradient(fgraph, h, gz):
    """The node computing ``h.T @ gz``: a ``Dot(h.T, gz)`` or a ``Gemm(c, alpha, h.T, gz)``
    (the SGD update it was folded into), or None."""
    for ht_node, _ in fgraph.clients.get(h, ()):
        if isinstance(ht_node, str) or not isinstance(ht_node.op, DimShuffle) or \
                ht_node.op.new_order != (1, 0):
            continue
        for user, _ in fgraph.clients.get(ht_node.outputs[0], ()):
            if isinstance(user, str):
                continue
            if isinstance(user.op, Dot) and list(user.inputs) == [ht_node.outputs[0], gz]:
                return user
            if isinstance(user.op, Gemm) and list(user.inputs[2:]) == [ht_node.outputs[0], gz]:
                return user
    return None


def _known_columns(gz, w2):
    """The columns of ``gz`` (= ``w2``'s) as far as compiling can know them: a static size,
    else the current value of ``w2`` when it is a shared variable (the usual case: a
    weight matrix), else None. Only a choice of speed: a later ``set_value`` of another
    width keeps results right (the node then computes the products with BLAS)."""
    for static in (gz.type.shape[1], w2.type.shape[1]):
        if static is not None:
            return static
    get_value = getattr(w2, "get_value", None)
    if get_value is not None:
        value = get_value(borrow=True)
        if getattr(value, "ndim", 0) == 2:
            return value.shape[1]
    return None


def _column_sum(fgraph, var):
    """A node computing ``sum(var, axis=0)`` in ``var``'s dtype (the bias gradient), or None."""
    for user, _ in fgraph.clients.get(var, ()):
        if not isinstance(user, str) and isinstance(user.op, Reduce) and user.op.kind == "sum" \
                and user.op.axis == (0,) and user.outputs[0].dtype == var.dtype:
            return user
    return None


@node_rule("local_narrow_tanh_grad", tracks=[Elemwise], tags=("specialize", "default"))
def local_narrow_tanh_grad(fgraph, node):
    """``(gz @ w2.T) * (1 - sqr(h))`` with ``h.T @ gz`` also computed (a Dot, or the SGD
    update's Gemm) -> ``NarrowTanhGrad(gz, w2, h)``, whose loop reads ``h`` once; the
    Gemm becomes ``c + alpha * gw2``. Only where the C kernels run and ``gz`` is known to
    have few columns (``_known_columns``): for a wide layer the Gemm accumulating into
    the weights in place is the faster form (a 784-500-500-10 step was 1.02x slower
    with the rule applied to its middle layer)."""
    if not is_elemwise(node, "mul") or len(node.inputs) != 2:
        return None
    for product, deriv in (node.inputs, node.inputs[::-1]):
        dot = product.owner
        if dot is None or not isinstance(dot.op, Dot) or not single_client(fgraph, product):
            continue
        gz, w2t = dot.inputs
        ds = w2t.owner
        if ds is None or not isinstance(ds.op, DimShuffle) or ds.op.new_order != (1, 0):
            continue
        w2 = ds.inputs[0]
        h = _one_minus_square_of(deriv)
        dtype = node.outputs[0].dtype
        if h is None or any(v.ndim != 2 or v.dtype != dtype for v in (gz, w2, h)) or \
                product.dtype != dtype:
            continue
        cols = _known_columns(gz, w2)
        from verigraph.link import ckernels
        from verigraph.link.ckernels import dense, dense_backward
        if cols is None or cols > dense_backward.MAX_COLUMNS or \
                not dense.may_serve(dtype, None) or not ckernels.can_compile():
            return None
        weights = _weight_gradient(fgraph, h, gz)
        if weights is None:
            continue
        sums = _column_sum(fgraph, node.outputs[0])
        outs = NarrowTanhGrad(column_sums=sums is not None)(gz, w2, h)
        gpre, gw2 = outs[:2]
        gpre.owner.source = node.source
        if isinstance(weights.op, Gemm):
            c, alpha = weights.inputs[:2]
            new_weights = api.add(c, api.mul(alpha, gw2))
        else:
            new_weights = gw2
        new_weights = same_type(weights.outputs[0], new_weights)
        new_gpre = same_type(node.outputs[0], gpre)
        if new_weights is None or new_gpre is None:
            return None
        pairs = [(node.outputs[0], new_gpre), (weights.outputs[0], new_weights)]
        if sums is not None:
            new_sums = same_type(sums.outputs[0], outs[2])
            if new_sums is not None:
                pairs.append((sums.outputs[0], new_sums))
            else:   # a type the third output cannot stand for: leave the sum as it was
                return None
        return pairs
    return None
