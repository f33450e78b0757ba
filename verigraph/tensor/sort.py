"""Sorting and searching: Sort, ArgSort, Nonzero (and the gradient helper of Sort)."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


def _zero_grad(x):
    # Index outputs do not vary smoothly with x: a zero gradient that still depends on x.
    from verigraph.gradient import connected_zeros
    return connected_zeros(x, x.dtype if np.dtype(x.dtype).kind in "fc" else "float64")


def _axis(x, axis):
    if x.ndim == 0:
        raise TypeError(f"cannot sort the 0-d tensor {x}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"sort: axis {axis} out of range for a {x.ndim}-d tensor")
    return axis % x.ndim


class Sort(Op):
    """``np.sort`` along ``axis`` (stable, so equal values keep their order)."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind="stable")

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def L_op(self, inputs, outputs, gouts):
        return [UnsortGrad(self.axis)(inputs[0], gouts[0])]


class UnsortGrad(Op):
    """Scatter ``gz`` (in sorted order) back to the positions the sort took values from."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def make_node(self, x, gz):
        x, gz = as_tensor_variable(x), as_tensor_variable(gz)
        return Apply(self, [x, gz], [gz.type()])

    def perform(self, node, inputs, output_storage):
        x, gz = inputs
        order = np.argsort(x, axis=self.axis, kind="stable")
        out = np.zeros_like(gz)
        np.put_along_axis(out, order, gz, axis=self.axis)
        output_storage[0][0] = out

    def infer_shape(self, node, shapes):
        return [shapes[1]]


class ArgSort(Op):
    """``np.argsort`` along ``axis`` (stable), int64 indices."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.argsort(inputs[0], axis=self.axis, kind="stable").astype("int64")

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, gouts):
        return [_zero_grad(inputs[0])]


class Nonzero(Op):
    """Indices of the nonzero entries: one int64 vector per dimension."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise TypeError("nonzero of a 0-d tensor is not defined; reshape it to 1-d first")
        return Apply(self, [x], [TensorType("int64", (None,))() for _ in range(x.ndim)])

    def perform(self, node, inputs, output_storage):
        for st, idx in zip(output_storage, np.nonzero(inputs[0])):
            st[0] = idx.astype("int64")

    def grad(self, inputs, gouts):
        return [_zero_grad(inputs[0])]


def sort(a, axis=-1):
    """Sorted copy of ``a`` along ``axis`` (``axis=None`` sorts the flattened tensor)."""
    a = as_tensor_variable(a)
    if axis is None:
        from verigraph.tensor.api import flatten
        a, axis = flatten(a), 0
    return Sort(_axis(a, axis))(a)


def argsort(a, axis=-1):
    """Indices that sort ``a`` along ``axis``."""
    a = as_tensor_variable(a)
    if axis is None:
        from verigraph.tensor.api import flatten
        a, axis = flatten(a), 0
    return ArgSort(_axis(a, axis))(a)


def nonzero(a, return_matrix=False):
    """Tuple of index vectors of the nonzero entries (``return_matrix``: stacked as rows)."""
    outs = Nonzero()(as_tensor_variable(a))
    outs = outs if isinstance(outs, list) else [outs]
    if return_matrix:
        from verigraph.tensor.join import stack
        return stack(outs)
    return tuple(outs)


def flatnonzero(a):
    """Indices of the nonzero entries of the flattened ``a``."""
    from verigraph.tensor.api import flatten
    return nonzero(flatten(as_tensor_variable(a)))[0]
