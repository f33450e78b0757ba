"""The categorical cross-entropy against integer labels as two nodes, forward and backward.

``-mean(log_softmax(x)[arange(n), y])`` and its gradient reach the compiler as an advanced
index with a row range, and as LogSoftmax's backward over a zero matrix incremented at
``(arange(n), y)``: with the shape nodes the zeros need, some twenty Python-level nodes
for a few thousand numbers, each of which, in a training step, runs after a large
product has pushed its code and data out of the cache. The rules in
``rewriting/onehot_grad.py`` replace them by these ops, whose ``perform`` is the
composition they replace and whose fast paths are single C passes (``ckernels/onehot``).
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable

_PAIR = ("a", "a")   # the advanced-index spec of x[rows, labels]


def is_int_vector(v):
    """Whether the variable ``v`` is a vector of integers (rows or labels here)."""
    return v.ndim == 1 and np.dtype(v.dtype).kind in "iu"


def _int_vector(op, name, v):
    if not is_int_vector(v):
        raise TypeError(f"{op}: {name} must be a vector of integers, got {v.type}")


class _Aranges:
    """``np.arange(m)`` for the row counts seen, made once each (int64, read-only)."""

    def __init__(self):
        self._cache = {}

    def __call__(self, m):
        a = self._cache.get(m)
        if a is None:
            a = np.arange(m)
            a.flags.writeable = False
            self._cache[m] = a
        return a


class LogSoftmaxOneHotGrad(Op):
    """The gradient of ``log_softmax(x, axis=1)`` when the output's gradient is zero except
    ``values[i]`` at ``(rows[i], labels[i])``: the backward pass of a categorical
    cross-entropy against integer labels.

    Its meaning is the composition it replaces (rule ``local_log_softmax_onehot_grad``):
    ``G - G.sum(axis=1, keepdims=True) * exp(logsm)`` with ``G = zeros_like(logsm)``
    incremented at those positions (advanced ``IncSubtensor``: repeated positions
    accumulate), and that is what ``perform`` computes. Inputs ``(values, logsm, rows,
    labels)``; with ``label_rows`` the rows are ``arange(len(labels))`` and not an input
    (rule ``local_onehot_grad_label_rows``). The fast path covers rows ``0..n-1``: row ``i``
    is ``-values[i] * exp(logsm[i])`` plus ``values[i]`` at its label, the composition's
    values bit for bit (its row sum of one nonzero is that value exactly).
    """

    __props__ = ("label_rows",)

    def __init__(self, label_rows=False):
        self.label_rows = bool(label_rows)

    def make_node(self, values, logsm, *indices):
        values, logsm = as_tensor_variable(values), as_tensor_variable(logsm)
        indices = [as_tensor_variable(i) for i in indices]
        if len(indices) != (1 if self.label_rows else 2):
            raise TypeError(f"{self} takes values, logsm, " +
                            ("labels" if self.label_rows else "rows, labels") +
                            f"; got {2 + len(indices)} inputs")
        if logsm.ndim != 2 or values.ndim > 1:
            raise TypeError(f"{self} expects a matrix logsm and a vector of values; got "
                            f"{logsm.type} and {values.type}")
        for name, v in zip(("labels",) if self.label_rows else ("rows", "labels"), indices):
            _int_vector(self, name, v)
        return Apply(self, [values, logsm] + indices, [logsm.type()])

    def _rows_labels(self, inputs, aranges=np.arange):
        if self.label_rows:
            return aranges(len(inputs[2])), inputs[2]
        return inputs[2], inputs[3]

    def _incremented_zeros(self, node, values, logsm, rows, labels):
        from verigraph.tensor.subtensor import IncSubtensor
        zeros = np.zeros(logsm.shape, dtype=node.outputs[0].dtype)
        return IncSubtensor(_PAIR)._apply(zeros, values, [rows, labels],
                                          node.inputs[0].type.shape)

    def perform(self, node, inputs, output_storage):
        values, logsm = inputs[:2]
        g = self._incremented_zeros(node, values, logsm, *self._rows_labels(inputs))
        output_storage[0][0] = g - g.sum(axis=1, keepdims=True) * np.exp(logsm)

    def make_fast_fn(self, node):
        dtype = np.dtype(node.outputs[0].dtype)
        incremented_zeros = self._incremented_zeros
        rows_labels = self._rows_labels
        aranges = _Aranges()

        def general(values, logsm, rows, labels):
            g = incremented_zeros(node, values, logsm, rows, labels)
            e = np.exp(logsm)
            e *= g.sum(axis=1, keepdims=True)
            return np.subtract(g, e, out=g)

        def fn(*inputs):
            values, logsm = inputs[:2]
            rows, labels = rows_labels(inputs, aranges)
            n = logsm.shape[0]
            arange = aranges(n)
            if (rows.shape != (n,) or labels.shape != (n,) or values.shape != (n,)
                    or values.dtype != dtype or logsm.dtype != dtype
                    or not (rows is arange or np.array_equal(rows, arange))):
                return general(values, logsm, rows, labels)
            out = np.exp(logsm)
            out *= -values[:, None]
            try:
                out[arange, labels] += values
            except IndexError:
                return general(values, logsm, rows, labels)  # raises the increment's error
            return out
        from verigraph.link.ckernels import onehot
        return onehot.grad_fast_fn(node, fn)

    def infer_shape(self, node, shapes):
        return [shapes[1]]


class PickLabels(Op):
    """``x[arange(len(labels)), labels]`` of a matrix ``x``: one entry per row, the row's
    label column (rule ``local_pick_labels``; the cross-entropy's forward pick).

    ``perform`` is that advanced index, with its errors (a label out of range, more labels
    than rows). The fast path is one C pass once the node is hot (``ckernels/onehot``).
    No ``infer_shape``: like the advanced index it stands for, its length is read from
    the value, so a shape query never answers for a pick that would fail.
    """

    __props__ = ()

    def make_node(self, x, labels):
        x, labels = as_tensor_variable(x), as_tensor_variable(labels)
        if x.ndim != 2:
            raise TypeError(f"{self} expects a matrix, got {x.type}")
        _int_vector(self, "labels", labels)
        return Apply(self, [x, labels], [TensorType(x.dtype, labels.type.shape)()])

    def perform(self, node, inputs, output_storage):
        x, labels = inputs
        output_storage[0][0] = np.array(_pick(x, np.arange(len(labels)), labels))

    def make_fast_fn(self, node):
        aranges = _Aranges()

        def fn(x, labels):
            return _pick(x, aranges(len(labels)), labels)
        from verigraph.link.ckernels import onehot
        return onehot.pick_fast_fn(node, fn)


def _pick(x, rows, labels):
    try:
        return x[rows, labels]
    except IndexError as exc:
        from verigraph.tensor.subtensor import _index_error
        _index_error(x, (rows, np.asarray(labels)), exc)
