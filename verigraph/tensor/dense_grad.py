"""``NarrowTanhGrad``: the backward pass through a narrow layer into a tanh layer, one node.

For ``h = tanh(...)`` and ``z = h @ w2 + b2`` with few columns, ``grad`` produces
``(gz @ w2.T) * (1 - sqr(h))`` (the gradient at the tanh's input) and ``h.T @ gz`` (``w2``'s
gradient, usually folded into the SGD update's GEMM). The rule
``local_narrow_tanh_grad`` (``rewriting/dense.py``) makes them one node whose C loop
(``link/ckernels/dense_backward``) reads ``h`` once instead of twice and never stores
``gz @ w2.T``; in a training step ``h`` comes back from memory for each reader.

``perform`` is the graph's own composition (``np.dot``, ``1 - h * h``, the product), bit
for bit what the reference evaluator computes for the replaced nodes.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.blas import Dot
from verigraph.tensor.dense import float_operands
from verigraph.tensor.guards import carry_guard
from verigraph.tensor.type import TensorType


def _check(gz, w2, h):
    Dot.check(gz, w2.T)
    if h.shape != (gz.shape[0], w2.shape[0]):
        raise ShapeMismatchError(
            f"mul: the hidden activations have shape {h.shape} for a gradient of shape "
            f"{(gz.shape[0], w2.shape[0])}", op="Elemwise{mul}",
            input_shapes=[(gz.shape[0], w2.shape[0]), h.shape])


def _composition(gz, w2, h, dtype, column_sums=False):
    """What the replaced nodes compute: ``(gz @ w2.T) * (1 - h * h)``, ``h.T @ gz`` and
    (``column_sums``) the first's ``sum(axis=0)``."""
    _check(gz, w2, h)
    one = np.asarray(1, dtype)
    gpre = np.asarray(np.asarray(np.dot(gz, w2.T), dtype) * (one - np.square(h)), dtype)
    out = [gpre, np.asarray(np.dot(h.T, gz), dtype)]
    if column_sums:
        out.append(np.add.reduce(gpre, axis=0, dtype=dtype))
    return out


class NarrowTanhGrad(Op):
    """``((gz @ w2.T) * (1 - h ** 2), h.T @ gz)`` for matrices ``gz`` (m, n2), ``w2`` (k, n2)
    and ``h`` (m, k) of one float dtype; with ``column_sums`` a third output, the first's
    ``sum(axis=0)`` (the tanh layer's bias gradient), summed in the same pass."""

    __props__ = ("column_sums",)

    def __init__(self, column_sums=False):
        self.column_sums = bool(column_sums)

    def make_node(self, gz, w2, h):
        gz, w2, h = float_operands(self, (gz, w2, h), (2, 2, 2), "three matrices")
        gpre = TensorType(h.dtype, (gz.type.shape[0], w2.type.shape[0]))()
        gw2 = TensorType(h.dtype, (w2.type.shape[0], gz.type.shape[1]))()
        extra = [TensorType(h.dtype, (w2.type.shape[0],))()] if self.column_sums else []
        return Apply(self, [gz, w2, h], [gpre, gw2] + extra)

    def perform(self, node, inputs, output_storage):
        gz, w2, h = (np.asarray(v) for v in inputs)
        for store, value in zip(output_storage, _composition(
                gz, w2, h, node.outputs[0].dtype, self.column_sums)):
            store[0] = value

    def make_fast_fn(self, node):
        from verigraph.link import ckernels
        from verigraph.link.ckernels import dense, dense_backward, skinny
        dtype = np.dtype(node.outputs[0].dtype)
        sums = self.column_sums
        n_out = len(node.outputs)

        def composed(gz, w2, h):
            return _composition(gz, w2, h, dtype, sums)
        if not ckernels.enabled():
            return composed
        pool = ckernels._OutputPool()
        label = f"{self} (built at {getattr(node, 'source', '?')})"
        checks = [skinny.Checked(label, dtype.name, node, what="C tanh backward loop",
                                 library=dense._library, output=k) for k in range(n_out)]
        looped = [False]

        def fn(gz, w2, h):
            c = dense_backward.entry(gz, w2, h)
            looped[0] = c is not None and all(check.state != "off" for check in checks)
            if not looped[0]:
                return composed(gz, w2, h)
            m, k = h.shape
            out = pool.empty((m, k), dtype, h.ctypes.data, m * k)
            got = dense_backward.call(c, gz, w2, h, out, column_sums=sums)
            if got is None:
                return composed(gz, w2, h)
            if all(check.state == "on" for check in checks):
                return list(got)
            # The first C call: each output against the composition, allowing a reordered
            # sum's rounding (checks/rounding, through this node).
            want = composed(gz, w2, h)
            results = [checks[k_out].run(lambda k_out=k_out: np.array(got[k_out]),
                                         lambda k_out=k_out: want[k_out], (gz, w2, h))
                       for k_out in range(n_out)]
            return want if any(check.state == "off" for check in checks) else results

        def describe():
            off = [check for check in checks if check.state == "off"]
            if off:
                return off[0].describe()
            return checks[0].describe() if looped[0] else None
        fn.describe_kernel = describe
        return fn

    def infer_shape(self, node, shapes):
        sgz, sw2, sh = shapes
        gz, w2, h = node.inputs
        rows = carry_guard(sgz[0], "Dot", "inner dimensions must agree", [sgz[1], sw2[1]],
                           [f"{gz}.shape[1]", f"{w2}.shape[1]"])
        rows = carry_guard(rows, "Elemwise{mul}", "h must match the gradient's rows",
                           [sgz[0], sh[0]], [f"{gz}.shape[0]", f"{h}.shape[0]"])
        cols = carry_guard(sw2[0], "Elemwise{mul}", "h must match w2's rows",
                           [sw2[0], sh[1]], [f"{w2}.shape[0]", f"{h}.shape[1]"])
        return [(rows, cols), (cols, sgz[1])] + ([(cols,)] if self.column_sums else [])
