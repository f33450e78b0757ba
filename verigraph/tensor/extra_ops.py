"""``tensor.extra_ops``: cumsum/cumprod (CumOp), repeat (Repeat), bincount (BinCount), diff, ...

Only the operations with no convenient composition are Ops; ``diff``, ``fill_diagonal`` and
``squeeze`` are built from indexing and DimShuffle, so their shapes and gradients come from
those Ops. Theano code imports these from ``theano.tensor.extra_ops``.
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant


def _api():
    from verigraph.tensor import api
    return api


def _zero_grad(x):
    # Integer inputs (indices, counts) get a zero gradient that still depends on them.
    from verigraph.gradient import connected_zeros
    return connected_zeros(x, x.dtype if np.dtype(x.dtype).kind in "fc" else "float64")


def _check_axis(fname, x, axis):
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{fname}: axis {axis} out of range for the {x.ndim}-d tensor {x}")
    return axis % x.ndim


def _along(ndim, axis, index):
    # An index tuple that applies ``index`` on ``axis`` and takes everything elsewhere.
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


class CumOp(Op):
    """Running sum (``mode='add'``) or product (``mode='mul'``) along ``axis``, as NumPy."""

    __props__ = ("axis", "mode")

    def __init__(self, axis, mode="add"):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis = int(axis)
        self.mode = mode

    def _fn(self):
        return np.cumsum if self.mode == "add" else np.cumprod

    def make_node(self, x):
        x = as_tensor_variable(x)
        _check_axis(f"cum{'sum' if self.mode == 'add' else 'prod'}", x, self.axis)
        # NumPy widens small integers and bools to the platform integer: follow it.
        dtype = str(self._fn()(np.zeros((1,), x.dtype)).dtype)
        return Apply(self, [x], [TensorType(dtype, x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(self._fn()(inputs[0], axis=self.axis),
                                          dtype=node.outputs[0].dtype)

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def L_op(self, inputs, outputs, gouts):
        x, gz = inputs[0], gouts[0]
        if np.dtype(x.dtype).kind not in "fc":
            return [_zero_grad(x)]
        rev = _along(x.ndim, self.axis, slice(None, None, -1))
        if self.mode == "add":
            # d out[j] / d x[i] = 1 for j >= i: a reversed running sum of gz.
            return [CumOp(self.axis, "add")(gz[rev])[rev]]
        # d out[j] / d x[i] = out[j] / x[i] for j >= i; like Theano, undefined where x == 0.
        return [CumOp(self.axis, "add")((outputs[0] * gz)[rev])[rev] / x]


def _cum(mode, x, axis):
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = _api().flatten(x), 0
    return CumOp(_check_axis(f"cum{'sum' if mode == 'add' else 'prod'}", x, axis), mode)(x)


def cumsum(x, axis=None):
    """Running sum along ``axis`` (``None``: of the flattened tensor), as ``np.cumsum``."""
    return _cum("add", x, axis)


def cumprod(x, axis=None):
    """Running product along ``axis`` (``None``: of the flattened tensor), as ``np.cumprod``.

    The gradient divides by ``x`` (as Theano's does), so it is not defined where ``x`` is 0.
    """
    return _cum("mul", x, axis)


class Repeat(Op):
    """``np.repeat(x, repeats, axis)``: ``repeats`` is an int scalar or an int vector."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = int(axis)

    def make_node(self, x, repeats):
        x, repeats = as_tensor_variable(x), as_tensor_variable(repeats)
        _check_axis("repeat", x, self.axis)
        if repeats.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32") \
                or repeats.ndim > 1:
            raise TypeError(f"repeat: repeats must be an integer scalar or vector, got "
                            f"{repeats.type}")
        shape = list(x.type.shape)
        shape[self.axis] = None
        return Apply(self, [x, repeats], [TensorType(x.dtype, tuple(shape))()])

    def perform(self, node, inputs, output_storage):
        x, repeats = inputs
        if repeats.ndim == 1 and repeats.shape[0] != x.shape[self.axis]:
            raise ShapeMismatchError(
                f"Repeat: expected {x.shape[self.axis]} repeat counts (x.shape[{self.axis}]), "
                f"got {repeats.shape[0]}", op="Repeat", input_shapes=[x.shape, repeats.shape])
        if np.any(repeats < 0):
            raise ValueError(f"Repeat: repeat counts must be >= 0, got {repeats}")
        output_storage[0][0] = np.repeat(x, repeats, axis=self.axis)

    def infer_shape(self, node, shapes):
        x, repeats = node.inputs
        out = list(shapes[0])
        n = repeats * out[self.axis] if repeats.ndim == 0 else _api().sum(repeats)
        out[self.axis] = _api().cast(n, "int64")
        return [tuple(out)]

    def L_op(self, inputs, outputs, gouts):
        x, repeats = inputs
        api = _api()
        # Output position j came from input position idx[j]: scatter-add gz back through idx.
        n = api.shape_i(x, self.axis)
        idx = Repeat(0)(api.arange(n), repeats)
        gx = api.inc_subtensor(api.zeros_like(x, dtype=gouts[0].dtype)[_along(x.ndim, self.axis,
                                                                                 idx)], gouts[0])
        return [gx, _zero_grad(repeats)]


def repeat(x, repeats, axis=None):
    """Repeat the entries of ``x`` along ``axis`` (``None``: of the flattened tensor)."""
    x = as_tensor_variable(x)
    if axis is None:
        x, axis = _api().flatten(x), 0
    if isinstance(repeats, (int, np.integer, list, tuple, np.ndarray)):
        repeats = constant(np.asarray(repeats, dtype="int64"))
    return Repeat(_check_axis("repeat", x, axis))(x, repeats)


class BinCount(Op):
    """``np.bincount(x, weights, minlength)`` of a non-negative int vector."""

    __props__ = ("minlength", "weighted")

    def __init__(self, minlength=0, weighted=False):
        self.minlength = int(minlength or 0)
        self.weighted = bool(weighted)

    def make_node(self, x, *weights):
        x = as_tensor_variable(x)
        if x.ndim != 1 or np.dtype(x.dtype).kind not in "iu":
            raise TypeError(f"bincount: x must be an integer vector, got {x.type}")
        if len(weights) != int(self.weighted):
            raise TypeError(f"bincount: expected {int(self.weighted)} weights input(s), got "
                            f"{len(weights)}")
        inputs = [x] + [as_tensor_variable(w) for w in weights]
        if self.weighted and inputs[1].ndim != 1:
            raise TypeError(f"bincount: weights must be a vector, got {inputs[1].type}")
        dtype = "float64" if self.weighted else "int64"
        return Apply(self, inputs, [TensorType(dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        w = inputs[1] if self.weighted else None
        if x.size and x.min() < 0:
            raise ValueError(f"bincount: x must be non-negative, got minimum {x.min()}")
        if w is not None and w.shape != x.shape:
            raise ShapeMismatchError(f"BinCount: weights of shape {w.shape} do not match x of "
                                     f"shape {x.shape}", op="BinCount",
                                     input_shapes=[x.shape, w.shape])
        output_storage[0][0] = np.bincount(x, w, self.minlength).astype(node.outputs[0].dtype)

    def L_op(self, inputs, outputs, gouts):
        grads = [_zero_grad(inputs[0])]
        if self.weighted:
            # Bin x[i] received weight i: its gradient is the bin's output gradient.
            grads.append(_api().cast(gouts[0][inputs[0]], inputs[1].dtype))
        return grads


def bincount(x, weights=None, minlength=None, assert_nonneg=False):
    """Number of occurrences (or summed ``weights``) of each value in the int vector ``x``.

    Negative values are always an error at run time (``assert_nonneg`` is accepted for Theano).
    """
    if weights is None:
        return BinCount(minlength)(x)
    return BinCount(minlength, weighted=True)(x, weights)


def diff(x, n=1, axis=-1):
    """``n``-th discrete difference along ``axis``, as ``np.diff``."""
    x = as_tensor_variable(x)
    axis = _check_axis("diff", x, axis)
    if n < 0:
        raise ValueError(f"diff: order n must be >= 0, got {n}")
    for _ in range(n):
        x = x[_along(x.ndim, axis, slice(1, None))] - x[_along(x.ndim, axis, slice(None, -1))]
    return x


def fill_diagonal(a, val):
    """``a`` with ``a[i, i, ..., i] = val`` for every ``i`` below the smallest axis size.

    That is ``np.fill_diagonal`` for matrices (rectangular too) and for n-d tensors with equal
    sizes; ``val`` is a scalar.
    """
    api = _api()
    a, val = as_tensor_variable(a), as_tensor_variable(val)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: a must have at least 2 dimensions, got {a.type}")
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal: val must be a scalar, got {val.type}")
    n = api.shape_i(a, 0)
    for d in range(1, a.ndim):
        n = api.minimum(n, api.shape_i(a, d))
    i = api.arange(n)
    return api.set_subtensor(a[(i,) * a.ndim], api.cast(val, a.dtype))


def squeeze(x, axis=None):
    """Drop the static size-1 axes (or just ``axis``; those are checked to be 1 at run time)."""
    return _api().squeeze(x, axis)


__all__ = ["CumOp", "Repeat", "BinCount", "cumsum", "cumprod", "repeat", "bincount", "diff",
           "fill_diagonal", "squeeze"]
