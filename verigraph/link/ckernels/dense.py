"""A dense layer's ``act(x @ W + b)`` as one C loop: the bias and activation run on each
block of the product while it is still in registers and L1.

After a GEMM, ``tanh(z + b)`` is a second pass over an output the GEMM just pushed out
of the cache (256x500 float64 after the MLP's first layer: ~200 µs in the graph against
~150 standalone), and XLA avoids it by fusing the activation into its dot. This loop
does the same with a register-blocked AVX-512 product: ``MR`` rows by ``NV`` vectors of
output columns accumulate in 24 vector registers over the whole shared dimension,
reading ``W``'s rows in place (no packing: each row's slice of the block is contiguous)
and broadcasting one element of ``x`` per row; the epilogue (bias, then tanh, sigmoid or
relu) runs on the accumulators before the block's one store where it can (whole panels;
bias, relu, float32 tanh), else over the stored block from L1. Measured on the
(256, 784) x (784, 500) product with bias and tanh: 0.95-0.98x ``np.dot``'s (OpenBLAS)
time for the product alone in float32, 0.97-0.99x in float64 (2-core EPYC VM, one
thread).

Each output element is the left-to-right sum over the shared dimension with fused
multiply-adds, then ``+ b`` and the activation (``codegen``'s helpers: tanh within 6.3
ulp in float32 and 2 in float64, sigmoid through exp, relu exact): NumPy's ``np.dot``
sums in another order, so the two agree to a reordered sum's rounding
(``checks/rounding``). Only CPUs with AVX-512F run it (checked when the library loads);
elsewhere the node computes ``np.dot`` then its elementwise kernel, as before the
rewrite. The library is built on the first eligible
call in the background (as ``skinny``) and each node's first C result is compared with
that composition before it takes over.
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import dense_backward, small
from verigraph.tensor import dense as _dense_op

# Rows of the output block and vectors (16 float32 or 8 float64 lanes) per row: 6 x 4
# accumulators plus 4 loaded vectors of W and a broadcast element fill 29 of the 32
# AVX-512 registers. (6 x 4 measured ahead of 8 x 3 and 12 x 2 on the MLP's product.)
MR, NV = 6, 4
# Rows of W ahead of the current one to prefetch (2 and 16 measured best; 0 was 5% slower).
PREFETCH_ROWS = 2
# Multiply-adds from which the loop runs (below, the ctypes call and the block edges
# cost more than OpenBLAS's small-product paths), and the fewest output columns (with
# fewer than two vectors per row the block's accumulators do not hide the FMA latency).
MIN_WORK = 1 << 20
MIN_COLS = {"float32": 32, "float64": 16}
_MIN_COLS_BY_DTYPE = {np.dtype(name): cols for name, cols in MIN_COLS.items()}
# The activations the loop applies, by their index (its ``act`` argument).
ACTIVATIONS = _dense_op.ACTIVATIONS
_TYPES = {"float32": ("float", "f", "ps", 16, "__mmask16", "0xFFFF"),
          "float64": ("double", "d", "pd", 8, "__mmask8", "0xFF")}

# After codegen.PROLOGUE (vg_int, VG_FMA, libmvec's SIMD declarations and VG_SIMD).
_HEADER = r"""
#include <stdlib.h>
#include <stdint.h>
#include <immintrin.h>

/* codegen's float32 tanh (vg_tanh_f) on 16 lanes: the same operations in the same order
   (no contraction), so the same bits, applied to a finished block while it is still in
   registers instead of storing it and looping over it again from L1. */
__attribute__((target("avx512f")))
static inline __m512 vg_tanh_f16(__m512 x) {
    const __m512 s = _mm512_mul_ps(x, x);
    __m512 p = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(1.33186582e-08f), s),
                             _mm512_set1_ps(2.05831766e-05f));
    p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.00349401613f));
    p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(0.13379702f));
    p = _mm512_add_ps(_mm512_mul_ps(p, s), _mm512_set1_ps(1.0f));
    __m512 q = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(7.76184777e-07f), s),
                             _mm512_set1_ps(0.000328306254f));
    q = _mm512_add_ps(_mm512_mul_ps(q, s), _mm512_set1_ps(0.025871003f));
    q = _mm512_add_ps(_mm512_mul_ps(q, s), _mm512_set1_ps(0.467130184f));
    q = _mm512_add_ps(_mm512_mul_ps(q, s), _mm512_set1_ps(1.0f));
    const __m512 y = _mm512_div_ps(_mm512_mul_ps(x, p), q);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
    const __m512 one = _mm512_castsi512_ps(_mm512_or_si512(sign,
                                           _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(9.02f),
                                             _CMP_GT_OQ);
    return _mm512_mask_blend_ps(big, y, one);
}
"""

# The narrow next layer (``DensePair``): a finished block of MRv rows of h times the
# block's rows of w2 (one or two vectors of columns), added to those rows of z2 while the
# block is in L1. Each z2 entry is summed over the panels in turn, within a panel in
# order of the shared index, with fused multiply-adds.
_HEAD_TYPE = r"""
typedef struct {
    const T *w2;        /* w2's rows for this panel's columns */
    vg_int ldw2;
    T *z2;              /* z2's rows for this block's rows */
    vg_int ldz2;
    int n2;             /* z2's columns: 1 .. 2 * LANES */
} vg_head_S_t;
"""

_HEAD = r"""
__attribute__((target("avx512f,fma")))
static inline void vg_head_S_MRv_NV2(const vg_head_S_t *hd, const T *c, vg_int ldc, int cols) {
    const MASK m0 = NV2 == 2 || hd->n2 >= LANES ? (MASK)FULL : (MASK)((1u << hd->n2) - 1u);
    const MASK m1 = NV2 == 2 ? (MASK)((1u << (hd->n2 - LANES)) - 1u) : (MASK)0;
    VEC z0[MRv], z1[MRv];
    #pragma GCC unroll 8
    for (int r = 0; r < MRv; r++) {
        z0[r] = _mm512_maskz_loadu_SUF(m0, hd->z2 + r * hd->ldz2);
        if (NV2 == 2) z1[r] = _mm512_maskz_loadu_SUF(m1, hd->z2 + r * hd->ldz2 + LANES);
    }
    for (int q = 0; q < cols; q++) {
        const T *wr = hd->w2 + q * hd->ldw2;
        const VEC w0 = _mm512_maskz_loadu_SUF(m0, wr);
        const VEC w1 = NV2 == 2 ? _mm512_maskz_loadu_SUF(m1, wr + LANES) : w0;
        #pragma GCC unroll 8
        for (int r = 0; r < MRv; r++) {
            const VEC e = _mm512_set1_SUF(c[r * ldc + q]);
            z0[r] = _mm512_fmadd_SUF(e, w0, z0[r]);
            if (NV2 == 2) z1[r] = _mm512_fmadd_SUF(e, w1, z1[r]);
        }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < MRv; r++) {
        _mm512_mask_storeu_SUF(hd->z2 + r * hd->ldz2, m0, z0[r]);
        if (NV2 == 2) _mm512_mask_storeu_SUF(hd->z2 + r * hd->ldz2 + LANES, m1, z1[r]);
    }
}
"""

_BLOCK = r"""
__attribute__((target("avx512f,fma")))
static void vg_block_S_MRv_VPB_WHOLE(vg_int k, const T *a, vg_int lda, const T *w, vg_int ldw, T *c,
                           vg_int ldc, const MASK *mk, int cols, const T *bias, int act,
                           const vg_head_S_t *head) {
    VEC acc[MRv][VPB];
    #pragma GCC unroll 8
    for (int r = 0; r < MRv; r++)
        #pragma GCC unroll 4
        for (int v = 0; v < VPB; v++) acc[r][v] = _mm512_setzero_SUF();
    for (vg_int p = 0; p < k; p++) {
        const T *row = w + p * ldw;
        /* every cache line of the row slice, PF rows ahead (float64: 4 lines) */
        #pragma GCC unroll 4
        for (int q = 0; q < VPB * LANES * (int)sizeof(*row) / 64; q++)
            _mm_prefetch((const char *)(row + PF * ldw) + 64 * q, _MM_HINT_T0);
        VEC wv[VPB];
        #pragma GCC unroll 4
        for (int v = 0; v < VPB; v++)
            wv[v] = WHOLE ? _mm512_loadu_SUF(row + LANES * v) : _mm512_maskz_loadu_SUF(mk[v], row + LANES * v);
        #pragma GCC unroll 8
        for (int r = 0; r < MRv; r++) {
            VEC e = _mm512_set1_SUF(a[r * lda + p]);
            #pragma GCC unroll 4
            for (int v = 0; v < VPB; v++) acc[r][v] = _mm512_fmadd_SUF(e, wv[v], acc[r][v]);
        }
    }
    /* Whole blocks: the bias and activation on the accumulators, then one store (the
       loop below stores, then reads the block back). The same operations as there: the
       same bits. tanh in registers is float32's (REGTANH); sigmoid and float64 tanh
       (libmvec exp / the FMA expm1 form) keep the loop. */
    if (WHOLE && (act == 0 || act == 3 || (REGTANH && act == 1))) {
        VEC bv[VPB];
        #pragma GCC unroll 4
        for (int v = 0; v < VPB; v++)
            bv[v] = bias != NULL ? _mm512_loadu_SUF(bias + LANES * v) : _mm512_setzero_SUF();
        #pragma GCC unroll 8
        for (int r = 0; r < MRv; r++)
            #pragma GCC unroll 4
            for (int v = 0; v < VPB; v++) {
                VEC z = bias != NULL ? _mm512_add_SUF(acc[r][v], bv[v]) : acc[r][v];
                if (act == 3)   /* vg_max(z, 0): z unless z < 0 (NaN and -0 kept) */
                    z = _mm512_maskz_mov_SUF(_mm512_cmp_SUF_mask(z, _mm512_setzero_SUF(),
                                                                _CMP_NLT_UQ), z);
#if REGTANH
                else if (act == 1)
                    z = vg_tanh_f16(z);
#endif
                _mm512_storeu_SUF(c + r * ldc + LANES * v, z);
            }
        goto head;
    }
    #pragma GCC unroll 8
    for (int r = 0; r < MRv; r++)
        #pragma GCC unroll 4
        for (int v = 0; v < VPB; v++) {
            if (WHOLE) _mm512_storeu_SUF(c + r * ldc + LANES * v, acc[r][v]);
            else _mm512_mask_storeu_SUF(c + r * ldc + LANES * v, mk[v], acc[r][v]);
        }
    if (bias == NULL && act == 0) goto head;
    /* The epilogue: codegen's helpers, as the fused elementwise kernels compute them
       (1 tanh, 2 sigmoid through libmvec's exp where it is linked, 3 relu = max(z, 0)
       with NaN kept). */
    for (int r = 0; r < MRv; r++) {
        T *o = c + r * ldc;
        if (bias != NULL) {
            VG_SIMD
            for (int j = 0; j < cols; j++) o[j] = o[j] + bias[j];
        }
        if (act == 1) {
            VG_SIMD
            for (int j = 0; j < cols; j++) o[j] = vg_tanh_S(o[j]);
        } else if (act == 2) {
            VG_SIMD
            for (int j = 0; j < cols; j++) o[j] = vg_sigmoid_S(o[j]);
        } else if (act == 3) {
            VG_SIMD
            for (int j = 0; j < cols; j++) o[j] = vg_max_S(o[j], 0);
        }
    }
head:
    if (head != NULL) {
        if (head->n2 > LANES) vg_head_S_MRv_2(head, c, ldc, cols);
        else vg_head_S_MRv_1(head, c, ldc, cols);
    }
}
"""

_ENTRY = r"""
typedef void (*vg_block_S_fn)(vg_int, const T *, vg_int, const T *, vg_int, T *, vg_int,
                              const MASK *, int, const T *, int, const vg_head_S_t *);
/* c[m, n] = act(a[m, k] @ w[k, n] + bias[n]); rows of a, w and c are contiguous with
   strides lda, ldw, ldc (elements); bias may be NULL; act 0 = identity, 1 = tanh. Whole
   panels of NV vectors use plain loads and stores; the last, partial panel a block of
   just the vectors it needs, masked (float64 500 columns: 2.5 vectors, not 4). */
/* With w2 (k2 = n rows, n2 <= 2 * LANES columns): also z2[m, n2] = c @ w2 + b2 (b2 may be
   NULL), z2's rows contiguous with stride ldz2, accumulated block by block (z2 is
   zeroed here first). */
__attribute__((target("avx512f,fma")))
void vg_dense_pair_S(vg_int m, vg_int n, vg_int k, const T *a, vg_int lda, const T *w,
                     vg_int ldw, const T *bias, int act, T *c, vg_int ldc, const T *w2,
                     vg_int ldw2, int n2, const T *b2, T *z2, vg_int ldz2) {
    static const vg_block_S_fn whole[MR + 1] = {WHOLE_TABLE};
    static const vg_block_S_fn part[MR + 1][NV + 1] = {PART_TABLE};
    const vg_int nr = NV * LANES;
    if (z2 != NULL)
        for (vg_int i = 0; i < m; i++)
            for (int q = 0; q < n2; q++) z2[i * ldz2 + q] = 0;
    for (vg_int j = 0; j < n; j += nr) {
        vg_int cols = n - j < nr ? n - j : nr;
        int nvb = (int)((cols + LANES - 1) / LANES);
        MASK mk[NV];
        for (int v = 0; v < NV; v++) {
            vg_int left = cols - LANES * v;
            mk[v] = left >= LANES ? (MASK)FULL : left <= 0 ? (MASK)0 : (MASK)((1u << left) - 1u);
        }
        const T *bj = bias == NULL ? NULL : bias + j;
        for (vg_int i = 0; i < m; i += MR) {
            int rows = (int)(m - i < MR ? m - i : MR);
            vg_block_S_fn fn = cols == nr ? whole[rows] : part[rows][nvb];
            vg_head_S_t hd = {w2 == NULL ? NULL : w2 + j * ldw2, ldw2,
                            z2 == NULL ? NULL : z2 + i * ldz2, ldz2, n2};
            fn(k, a + i * lda, lda, w + j, ldw, c + i * ldc + j, ldc, mk, (int)cols, bj, act,
               w2 == NULL ? NULL : &hd);
        }
    }
    if (w2 != NULL && b2 != NULL)
        for (vg_int i = 0; i < m; i++)
            for (int q = 0; q < n2; q++) z2[i * ldz2 + q] = z2[i * ldz2 + q] + b2[q];
}

void vg_dense_S(vg_int m, vg_int n, vg_int k, const T *a, vg_int lda, const T *w, vg_int ldw,
                const T *bias, int act, T *c, vg_int ldc) {
    vg_dense_pair_S(m, n, k, a, lda, w, ldw, bias, act, c, ldc, NULL, 0, 0, NULL, NULL, 0);
}
"""

_PROBE = r"""
int vg_dense_supported(void) {
#if defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
"""


def _for_dtype(text, dtype):
    ctype, letter, suffix, lanes, mask, full = _TYPES[dtype]
    return (text.replace("_SUF", "_" + suffix).replace("VEC", "__m512" + ("d" if letter == "d" else ""))
            .replace("MASK", mask).replace("FULL", full).replace("LANES", str(lanes))
            .replace("_S(", f"_{letter}(").replace("_S_", f"_{letter}_").replace("T ", f"{ctype} ")
            .replace("T *", f"{ctype} *").replace("NV", str(NV)).replace("PF", str(PREFETCH_ROWS))
            .replace("REGTANH", "1" if dtype == "float32" else "0"))


def source():
    """The C source of the library (both dtypes; the tanh forms are ``codegen``'s)."""
    from verigraph.link.ckernels import codegen
    parts = [codegen.PROLOGUE, _HEADER, codegen._helpers(), _PROBE]
    for dtype in _TYPES:
        letter = _TYPES[dtype][1]
        parts.append(_for_dtype(_HEAD_TYPE, dtype))
        for rows in range(1, MR + 1):
            for nv2 in (1, 2):
                parts.append(_for_dtype(_HEAD.replace("NV2", str(nv2)), dtype)
                             .replace("MRv", str(rows)))
        blocks = [(rows, NV, 1) for rows in range(1, MR + 1)] + \
            [(rows, nv, 0) for rows in range(1, MR + 1) for nv in range(1, NV + 1)]
        for rows, nv, whole in blocks:
            parts.append(_for_dtype(_BLOCK, dtype).replace("MRv", str(rows))
                         .replace("VPB", str(nv)).replace("WHOLE", str(whole)))
        name = f"vg_block_{letter}_{{}}_{{}}_{{}}"
        whole_table = ", ".join(["0"] + [name.format(r, NV, 1) for r in range(1, MR + 1)])
        part_table = ", ".join(["{0}"] + ["{" + ", ".join(["0"] + [name.format(r, nv, 0)
                                                                  for nv in range(1, NV + 1)]) + "}"
                                          for r in range(1, MR + 1)])
        parts.append(_for_dtype(_ENTRY, dtype).replace("WHOLE_TABLE", whole_table)
                     .replace("PART_TABLE", part_table).replace("MR", str(MR)))
        parts.append(dense_backward.source_parts(_for_dtype, dtype))
    return "".join(parts)


# --- Python side -------------------------------------------------------------------

_library = []      # [ctypes.CDLL or None] once built (or found unbuildable/unsupported)
_building = []     # non-empty once a build was requested
_entries = {}      # dtype -> ctypes function
_pair_entries = {}  # dtype -> ctypes function of the pair (``vg_dense_pair_*``)
_back_entries = {}  # dtype -> ctypes function of the tanh backward loop (``vg_tanh_back_*``)


def _load():
    """Compile (cached on disk) and load the library; record None when it cannot run."""
    small.load_library(source, _library, _bind)


def _bind(lib):
    import ctypes
    if not lib.vg_dense_supported():
        return False          # no AVX-512 here: the node keeps np.dot and its kernel
    i64, ptr = ctypes.c_longlong, ctypes.c_void_p
    for dtype, (_, letter, *_rest) in _TYPES.items():
        fn = getattr(lib, f"vg_dense_{letter}")
        fn.argtypes = [i64, i64, i64, ptr, i64, ptr, i64, ptr, ctypes.c_int, ptr, i64]
        fn.restype = None
        _entries[np.dtype(dtype)] = fn
        pair = getattr(lib, f"vg_dense_pair_{letter}")
        pair.argtypes = fn.argtypes + [ptr, i64, ctypes.c_int, ptr, ptr, i64]
        pair.restype = None
        _pair_entries[np.dtype(dtype)] = pair
        back = getattr(lib, f"vg_tanh_back_{letter}")
        back.argtypes = [i64, i64, i64, ptr, i64, ptr, i64, ptr, i64, ptr, i64, ptr, i64, ptr]
        back.restype = ctypes.c_int
        _back_entries[np.dtype(dtype)] = back
    return True


def may_serve(dtype, columns):
    """Whether products of ``dtype`` with ``columns`` (static; None: unknown) may use the loop."""
    name = np.dtype(dtype).name
    return name in MIN_COLS and (columns is None or columns >= MIN_COLS[name])


def entry(x, w, bias):
    """The loaded C function for ``act(x @ w + bias)``, or None when NumPy computes it.

    None unless ``x`` and ``w`` are 2-D arrays of one float dtype whose rows are
    contiguous, ``bias`` (if any) a contiguous 1-D or (1, n) array of it, and the product
    is large enough; the first eligible call starts the build.
    """
    if type(x) is not np.ndarray or type(w) is not np.ndarray or x.ndim != 2 or w.ndim != 2:
        return None
    dtype = x.dtype
    least = _MIN_COLS_BY_DTYPE.get(dtype)    # (dtype.name costs a microsecond)
    if least is None or w.dtype != dtype:
        return None
    m, k = x.shape
    n = w.shape[1]
    if w.shape[0] != k or n < least or m * k * n < MIN_WORK:
        return None
    step = dtype.itemsize
    if x.strides[1] != step or w.strides[1] != step or x.strides[0] % step or w.strides[0] % step:
        return None
    if bias is not None and (type(bias) is not np.ndarray or bias.dtype != dtype or
                             bias.size != n or not bias.flags.c_contiguous):
        return None
    if not small.library_ready(_library, _building, _load):
        return None
    return _entries[dtype]


def call(fn, x, w, bias, act, out=None):
    """``out = act(x @ w + bias)`` through ``fn`` (from ``entry``); returns ``out``.

    ``act`` is one of ``ACTIVATIONS``; ``out`` (default: fresh) must be C-contiguous of
    the product's shape and dtype and must not overlap the operands.
    """
    m, k = x.shape
    n = w.shape[1]
    step = x.dtype.itemsize
    if out is None:
        out = np.empty((m, n), x.dtype)
    fn(m, n, k, x.ctypes.data, x.strides[0] // step, w.ctypes.data, w.strides[0] // step,
       None if bias is None else bias.ctypes.data, ACTIVATIONS.index(act), out.ctypes.data, n)
    return out


def pair_entry(x, w, bias, w2, b2):
    """The loaded C function for ``h = act(x @ w + bias)`` with ``h @ w2 + b2`` computed
    block by block, or None: as ``entry`` for the first layer, and ``w2`` a 2-D array of
    the dtype with ``w.shape[1]`` rows, contiguous rows and 1 to ``2 * LANES`` columns
    (two vectors), ``b2`` a contiguous vector of its columns."""
    if entry(x, w, bias) is None or type(w2) is not np.ndarray or type(b2) is not np.ndarray:
        return None
    dtype = x.dtype
    lanes = 64 // dtype.itemsize
    if w2.ndim != 2 or w2.dtype != dtype or w2.shape[0] != w.shape[1] or \
            not 1 <= w2.shape[1] <= 2 * lanes or w2.strides[1] != dtype.itemsize or \
            w2.strides[0] % dtype.itemsize:
        return None
    if b2.dtype != dtype or b2.size != w2.shape[1] or not b2.flags.c_contiguous:
        return None
    return _pair_entries[dtype]


def call_pair(fn, x, w, bias, act, w2, b2, out=None):
    """``(h, z)``: ``h = act(x @ w + bias)`` (into ``out`` if given) and ``z = h @ w2 + b2``
    through ``fn`` (from ``pair_entry``)."""
    m, k = x.shape
    n, n2 = w.shape[1], w2.shape[1]
    step = x.dtype.itemsize
    if out is None:
        out = np.empty((m, n), x.dtype)
    z = np.empty((m, n2), x.dtype)
    fn(m, n, k, x.ctypes.data, x.strides[0] // step, w.ctypes.data, w.strides[0] // step,
       None if bias is None else bias.ctypes.data, ACTIVATIONS.index(act), out.ctypes.data, n,
       w2.ctypes.data, w2.strides[0] // step, n2, b2.ctypes.data, z.ctypes.data, n2)
    return out, z


def forget():
    """Drop the loaded library so the next eligible call builds it again (tests)."""
    _library.clear()
    _building.clear()
    _entries.clear()
    _pair_entries.clear()
    _back_entries.clear()
