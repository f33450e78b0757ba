"""Join (concatenate along an axis) and Split, with shape agreement checked in every mode."""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.guards import guard_equal
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant


class Join(Op):
    """Concatenate tensors of equal ndim along ``axis``; other sizes must agree."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = int(axis)

    def __str__(self):
        return f"Join{{axis={self.axis}}}"

    def make_node(self, *tensors):
        if not tensors:
            raise TypeError("join needs at least one tensor")
        tensors = [as_tensor_variable(t) for t in tensors]
        nd = tensors[0].ndim
        if nd == 0:
            raise TypeError("join: cannot join 0-d tensors; use stack")
        for t in tensors:
            if t.ndim != nd:
                raise TypeError(f"join: all inputs must have the same number of dimensions, got "
                                f"{[t.ndim for t in tensors]}")
        if not 0 <= self.axis < nd:
            raise ValueError(f"join: axis {self.axis} out of range for {nd}-d inputs")
        dtype = str(np.result_type(*[t.dtype for t in tensors]))
        shape = []
        for d in range(nd):
            sizes = [t.type.shape[d] for t in tensors]
            if d == self.axis:
                shape.append(None if None in sizes else sum(sizes))
            else:
                known = {s for s in sizes if s is not None}
                if len(known) > 1:
                    raise ShapeMismatchError(
                        f"Join{{axis={self.axis}}}: inputs have static shapes "
                        f"{[t.type.shape for t in tensors]} that disagree on dimension {d}",
                        op=str(self), input_shapes=[t.type.shape for t in tensors])
                shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(dtype, shape)()])

    def check(self, values):
        """Raise ShapeMismatchError naming every shape when non-axis sizes differ."""
        shapes = [np.shape(v) for v in values]
        first = shapes[0]
        for s in shapes[1:]:
            if len(s) != len(first) or any(a != b for d, (a, b) in enumerate(zip(first, s))
                                           if d != self.axis):
                raise ShapeMismatchError(
                    f"Join{{axis={self.axis}}}: input shapes {', '.join(map(str, shapes))} "
                    f"must agree on every dimension except axis {self.axis}",
                    op=str(self), input_shapes=shapes,
                    input_dtypes=[str(np.asarray(v).dtype) for v in values])

    def perform(self, node, inputs, output_storage):
        self.check(inputs)
        output_storage[0][0] = np.concatenate(inputs, axis=self.axis).astype(
            node.outputs[0].dtype, copy=False)

    def make_fast_fn(self, node):
        axis, check, dtype = self.axis, self.check, node.outputs[0].dtype

        def fn(*xs):
            check(xs)
            return np.concatenate(xs, axis=axis, dtype=dtype)
        return fn

    def infer_shape(self, node, shapes):
        from verigraph.tensor import api
        out = []
        names = [str(t) for t in node.inputs]
        for d in range(node.outputs[0].ndim):
            dims = [s[d] for s in shapes]
            if d == self.axis:
                out.append(api.add(*dims) if len(dims) > 1 else dims[0])
            else:
                out.append(guard_equal(
                    str(self), f"inputs must agree on dimension {d} (every dimension but the "
                    f"join axis {self.axis})", dims, [f"{n}.shape[{d}]" for n in names]))
        return [tuple(out)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        gz = gouts[0]
        sizes = [api.shape_i(t, self.axis) for t in inputs]
        parts = Split(len(inputs), self.axis)(gz, api.stack(sizes)) if len(inputs) > 1 else [gz]
        if len(inputs) == 1:
            parts = [gz]
        out = []
        for t, p in zip(inputs, parts):
            if np.dtype(t.dtype).kind not in "fc":
                out.append(None)
                continue
            if p.type.shape != t.type.shape:
                p = api.specify_broadcastable(p, t.type.shape)
            out.append(api.cast(p, t.dtype))
        return out

    def R_op(self, inputs, eval_points):
        if any(e is None for e in eval_points):
            return [None]
        return [self(*eval_points)]


class Split(Op):
    """Split ``x`` along ``axis`` into ``n_splits`` pieces of the given sizes."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits, axis):
        self.n_splits, self.axis = int(n_splits), int(axis)

    def make_node(self, x, sizes):
        x = as_tensor_variable(x)
        sizes = as_tensor_variable(sizes)
        if sizes.ndim != 1 or np.dtype(sizes.dtype).kind not in "iu":
            raise TypeError(f"split: sizes must be an int vector, got {sizes.type}")
        outs = [TensorType(x.dtype, tuple(None if d == self.axis else s
                                          for d, s in enumerate(x.type.shape)))()
                for _ in range(self.n_splits)]
        return Apply(self, [x, sizes], outs)

    def perform(self, node, inputs, output_storage):
        x, sizes = inputs
        sizes = [int(s) for s in sizes]
        if len(sizes) != self.n_splits or sum(sizes) != x.shape[self.axis] or min(sizes) < 0:
            raise ShapeMismatchError(
                f"Split: sizes {sizes} do not add up to {x.shape[self.axis]} (axis {self.axis} of "
                f"input shape {x.shape}) in {self.n_splits} parts", op=str(self),
                input_shapes=[x.shape])
        parts = np.split(x, np.cumsum(sizes)[:-1], axis=self.axis)
        for st, p in zip(output_storage, parts):
            st[0] = p.copy()

    def infer_shape(self, node, shapes):
        from verigraph.tensor import api
        x_shape = shapes[0]
        return [tuple(api.getitem(node.inputs[1], k) if d == self.axis else x_shape[d]
                      for d in range(len(x_shape))) for k in range(self.n_splits)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, sizes = inputs
        gs = [g if g is not None else api.zeros_like(o) for g, o in zip(gouts, outputs)]
        return [Join(self.axis)(*gs), None]


def join(axis, *tensors):
    """Concatenate ``tensors`` along ``axis`` (Theano argument order)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if hasattr(axis, "type"):
        from verigraph.graph.basic import Constant
        if not isinstance(axis, Constant):
            raise TypeError("join: axis must be a Python int or a constant")
        axis = int(axis.data)
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise TypeError("join needs at least one tensor")
    if axis < 0:
        axis += tensors[0].ndim
    return Join(axis)(*tensors)


def concatenate(tensor_list, axis=0):
    """NumPy-style concatenate."""
    return join(axis, *tensor_list)


def split(x, splits_size, n_splits, axis=0):
    """Split ``x`` along ``axis`` into ``n_splits`` parts of sizes ``splits_size``."""
    x = as_tensor_variable(x)
    if axis < 0:
        axis += x.ndim
    from verigraph.tensor.shape import as_shape_vector
    return Split(n_splits, axis)(x, as_shape_vector(splits_size))


def stack(tensors, axis=0):
    """Stack equal-shaped tensors along a new axis."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError("stack takes a list of tensors")
    from verigraph.tensor import api
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise TypeError("stack needs at least one tensor")
    nd = tensors[0].ndim
    if axis < 0:
        axis += nd + 1
    pattern = list(range(nd))
    pattern.insert(axis, "x")
    expanded = [api.dimshuffle(t, pattern) for t in tensors]
    return Join(axis)(*expanded)


__all__ = ["Join", "Split", "join", "concatenate", "split", "stack", "constant"]
