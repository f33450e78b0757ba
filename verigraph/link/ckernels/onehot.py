"""The cross-entropy ops' fast paths as single C passes (``tensor/crossentropy.py``).

``LogSoftmaxOneHotGrad``: NumPy needs five calls (exp, a broadcast multiply over rows of
10, a fancy-index read, add and write, and the test that the rows are ``0..n-1``), ~14 µs
warm on the MLP's 256x10 and three times that inside a training step, where each call's
code and data come back from memory after the large products; the kernel, 1.8 µs warm,
checks the rows and labels, then writes ``exp(logsm)`` scaled by ``-values[i]`` per row
and adds ``values[i]`` at the label: the NumPy fast path's operations in the same order,
so results differ only by the ulp between exp implementations (float32: libmvec's;
float64: ``codegen``'s inline one). ``PickLabels``: ``x[i, labels[i]]`` per row.

Rows other than ``0..n-1``, a label out of range, other layouts or dtypes: the kernel
declines (before writing anything) and the op's NumPy function runs, which also raises
the usual errors. Tiered like the small elementwise kernels (``small``): built in the
background once the node has been called often, its first result checked against NumPy.
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import codegen

# Index dtypes the kernels read (uint64 does not fit the signed arithmetic: NumPy's path).
INDEX_TYPES = {"int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
               "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int"}

# Each row's label as a column in 0..cols-1 (negative labels count from the end); with
# VG_HAS_ROWS the rows must also be 0..m-1. Nonzero: decline.
_CHECK = r"""
static int vg_labels_check(vg_int m, vg_int cols, const vg_row *rows, const vg_label *lab) {
    for (vg_int i = 0; i < m; i++) {
        vg_int c = (vg_int)lab[i];
        c += c < 0 ? cols : 0;
        if (c < 0 || c >= cols) return 1;
#if VG_HAS_ROWS
        if ((vg_int)rows[i] != i) return 1;
#endif
    }
    return 0;
}
"""

_GRAD = r"""
VG_CLONES int vg_onehot_grad(vg_int n, vg_int cols, const vg_t *v, const vg_t *ls,
                             const vg_row *rows, const vg_label *lab, vg_t *out) {
    if (cols <= 0) return 1;
    const vg_int m = n / cols;
    if (vg_labels_check(m, cols, rows, lab)) return 1;
    VG_SIMD
    for (vg_int t = 0; t < n; t++) out[t] = VG_EXP(ls[t]);
    for (vg_int i = 0; i < m; i++) {
        const vg_t s = -v[i];
        vg_t *o = out + i * cols;
        for (vg_int j = 0; j < cols; j++) o[j] = o[j] * s;
        vg_int c = (vg_int)lab[i];
        c += c < 0 ? cols : 0;
        o[c] = o[c] + v[i];   /* -(v e) + v: the composition's v - v e, bit for bit */
    }
    return 0;
}

int vg_onehot_grad_packed(vg_int n, void **a) {
#if VG_HAS_ROWS
    return vg_onehot_grad(n, *(const vg_int *)a[5], (const vg_t *)a[0], (const vg_t *)a[1],
                          (const vg_row *)a[2], (const vg_label *)a[3], (vg_t *)a[4]);
#else
    return vg_onehot_grad(n, *(const vg_int *)a[4], (const vg_t *)a[0], (const vg_t *)a[1],
                          NULL, (const vg_label *)a[2], (vg_t *)a[3]);
#endif
}
"""

_PICK = r"""
int vg_pick_labels_packed(vg_int n, void **a) {
    const vg_int cols = *(const vg_int *)a[3];
    const vg_t *x = (const vg_t *)a[0];
    const vg_label *lab = (const vg_label *)a[1];
    vg_t *out = (vg_t *)a[2];
    if (cols <= 0) return 1;
    const vg_int m = n / cols;
    if (vg_labels_check(m, cols, NULL, lab)) return 1;
    for (vg_int i = 0; i < m; i++) {
        vg_int c = (vg_int)lab[i];
        out[i] = x[i * cols + (c < 0 ? c + cols : c)];
    }
    return 0;
}
"""


def _source(dtype, rows_dtype, labels_dtype, body):
    types = (f"typedef {codegen.C_TYPES[dtype]} vg_t;\n"
             f"typedef {INDEX_TYPES.get(rows_dtype, 'long long')} vg_row;\n"
             f"typedef {INDEX_TYPES[labels_dtype]} vg_label;\n"
             f"#define VG_HAS_ROWS {0 if rows_dtype is None else 1}\n"
             f"#define VG_EXP {'vg_exp_f' if dtype == 'float32' else 'vg_exp_d'}\n")
    return codegen.PROLOGUE + codegen._helpers() + types + _CHECK + body


def _fits(dtype, *index_dtypes):
    return dtype in ("float32", "float64") and all(d in INDEX_TYPES for d in index_dtypes)


def grad_kernel(dtype, rows_dtype, labels_dtype):
    """The gradient's codegen.Kernel (``rows_dtype`` None: rows are ``arange``), or None."""
    if not _fits(dtype, labels_dtype, *([] if rows_dtype is None else [rows_dtype])):
        return None
    kinds = ["vec", "full"] + ([] if rows_dtype is None else ["vec"]) + ["vec"]
    in_dtypes = [dtype, dtype] + ([] if rows_dtype is None else [rows_dtype]) + [labels_dtype]
    return codegen.Kernel(_source(dtype, rows_dtype, labels_dtype, _GRAD), "vg_onehot_grad",
                          kinds, in_dtypes, dtype, False, 1, row_axis=1, declines=True)


def pick_kernel(dtype, labels_dtype):
    """``PickLabels``' codegen.Kernel, or None."""
    if not _fits(dtype, labels_dtype):
        return None
    return codegen.Kernel(_source(dtype, None, labels_dtype, _PICK), "vg_pick_labels",
                          ["full", "vec"], [dtype, labels_dtype], dtype, False, 0,
                          row_axis=1, declines=True, out_rows=True)


def _tiered(node, numpy_fn, kernel, lead):
    from verigraph.link import ckernels
    from verigraph.link.ckernels import small
    if kernel is None or not ckernels.enabled():
        return numpy_fn
    switch = small.Switch(f"{node.op} (built at {getattr(node, 'source', '?')})", -1,
                          kernel.out_dtype, lead=lead, node=node)
    return small.wrap(numpy_fn, (kernel, False, -1, 1 << 62), switch, None, kernel.source)


def _dtypes(node):
    return [str(np.dtype(v.dtype)) for v in node.inputs]


def grad_fast_fn(node, numpy_fn):
    """``LogSoftmaxOneHotGrad``'s ``numpy_fn`` with the C kernel once the node is hot."""
    d = _dtypes(node)
    rows = None if node.op.label_rows else d[2]
    kernel = grad_kernel(d[1], rows, d[-1]) if d[0] == d[1] else None
    return _tiered(node, numpy_fn, kernel, 1)


def pick_fast_fn(node, numpy_fn):
    """``PickLabels``' ``numpy_fn`` with the C kernel once the node is hot."""
    d = _dtypes(node)
    return _tiered(node, numpy_fn, pick_kernel(d[0], d[1]), 0)
