"""Dot (vector/matrix products through NumPy's BLAS) and batched Matmul."""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.guards import carry_guard
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable


# A product ``x @ y`` whose left operand is a transposed C-contiguous matrix (``x = x0.T``:
# ``dot(h.T, dz)``, a layer's weight gradient) and whose output has few columns runs as
# ``(y.T @ x0).T``: OpenBLAS's kernels are made for wide outputs, and the transposed
# problem has m columns instead of n. Measured against the direct product (accumulating
# GEMM, 2-core EPYC VM, one thread, median of paired rounds) for m x k = 64x256 ...
# 2000x256 and 784x1000: float32 0.34-0.68x with 1 column, 0.54-0.75x with 10, 0.64-0.99x
# with 16, 0.79-1.17x with 32; float64 0.36-0.98x with 1, 0.59-0.91x with 10, 0.53-1.07x
# with 16. Below ``TRANSPOSED_MIN_WORK`` multiply-adds the extra steps cost more than
# BLAS's choice of kernel matters.
TRANSPOSED_MAX_COLS = 16
TRANSPOSED_MIN_WORK = 1 << 14


def transposed_product(x, y):
    """``x @ y`` computed as ``(y.T @ x.T).T`` (an F-ordered array) when that is faster, else None.

    Only for 2-D float operands of one dtype where ``x.T`` is C-contiguous and ``y`` has
    at most ``TRANSPOSED_MAX_COLS`` columns; the caller has checked the inner sizes. The
    sums are BLAS's, over the same terms (its order may differ, as between any two of
    its kernels).
    """
    if type(x) is not np.ndarray or type(y) is not np.ndarray or x.ndim != 2 or y.ndim != 2:
        return None
    m, k = x.shape
    n = y.shape[1]
    if n > TRANSPOSED_MAX_COLS or m <= n or m * k * n < TRANSPOSED_MIN_WORK \
            or x.dtype != y.dtype or x.dtype.char not in "fd" or not x.T.flags.c_contiguous \
            or x.flags.c_contiguous:
        return None
    return np.dot(y.T, x.T).T


def _product_dtype(a, b):
    return str(np.result_type(np.dtype(a), np.dtype(b)))


class Dot(Op):
    """``np.dot`` of vectors and matrices (inner dimensions must agree)."""

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim not in (1, 2) or y.ndim not in (1, 2):
            raise TypeError(f"Dot takes vectors or matrices, got {x.ndim}-d {x} and {y.ndim}-d "
                            f"{y}; use tensordot or matmul for more dimensions")
        kx, ky = x.type.shape[-1], y.type.shape[0]
        if kx is not None and ky is not None and kx != ky:
            raise ShapeMismatchError(f"dot: inner dimensions differ: {x} has shape "
                                     f"{x.type.shape}, {y} has {y.type.shape}", op="Dot",
                                     input_shapes=[x.type.shape, y.type.shape])
        shape = x.type.shape[:-1] + y.type.shape[1:]
        return Apply(self, [x, y], [TensorType(_product_dtype(x.dtype, y.dtype), shape)()])

    @staticmethod
    def check(x, y):
        """Raise ShapeMismatchError when inner dimensions differ."""
        if x.shape[-1] != y.shape[0]:
            raise ShapeMismatchError(
                f"dot: inner dimensions differ: shapes {x.shape} and {y.shape} "
                f"({x.shape[-1]} != {y.shape[0]})", op="Dot", input_shapes=[x.shape, y.shape],
                input_dtypes=[str(x.dtype), str(y.dtype)])

    def perform(self, node, inputs, output_storage):
        x, y = (np.asarray(v) for v in inputs)
        self.check(x, y)
        output_storage[0][0] = np.asarray(np.dot(x, y), dtype=node.outputs[0].dtype)

    def make_fast_fn(self, node):
        dot, check = np.dot, self.check
        dtype = np.dtype(node.outputs[0].dtype)
        same = node.inputs[0].dtype == node.inputs[1].dtype == node.outputs[0].dtype

        def fn(x, y):
            if x.shape[-1] != y.shape[0]:
                check(x, y)
            r = dot(x, y)
            return r if same else np.asarray(r, dtype=dtype)
        if same and node.inputs[0].ndim == node.inputs[1].ndim == 2:
            least = TRANSPOSED_MIN_WORK

            def matrices(x, y):
                if x.shape[1] != y.shape[0]:
                    check(x, y)
                # (the size test first: small products skip the call, ~0.4 µs)
                r = transposed_product(x, y) if x.size * y.shape[1] >= least else None
                # C order, as np.dot's: the next node may be a kernel that wants it so.
                return dot(x, y) if r is None else np.ascontiguousarray(r)
            return _with_skinny_products(node, matrices)
        return fn

    def infer_shape(self, node, shapes):
        sx, sy = shapes
        x, y = node.inputs
        out = tuple(sx[:-1]) + tuple(sy[1:])
        if out:
            # The inner sizes are not part of the answer, so the check rides on its first entry.
            first = carry_guard(out[0], "Dot", "inner dimensions must agree", [sx[-1], sy[0]],
                                [f"{x}.shape[{x.ndim - 1}]", f"{y}.shape[0]"])
            out = (first,) + out[1:]
        return [out]

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, y = inputs
        gz = gouts[0]
        if x.ndim == 1 and y.ndim == 1:
            gx, gy = gz * y, gz * x
        elif x.ndim == 1:
            gx, gy = api.dot(y, gz), api.outer(x, gz)
        elif y.ndim == 1:
            gx, gy = api.outer(gz, y), api.dot(x.T, gz)
        else:
            gx, gy = api.dot(gz, y.T), api.dot(x.T, gz)
        return [api.cast(gx, x.dtype) if gx.dtype != x.dtype else gx,
                api.cast(gy, y.dtype) if gy.dtype != y.dtype else gy]

    def R_op(self, inputs, eval_points):
        from verigraph.tensor import api
        x, y = inputs
        ex, ey = eval_points
        terms = []
        if ex is not None:
            terms.append(api.dot(ex, y))
        if ey is not None:
            terms.append(api.dot(x, ey))
        if not terms:
            return [None]
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


def _with_skinny_products(node, numpy_fn):
    """``numpy_fn`` with products of few output columns through a C loop (ckernels.skinny)."""
    from verigraph.link import ckernels
    from verigraph.link.ckernels import skinny
    if not ckernels.enabled() or not skinny.may_serve(node.outputs[0].dtype,
                                                      node.outputs[0].type.shape[1]):
        return numpy_fn
    switch = skinny.Checked(f"Dot (built at {getattr(node, 'source', '?')})",
                            node.outputs[0].dtype, node)

    def fn(x, y):
        c = skinny.entry(x, y)
        if c is None:
            return numpy_fn(x, y)
        if switch.state == "on":
            return skinny.call(c, x, y)
        return switch.run(lambda: skinny.call(c, x, y), lambda: numpy_fn(x, y), (x, y))
    fn.describe_kernel = switch.describe
    return fn


class Matmul(Op):
    """``np.matmul`` for inputs of 2 or more dimensions with equal ndim (batched products)."""

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim < 2 or x.ndim != y.ndim:
            raise TypeError(f"Matmul takes two tensors of equal ndim >= 2, got {x.ndim} and "
                            f"{y.ndim}")
        from verigraph.tensor.elemwise import broadcast_static
        batch = broadcast_static("matmul", [x.type.shape[:-2], y.type.shape[:-2]])
        shape = batch + (x.type.shape[-2], y.type.shape[-1])
        return Apply(self, [x, y], [TensorType(_product_dtype(x.dtype, y.dtype), shape)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        # Batch axes broadcast only where one side is statically 1 (as Elemwise).
        for d, (a, b) in enumerate(zip(node.inputs[0].type.shape[:-2],
                                       node.inputs[1].type.shape[:-2])):
            if a != 1 and b != 1 and x.shape[d] != y.shape[d]:
                raise ShapeMismatchError(
                    f"matmul: batch axis {d} differs: shapes {x.shape} and {y.shape}; only axes "
                    f"whose static size is 1 (broadcastable) may broadcast", op="Matmul",
                    input_shapes=[x.shape, y.shape])
        if x.shape[-1] != y.shape[-2]:
            raise ShapeMismatchError(f"matmul: inner dimensions differ: shapes {x.shape} and "
                                     f"{y.shape}", op="Matmul", input_shapes=[x.shape, y.shape])
        try:
            r = np.matmul(x, y)
        except ValueError as e:
            raise ShapeMismatchError(f"matmul: shapes {x.shape} and {y.shape}: {e}",
                                     op="Matmul", input_shapes=[x.shape, y.shape]) from None
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].dtype)

    def L_op(self, inputs, outputs, gouts):
        from verigraph.tensor import api
        x, y = inputs
        gz = gouts[0]
        perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
        gx = self(gz, api.transpose(y, perm))
        gy = self(api.transpose(x, perm), gz)
        return [_unbroadcast(api, gx, x), _unbroadcast(api, gy, y)]

    def infer_shape(self, node, shapes):
        from verigraph.tensor.guards import guard_equal
        x, y = node.inputs
        sx, sy = shapes
        batch = []
        for d in range(x.ndim - 2):
            sizes = [s[d] for s, v in ((sx, x), (sy, y)) if v.type.shape[d] != 1]
            batch.append(guard_equal("Matmul", f"batch axis {d} must agree", sizes,
                                     [f"{x}.shape[{d}]", f"{y}.shape[{d}]"]) if sizes else sx[d])
        first = carry_guard(sx[-2], "Matmul", "inner dimensions must agree", [sx[-1], sy[-2]],
                            [f"{x}.shape[{x.ndim - 1}]", f"{y}.shape[{y.ndim - 2}]"])
        return [tuple(batch) + (first, sy[-1])]


def _unbroadcast(api, g, x):
    # Sum the gradient over batch axes along which ``x`` (static size 1) was broadcast.
    axes = [d for d in range(x.ndim) if x.type.shape[d] == 1 and g.type.shape[d] != 1]
    if axes:
        g = api.specify_broadcastable(api.sum(g, axis=axes, keepdims=True), x.type.shape)
    return api.cast(g, x.dtype) if g.dtype != x.dtype else g
