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
from verigraph.tensor.blas import TRANSPOSED_MIN_WORK, transposed_product
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

        def target(z):
            # In place only into memory the kernels can write (a read-only or
            # Fortran-ordered z gets a fresh result, which the update stores instead:
            # nothing can fail here after the check, so the writes stay all-or-nothing).
            if inplace and z.flags.writeable and z.flags.c_contiguous and z.dtype == dtype:
                return z
            return None

        def numpy_gemm(z, a, x, y):
            out = target(z)
            if out is None:
                out = np.array(z, dtype=dtype, order="C")
            d = transposed_product(x, y) if x.size * y.shape[1] >= TRANSPOSED_MIN_WORK else None
            if d is None:
                if gemm_into(out, a.item(), x, y):
                    return out
                d = np.dot(x, y)
            # A fresh product (so out may overlap x or y), scaled in place, added.
            np.multiply(d, a, out=d)
            np.add(out, d, out=out)
            return out

        def fn(z, alpha, x, y):
            check(z, x, y)
            return numpy_gemm(z, np.asarray(alpha, dtype).reshape(()), x, y)
        fn = _with_skinny_products(node, fn, numpy_gemm, target, dtype)
        # Run before any node that destroys a graph input (link/fast.py), so that a failing
        # check leaves every input unchanged.
        fn.precheck = lambda z, alpha, x, y: check(z, x, y)
        return fn

    def infer_shape(self, node, shapes):
        return [shapes[0]]


def _with_skinny_products(node, fn, numpy_gemm, target, dtype):
    """``fn``, with products of few output columns through the C loop (ckernels.skinny).

    OpenBLAS's accumulating GEMM is slower still than its ``np.dot`` on such shapes: the
    float64 (500, 256) x (256, 10) update of an MLP's last layer took 134 µs against 85 µs
    for the C loop. The kernel reads ``z`` and writes ``z + alpha * x @ y`` in one pass,
    into ``z`` when the node is in place.
    """
    from verigraph.link import ckernels
    from verigraph.link.ckernels import skinny
    if not ckernels.enabled() or not skinny.may_serve(dtype, node.outputs[0].type.shape[1],
                                                      gemm=True):
        return fn
    switch = skinny.Checked(f"Gemm (built at {getattr(node, 'source', '?')})", dtype.name, node)

    def c_gemm(c, z, a, x, y, into):
        zc = z if z.flags.c_contiguous and z.dtype == dtype else np.ascontiguousarray(z, dtype)
        out = into if into is not None else np.empty(z.shape, dtype)
        return skinny.call(c, x, y, a.item(), z=zc, out=out)

    def checked(c, z, a, x, y, into):
        # The first C call writes a fresh array; only once it agrees with NumPy's (run on
        # a copy) is it copied into z, so a wrong kernel never touches the storage.
        got = switch.run(lambda: c_gemm(c, z, a, x, y, None),
                         lambda: numpy_gemm(np.array(z, copy=True), a, x, y), (z, a, x, y))
        if into is None or switch.state != "on":
            return got
        np.copyto(into, got)
        return into

    def fast(z, alpha, x, y):
        check(z, x, y)
        a = np.asarray(alpha, dtype).reshape(())
        c = skinny.entry(x, y, gemm=True)
        if c is None or switch.state == "off":
            return numpy_gemm(z, a, x, y)
        into = target(z)
        if into is not None and (np.may_share_memory(into, x) or np.may_share_memory(into, y)):
            return numpy_gemm(z, a, x, y)
        if switch.state == "on":
            return c_gemm(c, z, a, x, y, into)
        return checked(c, z, a, x, y, into)
    fast.describe_kernel = switch.describe
    return fast
