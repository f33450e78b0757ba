"""Optional C backend for large fused elementwise work (``config.c_kernels``).

NumPy runs a chain of ufuncs one pass per operation; even in cache-sized chunks
that is several times the memory-bandwidth floor for cheap arithmetic. A FusedElemwise
whose inputs are C-contiguous float32/float64 (or bool) arrays of the output's shape,
or one-element scalars, gets one generated C loop computing every step in registers
(``codegen``), compiled by the system C compiler into a shared library cached on disk
(``compiler``) and called through ctypes (``loader``).

- Only calls with at least ``MIN_SIZE`` output elements use C (below that the ctypes
  call and the argument checks cost more than they save), so small calls are as before.
- The library is built on the first large call, never at compile time: ``function()``
  stays as fast as without a compiler.
- Any problem (no compiler, a compile error, a non-contiguous or unexpected argument)
  means the existing NumPy kernel runs; failures are remembered, never warned about.
- Chains with expensive libm steps (exp, sin, ...) run in C only where glibc's vector
  math library (libmvec) vectorizes them (``compiler.vector_math``): then the fused loop
  beats NumPy's ufunc per step (the 10-step transcendental chain on 1e6 float64: 19.5 ms
  against 53 ms). Without it they stay on NumPy, whose SIMD loops beat a scalar libm
  call per element (41 ms NumPy against 131 ms for PyTensor's scalar C loop).

``large_path`` is the hook FusedElemwise's fast path calls for large calls; ``sum_fn``
serves ``FusedSum`` (an elementwise chain summed in the same pass); ``small.tiered`` moves
a node's small calls to C once the node has been called often (see ``small``).
"""
from __future__ import annotations

import sys

import numpy as np

# Output elements from which the C kernel runs (measured: at 16k float64 the chunked
# NumPy kernel of a 10-op chain takes about 40 us, the C call's overhead about 3 us).
MIN_SIZE = 16384
# A chain is left to NumPy when its expensive steps (libm calls: exp, log, sin, tanh,
# sigmoid, softplus, pow, ...) are more than this share of its steps. Measured on 1e6
# float64 (2-core EPYC VM): one exp among three arithmetic steps costs 4.7 ms in C
# against 2.5 ms in NumPy, tanh plus three steps 16 ms against 3.4 ms; glibc's scalar
# calls lose to NumPy's SIMD loops every time, so by default any such step keeps the
# chain on NumPy (the C forms exist and are tested; raise this where libm is faster).
# Where libmvec vectorizes them (compiler.vector_math()) there is no limit.
MAX_EXPENSIVE_SHARE = 0.0
# A large call whose row inputs repeat every fewer than this many elements stays on NumPy:
# the row kernel runs one vector loop (and its scalar tail) per row, so (128000, 1) plus a
# one-element row and tanh took 1.7 ms in C against 0.2 ms for (250, 512).
ROW_MIN_COLS = 16


# Rows that are worth a kernel on their own: a lone ``sin(x)`` becomes a one-step
# FusedElemwise (``rewriting.fusion``) so its large calls run the C loop instead of
# NumPy's ufunc. Measured against the ufunc on 128k and 1e6 values (2-core EPYC VM,
# libmvec): float64 sin and cos 0.09x (NumPy's float64 sin/cos loops are scalar), sqrt
# 0.53-0.56x, tanh 0.61-0.67x, tan 0.70-0.73x, expm1 0.72-0.77x; float32 sqrt 0.53x,
# sin and cos 0.62x. Left to NumPy (its SIMD loops win or tie): exp, log, sinh, exp2,
# log2, log10, log1p, arctan, arcsin, arccos, cosh, and float32 tanh, tan, exp, log.
LONE_ROWS = {"float64": frozenset({"sin", "cos", "tan", "sqrt", "tanh", "expm1"}),
             "float32": frozenset({"sin", "cos", "sqrt"})}


def lone_row_wins(name, arg_dtypes, dtype):
    """Whether a lone elementwise ``name`` on these dtypes runs faster as a C kernel."""
    if not all(d == dtype for d in arg_dtypes) or name not in LONE_ROWS.get(str(dtype), ()):
        return False
    from verigraph.link.ckernels import compiler
    return compiler.vector_math() and can_compile()


def can_compile():
    """Whether C kernels are on and a compiler exists (rules that only pay in C ask this)."""
    from verigraph.link.ckernels import compiler
    return enabled() and compiler.compiler() is not None


def enabled():
    """Whether ``config.c_kernels`` is on."""
    from verigraph.configparser import config
    return bool(config.c_kernels)


def _plan(op, node, with_sum, small=False):
    from verigraph.link.ckernels import codegen
    try:
        kernel = codegen.plan(op, node, with_sum=with_sum)
    except codegen.Unsupported:
        return None
    from verigraph.link.ckernels import compiler
    if not compiler.vector_math() and kernel.expensive > MAX_EXPENSIVE_SHARE * len(op.steps):
        return None
    shape = node.outputs[0].type.shape
    if not small and all(s is not None for s in shape) and int(np.prod(shape)) < MIN_SIZE:
        return None   # statically small: the large path is never taken
    return kernel


class _Lazy:
    """The ctypes function of one kernel, built on first use; None when it cannot be."""

    __slots__ = ("kernel", "fn", "tried")

    def __init__(self, kernel):
        self.kernel, self.fn, self.tried = kernel, None, False

    def get(self):
        if not self.tried:
            from verigraph.link.ckernels import loader
            self.tried = True
            self.fn = loader.load(self.kernel)
        return self.fn


def _scalar(a):
    # A one-element input: Python number for ctypes (float32 values are exact as doubles).
    return a.item() if isinstance(a, (np.ndarray, np.generic)) else a


def _arguments(kernel, args, dtypes):
    """(shape, ctypes arguments) for a call, or None when some argument does not fit C.

    With row inputs the second argument is ``cols``: each row input must be C-contiguous
    with the output's trailing dimensions from ``kernel.row_axis`` on (ones before).
    """
    shape = None
    cargs = [0]
    rows = []
    for k, kind in enumerate(kernel.kinds):
        a = args[k]
        if kind == "full":
            if type(a) is not np.ndarray or a.dtype != dtypes[k] or \
                    not a.flags.c_contiguous or (shape is not None and a.shape != shape):
                return None
            shape = a.shape
            cargs.append(a.ctypes.data)
        elif kind == "row":
            if type(a) is not np.ndarray or a.dtype != dtypes[k] or not a.flags.c_contiguous:
                return None
            rows.append(a)
            cargs.append(a.ctypes.data)
        else:
            if isinstance(a, np.ndarray) and a.size != 1:
                return None
            cargs.append(_scalar(a))
    size = 1
    for s in shape:
        size *= s
    cargs[0] = size
    if kernel.row_axis is not None:
        axis = kernel.row_axis
        tail = shape[axis:]
        for a in rows:
            if a.ndim != len(shape) or a.shape[axis:] != tail or any(d != 1 for d in a.shape[:axis]):
                return None
        cols = 1
        for s in tail:
            cols *= s
        if cols < ROW_MIN_COLS:
            return None
        cargs.insert(1, cols)
    return shape, cargs


class _OutputPool:
    """A node's large output buffer, reused once nothing outside the pool refers to it.

    A fresh 8 MB array comes from newly mapped pages each call, which the OS zeroes
    first: an extra pass over memory (the arithmetic chain: 1.15-1.27x the ``np.add``
    floor into fresh memory against 1.13x into a kept buffer). The pool keeps the last
    buffer; when its reference count shows that no result viewing it is alive any more
    (the caller dropped it), the next call writes there again. The buffer is taken out
    of the list while in use (``list.pop`` is atomic), so two threads never share it.

    Outputs start at the same offset from 64 bytes as ``address`` (the first input):
    the kernel runs its vector loop from the first 64-byte aligned output element
    (codegen), and NumPy gives large arrays offsets of 16, 32 or 48, so with equal
    offsets every load and store of that loop is aligned.
    """

    __slots__ = ("free",)

    def __init__(self):
        self.free = []

    def empty(self, shape, dtype, address, size):
        """An uninitialized ``shape`` array of ``dtype`` (a view of a pooled buffer)."""
        step = dtype.itemsize
        want = size + 64 // step
        try:
            raw, base = self.free.pop()
        except IndexError:
            raw = None
        # Two references: ``raw`` here and getrefcount's argument. A live result adds one.
        if raw is None or raw.size != want or raw.dtype != dtype or _refcount(raw) != 2:
            raw = np.empty(want, dtype)
            base = raw.ctypes.data
        skip = ((address - base) % 64) // step
        out = raw[skip:skip + size].reshape(shape)
        if not self.free:
            self.free.append((raw, base))
        return out


def _refcount(obj):
    return sys.getrefcount(obj) - 1


def large_path(op, node):
    """``fn(*args) -> output, or None`` running a FusedElemwise call as a C loop, or None.

    The fused NumPy kernel calls it only for calls of at least ``MIN_SIZE`` elements (the
    threshold is read when the kernel is generated), so small calls pay nothing; ``fn``
    answers None when an argument does not fit C (dtype, layout) or the library could not
    be built, and the NumPy kernel runs instead.
    """
    if not enabled():
        return None
    kernel = _plan(op, node, with_sum=False)
    if kernel is None:
        return None
    lazy = _Lazy(kernel)
    dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    out_dtype = np.dtype(kernel.out_dtype)
    inplace = op.inplace_input
    lead = kernel.kinds.index("full")
    first = 2 if kernel.row_axis is not None else 1   # cargs: n, [cols,] inputs...
    pool = _OutputPool()

    def c_call(*args):
        fn = lazy.get()
        found = None if fn is None else _arguments(kernel, args, dtypes)
        if found is None:
            return None
        shape, cargs = found
        out = args[inplace] if inplace is not None else \
            pool.empty(shape, out_dtype, cargs[lead + first], cargs[0])
        fn(*cargs, out.ctypes.data)
        return out

    c_call.c_source = kernel.source
    return c_call


def sum_fn(op, node, fused_op, numpy_fn):
    """``numpy_fn`` (chain then np.sum) of a FusedSum with a C fast path for large calls."""
    if not enabled():
        return numpy_fn
    kernel = _plan(fused_op, _ElemView(node, fused_op), with_sum=True)
    if kernel is None:
        return numpy_fn
    lazy = _Lazy(kernel)
    dtypes = [np.dtype(d) for d in kernel.in_dtypes]
    result = np.dtype(node.outputs[0].dtype).type
    lead = kernel.kinds.index("full")

    def sum_c(*args):
        x = args[lead]
        if type(x) is not np.ndarray or x.size < MIN_SIZE:
            return numpy_fn(*args)
        fn = lazy.get()
        found = None if fn is None else _arguments(kernel, args, dtypes)
        if found is None:
            return numpy_fn(*args)
        return result(fn(*found[1]))

    sum_c.c_source = kernel.source
    sum_c.numpy_fn = numpy_fn
    return sum_c


class _ElemView:
    """The elementwise part of a FusedSum node, seen as a FusedElemwise node (for planning)."""

    def __init__(self, node, fused_op):
        self.inputs = node.inputs
        self.outputs = [fused_op.make_node(*node.inputs).outputs[0]]
