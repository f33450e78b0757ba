"""NumPy's own BLAS ``gemm`` reached through ctypes: ``C += alpha * A @ B`` written into C.

NumPy exposes matrix products only as ``C = A @ B`` into fresh (or given) memory; the
accumulating form (``beta = 1``) lets an SGD update ``W - lr * dot(x.T, g)`` run as one
GEMM writing into ``W`` instead of a GEMM into a temporary plus an elementwise pass over
both (see ``tensor/gemm.py``). The library is the OpenBLAS NumPy's wheel bundles (the
same copy NumPy calls, so the same thread settings), found by file name next to NumPy and
checked once on a small product against ``np.dot``; anywhere it is not found (another
platform, a NumPy built against another BLAS) ``gemm_into`` answers False and callers use
NumPy.
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# (symbol pattern, integer type): scipy-openblas wheels (ILP64, NumPy >= 2), then the
# plain names a system OpenBLAS exports.
_SYMBOLS = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("cblas_{}gemm64_", ctypes.c_int64),
            ("scipy_cblas_{}gemm", ctypes.c_int), ("cblas_{}gemm", ctypes.c_int))
_REAL = {np.dtype("float32"): ("s", ctypes.c_float), np.dtype("float64"): ("d", ctypes.c_double)}

_functions = None   # dtype -> ctypes function once looked up ({} when none was found)


def _library_paths():
    base = os.path.dirname(np.__file__)
    patterns = (os.path.join(base, os.pardir, "numpy.libs", "*openblas*"),
                os.path.join(base, ".dylibs", "*openblas*"),
                os.path.join(base, "_core", "*openblas*"))
    return sorted(p for pat in patterns for p in glob.glob(pat))


def _bind(lib, dtype):
    letter, real = _REAL[dtype]
    for pattern, integer in _SYMBOLS:
        fn = getattr(lib, pattern.format(letter), None)
        if fn is None:
            continue
        fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer,
                       real, ctypes.c_void_p, integer, ctypes.c_void_p, integer, real,
                       ctypes.c_void_p, integer]
        fn.restype = None
        return fn
    return None


def _agrees(fn, dtype):
    # A wrong guess of the integer width or calling convention shows on a small product.
    g = np.random.default_rng(0)
    a, b = g.standard_normal((3, 4)).astype(dtype), g.standard_normal((4, 2)).astype(dtype)
    c = np.ones((3, 2), dtype)
    fn(ROW_MAJOR, NO_TRANS, NO_TRANS, 3, 2, 4, -0.5, a.ctypes.data, 4, b.ctypes.data, 2, 1.0,
       c.ctypes.data, 2)
    return np.allclose(c, 1 - 0.5 * (a @ b), rtol=1e-5, atol=1e-5)


def functions():
    """dtype -> the bound ``cblas_?gemm`` (float32 and float64), or {} without one."""
    global _functions
    if _functions is None:
        found = {}
        for path in _library_paths():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for dtype in _REAL:
                fn = _bind(lib, dtype)
                if fn is not None and dtype not in found and _agrees(fn, dtype):
                    found[dtype] = fn
            if found:
                break
        _functions = found
    return _functions


def _operand(m):
    """(transpose flag, leading dimension) of a 2-D operand, or None if BLAS cannot read it."""
    if m.flags.c_contiguous:
        return NO_TRANS, max(1, m.shape[1])
    if m.flags.f_contiguous:
        return TRANS, max(1, m.shape[0])
    return None


def gemm_into(c, alpha, a, b):
    """``c += alpha * (a @ b)`` in place through BLAS; False (c untouched) when it cannot.

    ``c`` must be a writable C-contiguous matrix and ``a``, ``b`` C- or F-contiguous
    matrices of its dtype (float32/float64) whose product has ``c``'s shape, none of them
    overlapping ``c``. Callers check shapes first (this returns False on a mismatch).
    """
    fn = functions().get(c.dtype)
    if fn is None or a.dtype != c.dtype or b.dtype != c.dtype or not c.flags.c_contiguous \
            or not c.flags.writeable or a.ndim != 2 or b.ndim != 2 or c.ndim != 2:
        return False
    m, k = a.shape
    if b.shape[0] != k or c.shape != (m, b.shape[1]) or c.size == 0:
        return False
    fa, fb = _operand(a), _operand(b)
    if fa is None or fb is None or np.may_share_memory(c, a) or np.may_share_memory(c, b):
        return False
    if k == 0:
        return True   # an empty sum: c is unchanged
    fn(ROW_MAJOR, fa[0], fb[0], m, c.shape[1], k, alpha, a.ctypes.data, fa[1],
       b.ctypes.data, fb[1], 1.0, c.ctypes.data, max(1, c.shape[1]))
    return True
