"""Shape Ops: Shape, Shape_i, MakeVector, Reshape, SpecifyShape, Alloc, Eye, ARange."""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply, Constant
from verigraph.graph.op import Op
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable, constant


def _int_scalar(v, what):
    v = as_tensor_variable(v)
    if v.ndim != 0 or np.dtype(v.dtype).kind not in "iub":
        raise TypeError(f"{what} must be an integer scalar, got {v} of type {v.type}")
    return v


def _no_grad(inputs):
    from verigraph.gradient import grad_disconnected
    return [grad_disconnected(i) for i in inputs]


class Shape(Op):
    """The shape of a tensor as an int64 vector."""

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(np.shape(inputs[0]), dtype="int64")

    def make_fast_fn(self, node):
        return lambda x: np.asarray(np.shape(x), dtype="int64")

    def infer_shape(self, node, shapes):
        return [(constant(node.inputs[0].ndim, dtype="int64"),)]

    def grad(self, inputs, gouts):
        return _no_grad(inputs)


class Shape_i(Op):
    """The size of dimension ``i`` as an int64 scalar."""

    __props__ = ("i",)

    def __init__(self, i):
        self.i = int(i)

    def __str__(self):
        return f"Shape_i{{{self.i}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i{{{self.i}}}: {x} has only {x.ndim} dimensions")
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(np.shape(inputs[0])[self.i], dtype="int64")

    def make_fast_fn(self, node):
        i = self.i
        return lambda x: x.shape[i]

    def infer_shape(self, node, shapes):
        return [()]

    def grad(self, inputs, gouts):
        return _no_grad(inputs)


def shape_i(x, i):
    """Size of dimension ``i`` of ``x``: a constant when static, else ``Shape_i``."""
    x = as_tensor_variable(x)
    if x.type.shape[i] is not None:
        return constant(x.type.shape[i], dtype="int64")
    return Shape_i(i)(x)


class MakeVector(Op):
    """Build a vector from scalars."""

    __props__ = ("dtype",)

    def __init__(self, dtype="int64"):
        self.dtype = dtype

    def make_node(self, *scalars):
        scalars = [as_tensor_variable(s) for s in scalars]
        for s in scalars:
            if s.ndim != 0:
                raise TypeError(f"MakeVector takes scalars, got {s} with {s.ndim} dimensions")
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs, dtype=self.dtype).reshape(len(inputs))

    def make_fast_fn(self, node):
        dtype = self.dtype
        return lambda *xs: np.array(xs, dtype=dtype)

    def infer_shape(self, node, shapes):
        return [(constant(len(node.inputs), dtype="int64"),)]

    def grad(self, inputs, gouts):
        from verigraph.tensor import api
        return [api.getitem(gouts[0], k) if np.dtype(i.dtype).kind in "fc" else None
                for k, i in enumerate(inputs)]


def as_shape_vector(shape):
    """A symbolic int64 vector from a tuple of ints/scalars or a vector variable."""
    if hasattr(shape, "type"):
        v = as_tensor_variable(shape)
        if v.ndim != 1:
            raise TypeError(f"a shape must be a vector, got {v} with {v.ndim} dimensions")
        return v
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    entries = [_int_scalar(s, "shape entry") for s in shape]
    if all(isinstance(e, Constant) for e in entries):
        return constant(np.asarray([int(e.data) for e in entries], dtype="int64"))
    from verigraph.tensor import api
    return MakeVector("int64")(*[e if e.dtype == "int64" else api.cast(e, "int64") for e in entries])


def static_entries(vec, n):
    """Known ints of a shape vector (None where symbolic)."""
    if isinstance(vec, Constant):
        return [int(v) for v in np.asarray(vec.data).reshape(-1)]
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        return [int(i.data) if isinstance(i, Constant) else None for i in vec.owner.inputs]
    return [None] * n


def resolve_reshape(in_shape, new_shape):
    """Concrete target shape (resolving one -1), or ShapeMismatchError naming both shapes."""
    new_shape = [int(s) for s in new_shape]
    in_shape = tuple(int(s) for s in in_shape)
    size = int(np.prod(in_shape))
    if new_shape.count(-1) > 1:
        raise ShapeMismatchError(f"Reshape: target shape {tuple(new_shape)} has more than one -1",
                                 op="Reshape", input_shapes=[in_shape])
    if -1 in new_shape:
        rest = int(np.prod([s for s in new_shape if s != -1]))
        if rest == 0 or size % rest:
            raise ShapeMismatchError(
                f"Reshape: cannot reshape an array of shape {tuple(in_shape)} ({size} elements) "
                f"into {tuple(new_shape)}", op="Reshape", input_shapes=[in_shape])
        new_shape[new_shape.index(-1)] = size // rest
    if any(s < 0 for s in new_shape) or int(np.prod(new_shape)) != size:
        raise ShapeMismatchError(
            f"Reshape: cannot reshape an array of shape {tuple(in_shape)} ({size} elements) into "
            f"{tuple(new_shape)} ({int(np.prod(new_shape))} elements)",
            op="Reshape", input_shapes=[in_shape])
    return tuple(new_shape)


class Reshape(Op):
    """Reshape ``x`` to the int vector ``shape`` (one entry may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}  # the fast path returns np.reshape's view when it can

    def __init__(self, ndim):
        self.ndim = int(ndim)

    def make_node(self, x, shape):
        x = as_tensor_variable(x)
        shape = as_shape_vector(shape)
        if shape.type.shape[0] is not None and shape.type.shape[0] != self.ndim:
            raise ValueError(f"Reshape: shape vector has {shape.type.shape[0]} entries but ndim "
                             f"is {self.ndim}")
        static = [s if s is not None and s >= 0 else None
                  for s in static_entries(shape, self.ndim)]
        return Apply(self, [x, shape], [TensorType(x.dtype, static)()])

    def perform(self, node, inputs, output_storage):
        x, shape = inputs
        target = resolve_reshape(np.shape(x), shape)
        output_storage[0][0] = np.array(np.reshape(x, target))

    def make_fast_fn(self, node):
        def fn(x, shape):
            try:
                return np.reshape(x, shape)
            except ValueError:
                return np.reshape(x, resolve_reshape(np.shape(x), shape))
        return fn

    def infer_shape(self, node, shapes):
        from verigraph.tensor import api
        target = ReshapeTarget()(api.as_shape_vector(shapes[0]) if shapes[0] else
                                 constant(np.zeros(0, "int64")), node.inputs[1])
        return [tuple(api.getitem(target, k) for k in range(self.ndim))]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, shape = inputs
        return [api.reshape(gouts[0], api.shape(x), ndim=x.ndim), None]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]


class ReshapeTarget(Op):
    """The concrete shape a Reshape produces, checked: the guard behind Reshape.infer_shape."""

    def make_node(self, in_shape, target):
        return Apply(self, [as_tensor_variable(in_shape), as_tensor_variable(target)],
                     [TensorType("int64", (None,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(resolve_reshape(tuple(inputs[0]), inputs[1]),
                                          dtype="int64")

    def infer_shape(self, node, shapes):
        return [shapes[1]]

    def grad(self, inputs, gouts):
        return _no_grad(inputs)


class SpecifyShape(Op):
    """Assert ``x`` has the given static shape (None entries unchecked); output carries it."""

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape):
        self.shape = tuple(None if s is None else int(s) for s in shape)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != len(self.shape):
            raise ValueError(f"specify_shape: {x} has {x.ndim} dimensions, shape {self.shape} "
                             f"has {len(self.shape)}")
        for a, b in zip(x.type.shape, self.shape):
            if a is not None and b is not None and a != b:
                raise ShapeMismatchError(f"specify_shape: {x} has static shape {x.type.shape}, "
                                         f"not {self.shape}", op="SpecifyShape")
        shape = tuple(b if b is not None else a for a, b in zip(x.type.shape, self.shape))
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def check(self, x):
        """Raise ShapeMismatchError unless ``x`` matches the declared shape."""
        shp = np.shape(x)
        if len(shp) != len(self.shape) or any(
                b is not None and a != b for a, b in zip(shp, self.shape)):
            raise ShapeMismatchError(f"SpecifyShape: expected shape {self.shape}, got {shp}",
                                     op="SpecifyShape", input_shapes=[shp])

    def perform(self, node, inputs, output_storage):
        self.check(inputs[0])
        output_storage[0][0] = np.array(inputs[0])

    def make_fast_fn(self, node):
        check = self.check

        def fn(x):
            check(x)
            return x
        return fn

    def infer_shape(self, node, shapes):
        from verigraph.tensor.guards import guard_equal
        # The declared sizes are an assertion about the input: the answer keeps checking it.
        return [tuple(shapes[0][d] if s is None else guard_equal(
            "SpecifyShape", f"the input must have the declared shape {self.shape}",
            [constant(s, dtype="int64"), shapes[0][d]],
            [f"declared shape[{d}]", f"{node.inputs[0]}.shape[{d}]"])
            for d, s in enumerate(self.shape))]

    def grad(self, inputs, gouts):
        return [gouts[0]]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0])]


class Alloc(Op):
    """An array of the given shape filled with (broadcast) ``value``."""

    def make_node(self, value, *shape):
        value = as_tensor_variable(value)
        shape = [_int_scalar(s, "alloc shape entry") for s in shape]
        if len(shape) < value.ndim:
            raise ValueError(f"alloc: value has {value.ndim} dimensions but only {len(shape)} "
                             f"sizes were given")
        static = [int(s.data) if isinstance(s, Constant) else None for s in shape]
        return Apply(self, [value] + shape, [TensorType(value.dtype, static)()])

    def perform(self, node, inputs, output_storage):
        value, *shape = inputs
        shape = tuple(int(s) for s in shape)
        try:
            output_storage[0][0] = np.array(np.broadcast_to(value, shape))
        except ValueError:
            raise ShapeMismatchError(f"Alloc: value of shape {np.shape(value)} cannot be "
                                     f"broadcast to {shape}", op="Alloc",
                                     input_shapes=[np.shape(value)]) from None

    def make_fast_fn(self, node):
        dtype = node.outputs[0].dtype

        def fn(value, *shape):
            out = np.empty(shape, dtype=dtype)
            try:
                out[...] = value
            except ValueError:
                raise ShapeMismatchError(f"Alloc: value of shape {np.shape(value)} cannot be "
                                         f"broadcast to {tuple(int(s) for s in shape)}",
                                         op="Alloc", input_shapes=[np.shape(value)]) from None
            return out
        return fn

    def infer_shape(self, node, shapes):
        return [tuple(node.inputs[1:])]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        value = inputs[0]
        gz = gouts[0]
        nlead = gz.ndim - value.ndim
        axes = list(range(nlead)) + [nlead + d for d in range(value.ndim)
                                     if value.type.shape[d] == 1 and gz.type.shape[nlead + d] != 1]
        g = api.sum(gz, axis=axes, keepdims=True) if axes else gz
        if nlead:
            g = api.dimshuffle(g, tuple(range(nlead, gz.ndim)))
        return [g] + [None] * (len(inputs) - 1)


class Eye(Op):
    """Identity-like matrix ``eye(n, m, k)``."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def make_node(self, n, m, k):
        n, m, k = (_int_scalar(v, "eye argument") for v in (n, m, k))
        return Apply(self, [n, m, k], [TensorType(self.dtype, (None, None))()])

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(v) for v in inputs)
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, node, shapes):
        return [(node.inputs[0], node.inputs[1])]

    def grad(self, inputs, gouts):
        return _no_grad(inputs)


class ARange(Op):
    """``arange(start, stop, step)`` of the given dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def make_node(self, start, stop, step):
        start, stop, step = (as_tensor_variable(v) for v in (start, stop, step))
        return Apply(self, [start, stop, step], [TensorType(self.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        start, stop, step = inputs
        if step == 0:
            raise ValueError("arange: step must not be 0")
        output_storage[0][0] = np.arange(start, stop, step, dtype=self.dtype)

    def make_fast_fn(self, node):
        # np.arange with 0-d array bounds costs ~2 us more than with Python numbers.
        dtype = np.dtype(self.dtype)
        if not all(np.dtype(i.dtype).kind in "iu" for i in node.inputs):
            return super().make_fast_fn(node)
        arange = np.arange

        def fn(start, stop, step):
            step = int(step)
            if step == 0:
                raise ValueError("arange: step must not be 0")
            return arange(int(start), int(stop), step, dtype=dtype)
        return fn

    def infer_shape(self, node, shapes):
        from verigraph.tensor import api
        start, stop, step = node.inputs
        n = api.maximum(api.ceil((stop - start) / step), 0)
        return [(api.cast(n, "int64"),)]

    def grad(self, inputs, gouts):
        return _no_grad(inputs)
