"""``tanh(dot(x, w) + b)`` and ``dot(x, w) + b`` -> one ``Dense`` node (bias and activation
computed on each block of the product in the C loop; see ``tensor/dense.py``).

Runs in the fusion phase, on the FusedElemwise node elementwise fusion made of the add
(and the tanh): its steps must be exactly ``add(product, bias)`` and optionally
``tanh`` of that, the product a matrix-matrix Dot used by nothing else, and the bias a
vector broadcast over the rows (``DimShuffle{x,0}``), all of one float dtype. Only where
the C kernels are on and a compiler exists: elsewhere the node would only compute what
the graph computed before.
"""
from __future__ import annotations

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import single_client
from verigraph.tensor.blas import Dot
from verigraph.tensor.dense import Dense
from verigraph.tensor.elemwise import DimShuffle
from verigraph.tensor.fused import FusedElemwise


def _activation(op):
    """'identity' or 'tanh' when the steps are add(i, i) [then tanh(s0)], else None."""
    steps = op.steps
    if not steps or steps[0][0] != "add" or {k for _, k in steps[0][1]} != {0, 1} or \
            any(kind != "i" for kind, _ in steps[0][1]):
        return None
    if len(steps) == 1:
        return "identity"
    if len(steps) == 2 and steps[1][0] == "tanh" and steps[1][1] == (("s", 0),):
        return "tanh"
    return None


def _c_kernels():
    from verigraph.link import ckernels
    from verigraph.link.ckernels import compiler
    return ckernels.enabled() and compiler.compiler() is not None


@node_rule("local_dense_epilogue", tracks=[FusedElemwise], tags=("fusion", "default"))
def local_dense_epilogue(fgraph, node):
    """``FusedElemwise{add[,tanh]}(dot(x, w), b.dimshuffle('x', 0))`` -> ``Dense(x, w, b)``."""
    op = node.op
    if op.inplace_input is not None or len(node.inputs) != 2:
        return None
    act = _activation(op)
    out = node.outputs[0]
    dtype = out.dtype
    if act is None or out.ndim != 2 or dtype not in ("float32", "float64") or \
            any(s[2] != dtype for s in op.steps):
        return None
    from verigraph.link.ckernels import dense
    if not dense.may_serve(dtype, out.type.shape[1]) or not _c_kernels():
        return None
    for product, row in (node.inputs, node.inputs[::-1]):
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
