"""Reductions over axes (sum, prod, max, min, all, any) and argmax/argmin."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


def normalize_axis(axis, ndim, what="axis"):
    """Tuple of sorted non-negative axes (all axes for None), with a clear error when out of range."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        if hasattr(a, "owner") or hasattr(a, "type"):
            from verigraph.graph.basic import Constant
            if not isinstance(a, Constant):
                raise TypeError(f"{what} must be a Python int, not the symbolic {a}")
            a = int(a.data)
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{what} {a} is out of range for a {ndim}-d tensor")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{what} {tuple(axis)} repeats an axis")
    return tuple(sorted(out)) if ndim else ()


# kind: (NumPy reduction, output dtype rule)
REDUCTIONS = {
    "sum": (np.sum, "acc"),
    "prod": (np.prod, "acc"),
    "max": (np.max, "same"),
    "min": (np.min, "same"),
    "all": (np.all, "bool"),
    "any": (np.any, "bool"),
}


class Reduce(Op):
    """Reduce over ``axis`` (a sorted tuple) with the table's NumPy function; axes are removed."""

    __props__ = ("kind", "axis", "dtype")

    def __init__(self, kind, axis, dtype=None):
        if kind not in REDUCTIONS:
            raise ValueError(f"unknown reduction {kind!r}; known: {sorted(REDUCTIONS)}")
        self.kind, self.axis, self.dtype = kind, tuple(axis), dtype

    def __str__(self):
        return f"{self.kind.capitalize()}{{axis={list(self.axis)}}}"

    def out_dtype(self, in_dtype):
        """Result dtype: sum/prod accumulate like NumPy (ints widen), max/min keep, all/any bool."""
        if self.dtype is not None:
            return self.dtype
        rule = REDUCTIONS[self.kind][1]
        if rule == "bool":
            return "bool"
        if rule == "same":
            return in_dtype
        return str(np.sum(np.zeros(1, in_dtype)).dtype)

    def make_node(self, x):
        x = as_tensor_variable(x)
        for a in self.axis:
            if a >= x.ndim:
                raise ValueError(f"{self}: axis {a} out of range for {x.ndim}-d input {x}")
        shape = tuple(s for d, s in enumerate(x.type.shape) if d not in self.axis)
        return Apply(self, [x], [TensorType(self.out_dtype(x.dtype), shape)()])

    def _compute(self, x, dtype):
        fn = REDUCTIONS[self.kind][0]
        if self.kind in ("max", "min"):
            for a in self.axis:
                if x.shape[a] == 0:
                    raise ValueError(f"{self}: cannot take the {self.kind} over axis {a} of "
                                     f"size 0 (input shape {x.shape})")
        kw = {"dtype": dtype} if self.kind in ("sum", "prod") else {}
        return fn(x, axis=self.axis, **kw)

    def perform(self, node, inputs, output_storage):
        dtype = node.outputs[0].dtype
        res = self._compute(np.asarray(inputs[0]), dtype)
        output_storage[0][0] = np.array(res, dtype=dtype)

    def make_fast_fn(self, node):
        dtype = node.outputs[0].dtype
        compute = self._compute
        if self.kind in ("sum", "prod"):
            # The ufunc's reduce directly: np.sum's dispatch and keyword handling cost
            # ~3 us a call, as much as summing a few hundred values.
            fn = (np.add if self.kind == "sum" else np.multiply).reduce
            axis, dt = self.axis, np.dtype(dtype)

            def reduce_(x):
                return fn(x, axis=axis, dtype=dt)
            return reduce_
        return lambda x: compute(x, dtype)

    def infer_shape(self, node, shapes):
        return [tuple(s for d, s in enumerate(shapes[0]) if d not in self.axis)]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, = inputs
        gz = gouts[0]
        if self.kind in ("all", "any") or np.dtype(x.dtype).kind not in "fc":
            return [api.zeros_like(x, dtype=x.dtype if np.dtype(x.dtype).kind in "fc" else "float64")]
        gz_ds = api.expand_reduced(gz, x.ndim, self.axis)
        if self.kind == "sum":
            return [api.cast(api.second(x, gz_ds), x.dtype)]
        if self.kind == "prod":
            # d prod / d x_i = product of the other entries. out / x_i is that only where
            # x_i != 0; with one zero in a group only that entry gets the product of the
            # non-zeros, and with two or more zeros every entry gets 0.
            zero = api.eq(x, 0)
            safe_x = api.switch(zero, 1, x)
            n_zero = api.sum(api.cast(zero, "int64"), axis=self.axis, keepdims=True)
            prod_nz = api.prod(safe_x, axis=self.axis, keepdims=True)
            others = api.switch(api.eq(n_zero, 0), prod_nz / safe_x,
                                api.switch(api.and_(api.eq(n_zero, 1), zero), prod_nz, 0))
            return [api.cast(gz_ds * others, x.dtype)]
        out_ds = api.expand_reduced(outputs[0], x.ndim, self.axis)
        # max / min: the gradient flows to every position equal to the extremum.
        return [api.cast(gz_ds * api.eq(x, out_ds), x.dtype)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        if self.kind == "sum":
            return [self(eval_points[0])]
        raise NotImplementedError


class ArgReduce(Op):
    """Index of the max or min along one axis (``axis=None``: over the flattened input)."""

    __props__ = ("kind", "axis")

    def __init__(self, kind, axis):
        self.kind, self.axis = kind, axis

    def make_node(self, x):
        x = as_tensor_variable(x)
        shape = () if self.axis is None else tuple(
            s for d, s in enumerate(x.type.shape) if d != self.axis)
        return Apply(self, [x], [TensorType("int64", shape)()])

    def perform(self, node, inputs, output_storage):
        x = np.asarray(inputs[0])
        # Only a length-0 reduced axis has no answer; other axes may be empty (NumPy agrees).
        if x.size == 0 if self.axis is None else x.shape[self.axis] == 0:
            raise ValueError(f"{self}: input of shape {x.shape} has no {self.kind} along "
                             f"{'any axis' if self.axis is None else f'axis {self.axis}'}")
        fn = np.argmax if self.kind == "argmax" else np.argmin
        output_storage[0][0] = np.asarray(fn(x, axis=self.axis), dtype="int64")

    def infer_shape(self, node, shapes):
        if self.axis is None:
            return [()]
        return [tuple(s for d, s in enumerate(shapes[0]) if d != self.axis)]

    def grad(self, inputs, gouts):
        from verigraph.tensor import api
        return [api.zeros_like(inputs[0], dtype="float64")]
