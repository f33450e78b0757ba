"""Fusion: trees of elementwise nodes become one FusedElemwise node.

A node joins its client's tree when its output has exactly that one consumer, the
client is a plain Elemwise too, and the output broadcasts like the tree's root (so
every intermediate has the root's shape and the kernel can reuse buffers). Where fused
kernels run in C, a cheap one-step node (add, sub, mul, neg) with several elementwise
consumers joins every one of them and is recomputed in each (``_recomputed``). Leaves
(inputs of the tree) are deduplicated. A lone 0-d float arithmetic node is also
"fused" (one step): the fused kernel runs it on NumPy scalars, far cheaper than a ufunc.
"""
from __future__ import annotations

import numpy as np

from verigraph.rewriting.db import node_rule
from verigraph.rewriting.patterns import single_consumer
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.fused import SCALAR_OPERATORS, FusedElemwise, has_fast_kernel


# Deeper trees are cut into several kernels (the walk is recursive).
MAX_DEPTH = 128


def _plain(node):
    return node is not None and type(node.op) is Elemwise and not node.op.inplace_pattern


def _pattern(var):
    return tuple(s == 1 for s in var.type.shape)


# One-step arithmetic cheap enough to recompute inside every consumer's kernel rather than
# store and read back (a few flops per element against a pass over memory, and one node
# call less per consumer on small arrays).
CHEAP = {"add", "sub", "mul", "neg"}


def _absorbable(fgraph, var, pattern):
    """Whether ``var``'s owner can be computed inside its client's fused kernel."""
    return _plain(var.owner) and _pattern(var) == pattern and (
        single_consumer(fgraph, var) is not None or _recomputed(fgraph, var))


def _recomputed(fgraph, var):
    """Whether ``var`` (several consumers) is recomputed inside each consumer's kernel.

    Only where the kernels run in C (``ckernels.small`` / large path): there recomputing
    ``a + b`` costs a few instructions per element, while on NumPy it would be a whole
    extra ufunc call per consumer. Every consumer must be a plain elementwise node of the
    same broadcast pattern (so each one fuses it) and ``var`` no output of the function.
    """
    node = var.owner
    if node.op.scalar_op.name not in CHEAP or len(node.inputs) > 2 or not _c_kernels():
        return False
    clients = fgraph.clients.get(var, ())
    if len(clients) < 2:
        return False
    pattern = _pattern(var)
    return all(not isinstance(c, str) and _plain(c) and _pattern(c.outputs[0]) == pattern
               for c, _ in clients)


def _c_kernels():
    from verigraph.link import ckernels
    from verigraph.link.ckernels import trampoline
    return ckernels.can_compile() and trampoline._flags() is not None


def _lone_row_wins(name, in_dtypes, dtype):
    from verigraph.link import ckernels
    return ckernels.lone_row_wins(name, in_dtypes, dtype)


def _is_absorbed(fgraph, node):
    """Whether ``node`` will be fused into its clients' trees (so it is not a root)."""
    out = node.outputs[0]
    client = single_consumer(fgraph, out)
    if client is not None:
        return _plain(client) and _pattern(out) == _pattern(client.outputs[0])
    return _plain(node) and _recomputed(fgraph, out)


def _check_dims(node):
    """Elemwise's run-time shape checks, which a one-step kernel does more cheaply."""
    return [idx for _, idx in node.op.runtime_check_dims(node)]


def collect_tree(fgraph, root):
    """(steps, leaves) of the elementwise tree rooted at ``root``, steps in dependency order."""
    pattern = _pattern(root.outputs[0])
    steps, leaves, leaf_index, step_of = [], [], {}, {}

    def ref(var, depth):
        if var in step_of:
            return ("s", step_of[var])
        if depth < MAX_DEPTH and var.owner is not None and var is not root.outputs[0] and \
                _absorbable(fgraph, var, pattern):
            visit(var.owner, depth + 1)
            return ("s", step_of[var])
        if var not in leaf_index:
            leaf_index[var] = len(leaves)
            leaves.append(var)
        return ("i", leaf_index[var])

    def visit(node, depth):
        sop = node.op.scalar_op
        refs = [ref(i, depth) for i in node.inputs]
        if len(refs) > sop.nin:
            # n-ary add/mul: fold left pair by pair, as the table's kernel does.
            dtypes = [i.dtype for i in node.inputs]
            acc, acc_dtype = refs[0], dtypes[0]
            for r, d in zip(refs[1:-1], dtypes[1:-1]):
                acc_dtype = sop.output_dtype([acc_dtype, d])
                steps.append((sop.name, (acc, r), acc_dtype))
                acc = ("s", len(steps) - 1)
            refs = [acc, refs[-1]]
        steps.append((sop.name, tuple(refs), node.outputs[0].dtype))
        step_of[node.outputs[0]] = len(steps) - 1

    visit(root, 0)
    return steps, leaves


@node_rule("elemwise_fusion", tracks=[Elemwise], tags=("fusion", "default"))
def elemwise_fusion(fgraph, node):
    """Replace the elementwise tree rooted at ``node`` by one FusedElemwise node."""
    if not _plain(node) or _is_absorbed(fgraph, node):
        return None
    steps, leaves = collect_tree(fgraph, node)
    out = node.outputs[0]
    if len(steps) == 1:
        name = steps[0][0]
        in_dtypes = [i.dtype for i in node.inputs]
        scalar_float = out.ndim == 0 and name in SCALAR_OPERATORS and \
            np.dtype(out.dtype).kind == "f" and all(d == out.dtype for d in in_dtypes)
        checked = any(len(idx) > 1 for idx in _check_dims(node))
        if not scalar_float and not (out.ndim > 0 and (
                checked or has_fast_kernel(name, in_dtypes, out.dtype)
                or _lone_row_wins(name, in_dtypes, out.dtype))):
            return None
    try:
        new_node = FusedElemwise(steps).make_node(*leaves)
    except TypeError:
        return None  # a partial n-ary sum broadcasting unlike the output: leave it unfused
    new_node.source = node.source
    new = new_node.outputs[0]
    if new.type != out.type:
        return None
    return new
