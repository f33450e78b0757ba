"""Sum over all axes of a fused elementwise chain -> one FusedSum node (one pass, no temporary)."""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels.codegen import EXPENSIVE
from verigraph.rewriting.db import node_rule
from verigraph.rewriting.fusion import _plain, collect_tree
from verigraph.rewriting.patterns import single_consumer
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.fused_sum import FusedSum
from verigraph.tensor.reduction import Reduce


def _summable(in_dtype, out_dtype):
    # The C kernel sums in double: exact for these pairs' NumPy semantics up to rounding.
    return (in_dtype, out_dtype) in (("float64", "float64"), ("float32", "float32"),
                                     ("float32", "float64"))


@node_rule("elemwise_sum_fusion", tracks=[Reduce], tags=("fusion", "default"))
def elemwise_sum_fusion(fgraph, node):
    """``Sum{all axes}`` of an elementwise chain (fused or not) with no other consumer -> FusedSum."""
    op = node.op
    if op.kind != "sum":
        return None
    x = node.inputs[0]
    owner = x.owner
    if owner is None:
        return None
    if type(owner.op) is FusedElemwise and owner.op.inplace_input is None:
        steps, leaves = owner.op.steps, owner.inputs
    elif _plain(owner) and owner.op.scalar_op.name not in EXPENSIVE:
        # A lone cheap elementwise node the fusion rule left alone (sum(x ** 2)); a lone
        # libm row (sum(exp(x))) would gain nothing: it runs on NumPy either way.
        steps, leaves = collect_tree(fgraph, owner)
    else:
        return None
    if x.ndim == 0 or tuple(op.axis) != tuple(range(x.ndim)):
        return None
    if single_consumer(fgraph, x) is not node:
        return None
    out = node.outputs[0]
    if not _summable(str(np.dtype(x.dtype)), str(np.dtype(out.dtype))):
        return None
    try:
        new_node = FusedSum(steps, out.dtype).make_node(*leaves)
    except TypeError:
        return None
    new_node.source = node.source
    new = new_node.outputs[0]
    return new if new.type == out.type else None
