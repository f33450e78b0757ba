"""Broadcastable-pattern helpers: shape_pad*, addbroadcast, unbroadcast (Unbroadcast), patternbroadcast.

In verigraph an axis is broadcastable exactly when its static size is 1. Adding that fact is
``specify_shape`` (checked at run time); forgetting it is the ``Unbroadcast`` Op.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


def _api():
    from verigraph.tensor import api
    return api


def _axes(fname, x, axes):
    out = []
    for a in axes:
        if not -x.ndim <= int(a) < x.ndim:
            raise ValueError(f"{fname}: axis {a} out of range for the {x.ndim}-d {x}")
        out.append(int(a) % x.ndim)
    return tuple(sorted(set(out)))


class Unbroadcast(Op):
    """The input unchanged, with the static size of ``axes`` forgotten (no longer broadcastable)."""

    __props__ = ("axes",)
    view_map = {0: [0]}

    def __init__(self, axes):
        self.axes = tuple(sorted(set(int(a) for a in axes)))

    def make_node(self, x):
        x = as_tensor_variable(x)
        if any(not 0 <= a < x.ndim for a in self.axes):
            raise ValueError(f"unbroadcast: axes {self.axes} out of range for the {x.ndim}-d {x}")
        shape = tuple(None if d in self.axes else s for d, s in enumerate(x.type.shape))
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0])

    def make_fast_fn(self, node):
        def fn(x):
            return x
        return fn

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, gouts):
        x, gz = inputs[0], gouts[0]
        # Give the gradient x's static sizes back (it has x's run-time shape).
        return [_api().specify_shape(gz, x.type.shape) if gz.type.shape != x.type.shape else gz]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


def shape_padleft(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable axes prepended."""
    t = as_tensor_variable(t)
    return _api().dimshuffle(t, ("x",) * n_ones + tuple(range(t.ndim)))


def shape_padright(t, n_ones=1):
    """``t`` with ``n_ones`` broadcastable axes appended."""
    t = as_tensor_variable(t)
    return _api().dimshuffle(t, tuple(range(t.ndim)) + ("x",) * n_ones)


def shape_padaxis(t, axis):
    """``t`` with a broadcastable axis inserted at position ``axis`` (negative counts from the end)."""
    t = as_tensor_variable(t)
    if not -t.ndim - 1 <= axis <= t.ndim:
        raise IndexError(f"shape_padaxis: axis {axis} out of range for inserting into the "
                         f"{t.ndim}-d {t} (valid: {-t.ndim - 1}..{t.ndim})")
    axis = axis % (t.ndim + 1)
    pattern = list(range(t.ndim))
    pattern.insert(axis, "x")
    return _api().dimshuffle(t, pattern)


def addbroadcast(x, *axes):
    """``x`` with ``axes`` declared broadcastable (size 1, checked at run time)."""
    x = as_tensor_variable(x)
    axes = _axes("addbroadcast", x, axes)
    if all(x.type.shape[a] == 1 for a in axes):
        return x
    return _api().specify_shape(x, tuple(1 if d in axes else None for d in range(x.ndim)))


def unbroadcast(x, *axes):
    """``x`` with ``axes`` no longer broadcastable (their static size forgotten)."""
    x = as_tensor_variable(x)
    axes = tuple(a for a in _axes("unbroadcast", x, axes) if x.type.shape[a] == 1)
    return Unbroadcast(axes)(x) if axes else x


def patternbroadcast(x, broadcastable):
    """``x`` with exactly the broadcastable pattern ``broadcastable`` (one bool per axis)."""
    x = as_tensor_variable(x)
    broadcastable = tuple(bool(b) for b in broadcastable)
    if len(broadcastable) != x.ndim:
        raise ValueError(f"patternbroadcast: pattern {broadcastable} has {len(broadcastable)} "
                         f"entries for the {x.ndim}-d {x}")
    x = unbroadcast(x, *[d for d, b in enumerate(broadcastable) if not b and x.type.shape[d] == 1])
    return addbroadcast(x, *[d for d, b in enumerate(broadcastable) if b])


__all__ = ["Unbroadcast", "shape_padleft", "shape_padright", "shape_padaxis", "addbroadcast",
           "unbroadcast", "patternbroadcast"]
