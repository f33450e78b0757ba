"""Softmax and log-softmax along the last axis as one C pass per row.

NumPy's version makes four whole-array passes (max, subtract and exp, sum, divide), each
reading and writing the full matrix; the C kernel keeps a row in L1 while it finds the
row's maximum, writes ``exp(x - max)`` with libmvec's vector exp while summing, and
scales the row. Results differ from the NumPy formula only by the order of the row sum
and the ulp between the kernels' exp (float64: ``codegen``'s inline ``vg_exp_d``; float32:
libmvec's, a few ulps) and NumPy's; softmax also scales by the sum's
reciprocal instead of dividing (one more rounding, ~7% faster on 1000x1000).

Rows are the last axis of a C-contiguous float32/float64 array (any number of leading
axes); anything else stays on NumPy. Like the small elementwise kernels (``small``), the
kernel is built in the background once a node has been called often, or on its first call
when that call is large.
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import codegen

_BODY = r"""
VG_CLONES void vg_NAME(vg_int n, const T *x, vg_int cols, T *out) {
    if (cols <= 0) return;
    if (cols < VG_SHORT_ROW) {
        /* Short rows (an MLP's 10 classes): a per-row vector loop would be mostly its
           scalar tail (a libm call per element), so whole blocks of rows go through one
           vector loop instead, with each row's maximum, then its scale, spread over the
           row in ``spread``. Same operations on the same values as the long-row path. */
        T spread[VG_ROWS_BLOCK] __attribute__((aligned(64)));
        T ebuf[VG_ROWS_BLOCK] __attribute__((aligned(64)));
        const vg_int per = VG_ROWS_BLOCK / cols * cols;
        for (vg_int start = 0; start + cols <= n; start += per) {
            const vg_int len = start + per <= n ? per : (n - start) / cols * cols;
            const T *xb = x + start;
            T *ob = out + start;
            for (vg_int r = 0; r < len; r += cols) {
                T m = -INFINITY;
                for (vg_int j = 0; j < cols; j++) m = xb[r + j] > m ? xb[r + j] : m;
                for (vg_int j = 0; j < cols; j++) spread[r + j] = m;
            }
            VG_SIMD
            for (vg_int i = 0; i < len; i++) {
                const T d = xb[i] - spread[i];
                ebuf[i] = EXP(d);
                SHORT_FIRST
            }
            for (vg_int r = 0; r < len; r += cols) {
                double s = 0;
                for (vg_int j = 0; j < cols; j++) s += (double)ebuf[r + j];
                SHORT_SCALE
                for (vg_int j = 0; j < cols; j++) spread[r + j] = k;
            }
            VG_SIMD
            for (vg_int i = 0; i < len; i++) SHORT_OUT
        }
        return;
    }
    for (vg_int start = 0; start + cols <= n; start += cols) {
        const T *xr = x + start;
        T *o = out + start;
        /* NaNs are skipped here; exp(NaN - m) then makes the row's sum, so the row, NaN. */
        T m = -INFINITY;
        VG_SIMD_MAX
        for (vg_int j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        double s = 0;   /* float32 rows too: a float sum of 1 + many tiny terms drifts */
        VG_SIMD_SUM
        for (vg_int j = 0; j < cols; j++) {
            T e = EXP(xr[j] - m);
            FIRST
            s += (double)e;
        }
        SECOND
    }
}
"""
# softmax: store e, then divide by the sum; log_softmax: store x - m, then subtract log(s).
_PARTS = {
    "softmax": ("o[j] = e;", "const T r = (T)(1.0 / s);\n        VG_SIMD\n"
                "        for (vg_int j = 0; j < cols; j++) o[j] = o[j] * r;"),
    "log_softmax": ("o[j] = xr[j] - m;",
                    "const T ls = (T)log(s);\n        VG_SIMD\n"
                    "        for (vg_int j = 0; j < cols; j++) o[j] = o[j] - ls;"),
}
# The short-row path's pieces: (after exp, the row's scale ``k``, the output).
_SHORT_PARTS = {
    "softmax": ("", "const T k = (T)(1.0 / s);", "ob[i] = ebuf[i] * spread[i];"),
    "log_softmax": ("ob[i] = d;", "const T k = (T)log(s);", "ob[i] = ob[i] - spread[i];"),
}
_EXTRA_PROLOGUE = r"""
/* Rows shorter than this take the blocked path; a block holds this many values. */
#define VG_SHORT_ROW 32
#define VG_ROWS_BLOCK 1024
#ifdef VG_MVEC
#define VG_SIMD_SUM _Pragma("omp simd reduction(+:s)")
#define VG_SIMD_MAX _Pragma("omp simd reduction(max:m)")
#else
#define VG_SIMD_SUM
#define VG_SIMD_MAX
#endif
"""


def kernel(name, dtype):
    """The codegen.Kernel of ``name`` ("softmax" or "log_softmax") for float32/float64 rows."""
    ctype = codegen.C_TYPES[dtype]
    suffix = "f" if dtype == "float32" else ""
    first, second = _PARTS[name]
    short_first, short_scale, short_out = _SHORT_PARTS[name]
    body = (_BODY.replace("SHORT_FIRST", short_first).replace("SHORT_SCALE", short_scale)
            .replace("SHORT_OUT", short_out)
            .replace("FIRST", first).replace("SECOND", second).replace("NAME", name)
            .replace("T ", f"{ctype} ").replace("T *", f"{ctype} *").replace("(T)", f"({ctype})")
            .replace("EXP(", "vg_exp_f(" if suffix else "vg_exp_d(").replace("LOG(", f"log{suffix}("))
    entry = f"vg_{name}"
    source = (codegen.PROLOGUE + _EXTRA_PROLOGUE + codegen._helpers() + body
              + codegen._packed(entry, ["full", "scalar"], [dtype, "int64"], ctype, False))
    return codegen.Kernel(source, entry, ["full", "scalar"], [dtype, "int64"], dtype, False, 1)


def rows_fn(name, axis, dtype, numpy_fn):
    """``numpy_fn`` with the C row kernel for last-axis calls (see ``small.wrap``)."""
    from verigraph.link import ckernels
    from verigraph.link.ckernels import small
    if not ckernels.enabled() or str(np.dtype(dtype)) not in ("float32", "float64"):
        return numpy_fn
    spec = (kernel(name, str(np.dtype(dtype))), False, -1, 1 << 62)
    pool, large = ckernels._OutputPool(), ckernels.MIN_SIZE

    def call_kernel(k, args):
        x = args[0]
        if not (x.ndim and axis in (-1, x.ndim - 1)):
            return None
        if x.size < large:
            return k(x, x.shape[-1])
        # Large outputs come from the node's pool: a fresh 8 MB array can cost page faults
        # and zeroing (bimodal 1.1 / 2.2 ms on 1000x1000 in the benchmark process).
        return k(x, x.shape[-1], pool.empty(x.shape, x.dtype, x.ctypes.data, x.size))
    switch = small.Switch(f"{name} rows", -1, str(np.dtype(dtype)))
    return small.wrap(numpy_fn, spec, switch, call_kernel, spec[0].source,
                      eager_size=ckernels.MIN_SIZE)
