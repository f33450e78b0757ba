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
from verigraph.rewriting.patterns import single_client
from verigraph.tensor.blas import Dot
from verigraph.tensor.dense import Dense, DensePair
from verigraph.tensor.elemwise import DimShuffle
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
