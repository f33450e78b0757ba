"""``NarrowTanhGrad``'s C loop (part of the ``dense`` library): the backward pass through a
narrow layer into a tanh layer, reading the hidden activations once.

For ``z = h @ w2 + b2`` with few columns (an MLP's 10 classes) after ``h = tanh(...)``, the
gradient graph computes ``gz @ w2.T`` (a thin product into a (m, k) buffer), then
``(1 - h * h)`` times it (a pass reading that buffer and ``h``), and ``h.T @ gz`` for
``w2``'s gradient (another pass over ``h``). In a training step ``h`` comes back from
memory for each. This loop walks ``h`` once, eight rows at a time: for each vector of
columns it forms the eight rows of ``gz @ w2.T`` from ``w2`` transposed (packed, L1), writes
``(1 - h * h)`` times them, and adds ``gz[i, c] * h[i]`` into ``w2``'s gradient (kept
transposed in L1, written back at the end); optionally it also sums the written rows
per column (the bias gradient), in row order as NumPy does.

Each output is a sum over the shared dimension in another order than NumPy's (``gz @
w2.T``: over the n2 columns in order; ``h.T @ gz``: over the rows, eight at a time, then
block after block), with fused multiply-adds, so results agree to a reordered sum's
rounding (``checks/rounding``); ``1 - h * h`` and the product are the graph's own
operations. AVX-512 only, like the forward loop.
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import small

# Rows of h per step (each vector of w2's packed columns is loaded once for them; 8:
# 0.53x the NumPy composition's time warm on 256x500x10 float32, 6: 0.53x, 4: 0.56x).
ROWS = 8

_BACKWARD = r"""
__attribute__((target("avx512f,fma")))
static inline void vg_tanh_back_S_RB(vg_int k, vg_int n2, const T *gz, vg_int ldgz,
                                     const T *wt, const T *h, vg_int ldh, T *gpre,
                                     vg_int ldg, T *acc, T *gsum) {
    const vg_int nvec = (k + LANES - 1) / LANES;
    for (vg_int v = 0; v < nvec; v++) {
        const vg_int j = v * LANES;
        const MASK mk = k - j >= LANES ? (MASK)FULL : (MASK)((1u << (k - j)) - 1u);
        VEC hv[RB], dh[RB];
        #pragma GCC unroll 8
        for (int r = 0; r < RB; r++) {
            hv[r] = _mm512_maskz_loadu_SUF(mk, h + r * ldh + j);
            dh[r] = _mm512_setzero_SUF();
            /* the next block's rows (h is usually back in memory by now); past the last
               row a prefetch reads nothing (it never faults) */
            _mm_prefetch((const char *)(h + (r + RB) * ldh + j), _MM_HINT_T0);
        }
        for (vg_int c = 0; c < n2; c++) {
            const VEC w = _mm512_maskz_loadu_SUF(mk, wt + c * k + j);
            VEC a = _mm512_maskz_loadu_SUF(mk, acc + c * k + j);
            #pragma GCC unroll 8
            for (int r = 0; r < RB; r++) {
                const VEC g = _mm512_set1_SUF(gz[r * ldgz + c]);
                dh[r] = _mm512_fmadd_SUF(g, w, dh[r]);
                a = _mm512_fmadd_SUF(g, hv[r], a);
            }
            _mm512_mask_storeu_SUF(acc + c * k + j, mk, a);
        }
        const VEC one = _mm512_set1_SUF(1);
        VEC col = gsum != NULL ? _mm512_maskz_loadu_SUF(mk, gsum + j) : one;
        #pragma GCC unroll 8
        for (int r = 0; r < RB; r++) {
            const VEC t = _mm512_sub_SUF(one, _mm512_mul_SUF(hv[r], hv[r]));
            const VEC g = _mm512_mul_SUF(dh[r], t);
            _mm512_mask_storeu_SUF(gpre + r * ldg + j, mk, g);
            if (gsum != NULL) col = _mm512_add_SUF(col, g);   /* rows in order, as NumPy */
        }
        if (gsum != NULL) _mm512_mask_storeu_SUF(gsum + j, mk, col);
    }
}
"""

_BACKWARD_ENTRY = r"""
/* gpre[m, k] = (gz[m, n2] @ w2[k, n2].T) * (1 - h * h) and gw2[k, n2] = h.T @ gz; rows
   contiguous with the given strides; with gsum (k values, else NULL) also gpre's column
   sums. Returns nonzero (nothing written) when the two scratch buffers cannot be
   allocated. */
__attribute__((target("avx512f,fma")))
int vg_tanh_back_S(vg_int m, vg_int k, vg_int n2, const T *gz, vg_int ldgz, const T *w2,
                   vg_int ldw2, const T *h, vg_int ldh, T *gpre, vg_int ldg, T *gw2,
                   vg_int ldgw2, T *gsum) {
    const size_t count = n2 * k > 0 ? (size_t)(n2 * k) : 1;
    T *wt = malloc(count * sizeof(*gw2));
    T *acc = calloc(count, sizeof(*gw2));
    if (wt == NULL || acc == NULL) { free(wt); free(acc); return 1; }
    for (vg_int q = 0; q < k; q++)
        for (vg_int c = 0; c < n2; c++) wt[c * k + q] = w2[q * ldw2 + c];
    if (gsum != NULL)
        for (vg_int q = 0; q < k; q++) gsum[q] = 0;
    vg_int i = 0;
    for (; i + ROWS <= m; i += ROWS)
        vg_tanh_back_S_ROWS(k, n2, gz + i * ldgz, ldgz, wt, h + i * ldh, ldh, gpre + i * ldg,
                            ldg, acc, gsum);
    for (; i < m; i++)
        vg_tanh_back_S_1(k, n2, gz + i * ldgz, ldgz, wt, h + i * ldh, ldh, gpre + i * ldg,
                         ldg, acc, gsum);
    for (vg_int q = 0; q < k; q++)
        for (vg_int c = 0; c < n2; c++) gw2[q * ldgw2 + c] = acc[c * k + q];
    free(wt);
    free(acc);
    return 0;
}
"""


def source_parts(for_dtype, dtype):
    """The loop's C text for ``dtype`` (``for_dtype`` is ``dense``'s type substitution)."""
    parts = [for_dtype(_BACKWARD.replace("RB", str(rows)), dtype) for rows in (ROWS, 1)]
    parts.append(for_dtype(_BACKWARD_ENTRY.replace("ROWS", str(ROWS)), dtype))
    return "".join(parts)

# Multiply-adds (m * k * n2, twice) from which the loop runs, and the most columns of gz
# (beyond two vectors' worth the n2 loop is better left to BLAS).
MIN_WORK = 1 << 16
MAX_COLUMNS = 32


def entry(gz, w2, h):
    """The loaded C function for ``NarrowTanhGrad`` on these values, or None (NumPy): ``gz``
    (m, n2), ``w2`` (k, n2), ``h`` (m, k) 2-D arrays of one float dtype with contiguous
    rows, 1 <= n2 <= ``MAX_COLUMNS``, and enough work; the first eligible call starts the
    library's build."""
    from verigraph.link.ckernels import dense
    arrays = (gz, w2, h)
    if any(type(a) is not np.ndarray or a.ndim != 2 for a in arrays):
        return None
    dtype = gz.dtype
    fn = dense._back_entries.get(dtype)
    if fn is None and dtype not in dense._MIN_COLS_BY_DTYPE:
        return None
    if w2.dtype != dtype or h.dtype != dtype:
        return None
    (m, n2), (k, n2b) = gz.shape, w2.shape
    if n2b != n2 or h.shape != (m, k) or not 1 <= n2 <= MAX_COLUMNS or m * k * n2 < MIN_WORK:
        return None
    step = dtype.itemsize
    if any(a.strides[1] != step or a.strides[0] % step for a in arrays):
        return None
    if fn is None:
        if not small.library_ready(dense._library, dense._building, dense._load):
            return None
        fn = dense._back_entries.get(dtype)
    return fn


def call(fn, gz, w2, h, out=None, column_sums=False):
    """``(gpre, gw2)`` through ``fn`` (from ``entry``), and ``gpre.sum(axis=0)`` with
    ``column_sums``; ``gpre`` into ``out`` if given (C-contiguous (m, k)); None when the
    loop could not allocate its scratch."""
    m, n2 = gz.shape
    k = w2.shape[0]
    step = gz.dtype.itemsize
    if out is None:
        out = np.empty((m, k), gz.dtype)
    gw2 = np.empty((k, n2), gz.dtype)
    sums = np.empty(k, gz.dtype) if column_sums else None
    if fn(m, k, n2, gz.ctypes.data, gz.strides[0] // step, w2.ctypes.data,
          w2.strides[0] // step, h.ctypes.data, h.strides[0] // step, out.ctypes.data, k,
          gw2.ctypes.data, n2, None if sums is None else sums.ctypes.data):
        return None
    return (out, gw2) if sums is None else (out, gw2, sums)
