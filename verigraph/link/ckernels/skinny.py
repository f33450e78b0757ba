"""Matrix products with few output columns as one register-blocked C loop.

A classifier's last layer multiplies a (batch, features) matrix by a (features, classes)
one with 10 classes: ``x @ W`` forward, ``x.T @ dz`` in the gradient (softmax regression,
an MLP's output layer). OpenBLAS packs the whole
left operand for such a product and runs kernels shaped for wide outputs; on the
(256, 500) x (500, 10) float64 product it took 113 µs where this loop takes about 70 µs
(2-core EPYC VM, hot caches). The loop keeps a block of output rows in vector registers
(each row's ``n`` columns padded to whole vectors) and walks the shared dimension once,
broadcasting one element of the left operand per row and multiplying it into the
right operand's row, which is packed once per call into a padded scratch buffer.

Each output element is the plain left-to-right sum over the shared dimension (fused
multiply-adds where the CPU has FMA, as BLAS), in the operands' dtype, then
``z + alpha * sum`` for Gemm: the same products as ``np.dot``
summed in another order, so results agree to the usual few ulps of a reordered sum.
The library is built on a node's first eligible call (in the background, as the small
elementwise kernels) and its first C call is checked against ``np.dot`` before it takes
over (``small.Switch``'s rule: a disagreement warns and keeps NumPy).
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import small

# Output columns are padded to whole 32-byte vectors; products with at most this many
# vectors per output row take the C loop (float64: n <= 12, float32: n <= 24).
MAX_VECTORS = 3
# Rows of the output kept in registers at once, by vectors per row: with the packed row
# of B and the broadcast element, at most 16 vector registers (AVX2) are live.
ROWS_PER_BLOCK = {1: 8, 2: 6, 3: 4}
# Where the loop beats OpenBLAS (np.dot), measured on the 2-core EPYC VM, one thread:
# (multiply-adds m * k * n from which it is used, fewest output columns). Below a million
# multiply-adds the call's fixed cost (ctypes, packing; ~8 µs) loses to BLAS's ~1-20 µs;
# with 1-3 columns OpenBLAS runs a matrix-vector kernel the padded loop cannot match
# (1024x256 by 256x2 float64: 38 µs against 83). float64 from 4 columns: 0.44-0.65x
# np.dot's time ((256, 500) x (500, 10): 70 µs against 116), and 0.61-0.69x OpenBLAS's
# accumulating GEMM. float32 products stay on OpenBLAS: the loop was faster there only
# on large ones (0.73-0.91x), and a float32 sum taken in another order than np.dot's
# differs from it by more than the checks' float32 tolerance where terms cancel (found
# by the kernel's hypothesis test on plain normal data, k = 52): DebugMode and the
# first-call cross-check compare a node with np.dot, so that would be a false alarm.
MIN_WORK = {"float64": 1 << 20}
MIN_WORK_GEMM = {"float64": 1 << 20}
MIN_COLS = {"float64": 4}
_TYPES = {"float64": ("double", "d"), "float32": ("float", "f")}

_HEADER = r"""
/* Multiply-adds fuse where the CPU has FMA: one rounding per step instead of two, as in
   BLAS, and one vector register less per step (without it AVX2's 16 registers spill an
   accumulator: 88 against 67 µs on the float64 product above). */
#pragma GCC optimize ("fp-contract=fast")
#include <stddef.h>
#include <stdint.h>
typedef long long vg_int;
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define VG_CLONES __attribute__((target_clones("fma", "default")))
#else
#define VG_CLONES
#endif
#define VG_INLINE static inline __attribute__((always_inline))
"""

# Per dtype: TYPE (C type), VEC (its 32-byte vector), LANES (elements per vector), SFX.
# ``rows`` and ``nv`` are constants at every call of vg_rows_SFX, so once inlined its
# loops unroll and ``acc`` lives in registers. out (m, n) is C-contiguous and gets
# [z +] alpha * (A @ B); A and B are read through element strides; ``pack`` is scratch of
# k * nv * LANES elements aligned to 32 bytes; z (C-contiguous, may be ``out``) or NULL.
_PER_DTYPE = r"""
typedef TYPE VEC __attribute__((vector_size(32)));

VG_INLINE void vg_rows_SFX(const int rows, const int nv, vg_int i, vg_int k, vg_int n,
                           const TYPE *a, vg_int sa0, vg_int sa1, const TYPE *pack,
                           TYPE alpha, const TYPE *z, TYPE *out) {
    VEC acc[8][3];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = (VEC){0};
    const TYPE *ar = a + i * sa0;
    for (vg_int p = 0; p < k; p++) {
        const VEC *bp = (const VEC *)(pack + p * nv * LANES);
        VEC bv[3];
        for (int v = 0; v < nv; v++) bv[v] = bp[v];
        for (int r = 0; r < rows; r++) {
            const TYPE e = ar[r * sa0 + p * sa1];
            const VEC x = (VEC){SPLAT};
            for (int v = 0; v < nv; v++) acc[r][v] += x * bv[v];
        }
    }
    for (int r = 0; r < rows; r++) {
        TYPE row[3 * LANES] __attribute__((aligned(32)));
        for (int v = 0; v < nv; v++) ((VEC *)row)[v] = acc[r][v];
        TYPE *o = out + (i + r) * n;
        if (z) {
            const TYPE *zr = z + (i + r) * n;
            for (vg_int j = 0; j < n; j++) o[j] = zr[j] + alpha * row[j];
        } else {
            for (vg_int j = 0; j < n; j++) o[j] = row[j];
        }
    }
}

VG_INLINE void vg_pack_SFX(const int nv, vg_int k, vg_int n, const TYPE *b, vg_int sb0,
                           vg_int sb1, TYPE *pack) {
    const vg_int width = nv * LANES;
    for (vg_int p = 0; p < k; p++) {
        for (vg_int j = 0; j < n; j++) pack[p * width + j] = b[p * sb0 + j * sb1];
        for (vg_int j = n; j < width; j++) pack[p * width + j] = 0;
    }
}
"""
_ENTRY = r"""
VG_CLONES void vg_skinny_SFXNV(vg_int m, vg_int k, vg_int n, const TYPE *a, vg_int sa0,
                               vg_int sa1, const TYPE *b, vg_int sb0, vg_int sb1,
                               TYPE alpha, const TYPE *z, TYPE *out, TYPE *scratch) {
    /* The packed rows are read as aligned vectors: start at scratch's first 32-byte
       boundary (the caller gives one vector more than k * NV vectors). */
    TYPE *pack = (TYPE *)(((uintptr_t)scratch + 31) & ~(uintptr_t)31);
    vg_pack_SFX(NV, k, n, b, sb0, sb1, pack);
    vg_int i = 0;
    for (; i + ROWS <= m; i += ROWS)
        vg_rows_SFX(ROWS, NV, i, k, n, a, sa0, sa1, pack, alpha, z, out);
    for (; i < m; i++)
        vg_rows_SFX(1, NV, i, k, n, a, sa0, sa1, pack, alpha, z, out);
}
"""


def _for_dtype(text, dtype):
    ctype, suffix = _TYPES[dtype]
    return (text.replace("TYPE", ctype).replace("VEC", f"vg_v{suffix}")
            .replace("LANES", str(lanes(dtype))).replace("SFX", suffix)
            .replace("SPLAT", ", ".join(["e"] * lanes(dtype))))


def lanes(dtype):
    """Elements of ``dtype`` in one 32-byte vector."""
    return 32 // np.dtype(dtype).itemsize


def source():
    """The C source of every entry (one library for both dtypes and every width)."""
    parts = [_HEADER]
    for dtype in _TYPES:
        parts.append(_for_dtype(_PER_DTYPE, dtype))
        for nv, rows in ROWS_PER_BLOCK.items():
            parts.append(_for_dtype(_ENTRY, dtype).replace("NV", str(nv))
                         .replace("ROWS", str(rows)))
    return "".join(parts)


# --- Python side -------------------------------------------------------------------

_library = []      # [ctypes.CDLL or None] once built (or found unbuildable)
_building = []     # non-empty once a build was requested
_entries = {}      # (dtype, vectors per row) -> ctypes function


def _load():
    """Compile (cached on disk) and load the library; record None when it cannot be."""
    small.load_library(source, _library, _bind)


def _bind(lib):
    import ctypes
    for dtype, (_, letter) in _TYPES.items():
        real = ctypes.c_double if letter == "d" else ctypes.c_float
        for nv in ROWS_PER_BLOCK:
            fn = getattr(lib, f"vg_skinny_{letter}{nv}")
            i64, ptr = ctypes.c_longlong, ctypes.c_void_p
            fn.argtypes = [i64, i64, i64, ptr, i64, i64, ptr, i64, i64, real, ptr, ptr, ptr]
            fn.restype = None
            _entries[(np.dtype(dtype), nv)] = fn
    return True


def may_serve(dtype, columns, gemm=False):
    """Whether products of ``dtype`` with ``columns`` (static; None: unknown) may use the loop.

    Decided once per node when its fast function is made, so nodes the loop never serves
    (float32, wide outputs) keep the plain NumPy call with nothing added per call.
    """
    name = np.dtype(dtype).name
    if (MIN_WORK_GEMM if gemm else MIN_WORK).get(name) is None:
        return False
    return columns is None or MIN_COLS[name] <= columns <= MAX_VECTORS * lanes(name)


def entry(x, y, gemm=False):
    """The loaded C function for ``x @ y``, or None when the product stays on NumPy.

    None unless both are 2-D arrays of one float dtype whose strides are whole elements,
    ``y`` has ``MIN_COLS`` columns up to ``MAX_VECTORS`` vectors of them and the product
    has at least ``MIN_WORK`` multiply-adds; the first eligible product starts the build.
    """
    if type(x) is not np.ndarray or type(y) is not np.ndarray or x.ndim != 2 or y.ndim != 2:
        return None
    dtype = x.dtype
    if y.dtype != dtype or dtype.char not in "fd":
        return None
    m, k = x.shape
    n = y.shape[1]
    nv = -(-n // (32 // dtype.itemsize))
    name = dtype.name
    least = (MIN_WORK_GEMM if gemm else MIN_WORK).get(name)
    if least is None or nv > MAX_VECTORS or n < MIN_COLS[name] or m * k * n < least or y.shape[0] != k:
        return None
    step = dtype.itemsize
    if any(s % step for s in x.strides + y.strides):
        return None
    if not small.library_ready(_library, _building, _load):
        return None
    return _entries[(dtype, nv)]


def call(fn, x, y, alpha=1.0, z=None, out=None):
    """``out = [z +] alpha * (x @ y)`` through ``fn`` (from ``entry``); returns ``out``.

    ``out`` (default: a fresh C-contiguous array) and ``z`` must be C-contiguous of the
    product's shape and dtype; ``z`` may be ``out`` itself; neither may overlap x or y.
    """
    m, k = x.shape
    n = y.shape[1]
    dtype = x.dtype
    step, width = dtype.itemsize, lanes(dtype)
    nv = -(-n // width)
    if out is None:
        out = np.empty((m, n), dtype)
    scratch = np.empty(k * nv * width + width, dtype)
    fn(m, k, n, x.ctypes.data, x.strides[0] // step, x.strides[1] // step, y.ctypes.data,
       y.strides[0] // step, y.strides[1] // step, alpha, None if z is None else z.ctypes.data,
       out.ctypes.data, scratch.ctypes.data)
    return out


class Checked:
    """One node's switch to the C product: its first C result is compared with NumPy's.

    Until the library is loaded every product runs on NumPy; the first C call also runs
    NumPy's and compares at the checks' tolerance (as ``small.Switch``). If they agree
    the node uses C from then on; if not, a ``KernelMismatchWarning`` names the node and
    it stays on NumPy. Not compared with ``config.crosscheck = 'off'``, nor inside
    ``small.built_on_first_call`` (DebugMode and ``verigraph fuzz`` check every call).
    """

    def __init__(self, label, working_dtype, node=None, what="C product", library=None,
                 output=0):
        self.label, self.working_dtype, self.node = label, working_dtype, node
        self.output = output    # which of the node's outputs this switch's results are
        # The profile's and the warning's name for the C path, and its module's library
        # list (``[lib or None]`` once loaded), which ``describe`` reads.
        self.what, self.library = what, _library if library is None else library
        self.state = "unchecked" if small.VERIFY_SWITCH and small._crosscheck_on() else "on"

    def run(self, c_result, numpy_result, values=None):
        """``c_result()`` once trusted; on the first C call both, compared; else NumPy's.

        ``values``: the node's inputs, for the rounding allowance of a product whose
        terms cancel (``checks/rounding``), which the fixed tolerance alone would call a
        mismatch.
        """
        if self.state == "on":
            return c_result()
        if self.state == "off":
            return numpy_result()
        want = numpy_result()
        got = c_result()
        from verigraph.checks.tolerance import compare
        bad = compare(np.asarray(got), np.asarray(want), self.working_dtype)
        if bad is not None and self.node is not None and values is not None:
            from verigraph.checks.rounding import node_output_within
            if node_output_within(self.node, values, np.asarray(got), np.asarray(want),
                                  k=self.output,
                                  working_dtype=self.working_dtype):
                bad = None
        if bad is None:
            self.state = "on"
            return got
        self.state = "off"
        from verigraph.link.ckernels.small import warn_mismatch
        warn_mismatch(f"the {self.what} of {self.label}", "np.dot", bad, 5)
        return want

    def describe(self):
        """The profile's words for where this node's products run."""
        if self.state == "off":
            return f"NumPy ({self.what} disagreed)"
        if not self.library or self.library[0] is None:
            return None
        return self.what if self.state == "on" else f"{self.what} built, checked on next call"


def forget():
    """Drop the loaded library so the next eligible product builds it again (tests)."""
    _library.clear()
    _building.clear()
    _entries.clear()
