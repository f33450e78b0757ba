"""Gemm: ``z + alpha * dot(x, y)`` for matrices as one BLAS call with ``beta = 1``.

Made only by the ``local_gemm_accumulate`` rule (``rewriting/gemm.py``) from the
graph's own ``z - a * dot(x, y)`` (an SGD update) or ``z + a * dot(x, y)``. The in-place
form writes into ``z``; ``rewriting/inplace.py`` allows that for a fresh intermediate or
for a shared variable's storage when this node computes that variable's update and every
other reader of it has already run (the fast linker runs such nodes last, after checking
all of them; see ``link/fast.py``).
"""
from __future__ import annotations

import numpy as np

from verigraph.checks.errors import ShapeMismatchError
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor import cblas
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import as_tensor_variable

DTYPES = ("float32", "float64")


def check(z, x, y):
    """Raise ShapeMismatchError unless ``x @ y`` exists and has ``z``'s shape."""
    if x.shape[1] != y.shape[0] or z.shape != (x.shape[0], y.shape[1]):
        raise ShapeMismatchError(
            f"gemm: z + alpha * dot(x, y) needs x.shape[1] == y.shape[0] and z of shape "
            f"(x.shape[0], y.shape[1]); got z {z.shape}, x {x.shape}, y {y.shape}", op="Gemm",
            input_shapes=[z.shape, x.shape, y.shape])


class Gemm(Op):
    """``z + alpha * dot(x, y)``: matrices ``z``, ``x``, ``y`` of one float dtype, ``alpha``
    a scalar of that dtype (any number of length-1 axes); ``inplace`` writes into ``z``."""

    __props__ = ("inplace",)

    def __init__(self, inplace=False):
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def make_node(self, z, alpha, x, y):
        z, alpha, x, y = (as_tensor_variable(v) for v in (z, alpha, x, y))
        for name, v in (("z", z), ("x", x), ("y", y)):
            if v.ndim != 2 or v.dtype != z.dtype:
                raise TypeError(f"Gemm: {name} must be a matrix of z's dtype {z.dtype}, "
                                f"got {v.ndim}-d {v.dtype} {v}")
        if z.dtype not in DTYPES:
            raise TypeError(f"Gemm: dtype must be one of {DTYPES}, got {z.dtype}")
        if alpha.dtype != z.dtype or any(s != 1 for s in alpha.type.shape):
            raise TypeError(f"Gemm: alpha must be a one-element {z.dtype} tensor, got "
                            f"{alpha.type} {alpha}")
        # z must have the product's shape at run time (checked), so the output's static
        # shape takes what either side knows.
        shape = tuple(a if a is not None else b
                      for a, b in zip(z.type.shape, (x.type.shape[0], y.type.shape[1])))
        return Apply(self, [z, alpha, x, y], [TensorType(z.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        z, alpha, x, y = (np.asarray(v) for v in inputs)
        check(z, x, y)
        dtype = node.outputs[0].dtype
        a = np.asarray(alpha, dtype).reshape(())
        output_storage[0][0] = np.asarray(z + a * np.dot(x, y), dtype=dtype)

    def make_fast_fn(self, node):
        inplace, gemm_into = self.inplace, cblas.gemm_into
        dtype = np.dtype(node.outputs[0].dtype)

        def fn(z, alpha, x, y):
            check(z, x, y)
            a = np.asarray(alpha, dtype).reshape(())
            # In place only into memory BLAS can write (a read-only or Fortran-ordered z
            # gets a fresh result, which the update stores instead: nothing can fail here
            # after the check, so the writes stay all-or-nothing).
            out = z if inplace and z.flags.writeable and z.flags.c_contiguous and \
                z.dtype == dtype else np.array(z, dtype=dtype, order="C")
            if not gemm_into(out, a.item(), x, y):
                d = np.dot(x, y)
                np.multiply(d, a, out=d)
                np.add(out, d, out=out)
            return out
        # Run before any node that destroys a graph input (link/fast.py), so that a failing
        # check leaves every input unchanged.
        fn.precheck = lambda z, alpha, x, y: check(z, x, y)
        return fn

    def infer_shape(self, node, shapes):
        return [shapes[0]]
