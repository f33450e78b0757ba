"""``LogSoftmaxOneHotGrad``'s fast path as one C pass (the cross-entropy gradient).

NumPy needs five calls for it (exp, a broadcast multiply over rows of 10, a fancy-index
read, add and write, and the test that the rows are ``0..n-1``): ~14 µs warm on the MLP's
256x10, and three times that inside a training step, where each call's code and data
come back from memory after the large products. The kernel checks the rows and labels,
then writes ``exp(logsm)`` scaled by ``-values[i]`` per row and adds ``values[i]`` at the
label: the NumPy fast path's operations in the same order, so results differ only by the
ulp between exp implementations (float32: libmvec's; float64: ``codegen``'s inline one).

Rows other than ``0..n-1``, a label out of range, other layouts or dtypes: the kernel
declines (before writing anything) and the op's NumPy function runs, which also raises
the usual errors. Tiered like the small elementwise kernels (``small``): built in the
background once the node has been called often, its first result checked against NumPy.
"""
from __future__ import annotations

import numpy as np

from verigraph.link.ckernels import codegen

# Index dtypes the kernel reads (uint64 does not fit the signed arithmetic: NumPy's path).
INDEX_TYPES = {"int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
               "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int"}

_BODY = r"""
static int vg_onehot_check(vg_int m, vg_int cols, const vg_row *rows, const vg_label *lab) {
    for (vg_int i = 0; i < m; i++) {
        vg_int c = (vg_int)lab[i];
        c += c < 0 ? cols : 0;
        if ((vg_int)rows[i] != i || c < 0 || c >= cols) return 1;
    }
    return 0;
}

VG_CLONES int vg_onehot_grad(vg_int n, vg_int cols, const vg_t *v, const vg_t *ls,
                             const vg_row *rows, const vg_label *lab, vg_t *out) {
    if (cols <= 0) return 1;
    const vg_int m = n / cols;
    if (vg_onehot_check(m, cols, rows, lab)) return 1;
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
    return vg_onehot_grad(n, *(const vg_int *)a[5], (const vg_t *)a[0], (const vg_t *)a[1],
                          (const vg_row *)a[2], (const vg_label *)a[3], (vg_t *)a[4]);
}
"""


def kernel(dtype, rows_dtype, labels_dtype):
    """The codegen.Kernel for float ``dtype`` values and these index dtypes, or None."""
    if dtype not in ("float32", "float64") or rows_dtype not in INDEX_TYPES \
            or labels_dtype not in INDEX_TYPES:
        return None
    types = (f"typedef {codegen.C_TYPES[dtype]} vg_t;\n"
             f"typedef {INDEX_TYPES[rows_dtype]} vg_row;\n"
             f"typedef {INDEX_TYPES[labels_dtype]} vg_label;\n"
             f"#define VG_EXP {'vg_exp_f' if dtype == 'float32' else 'vg_exp_d'}\n")
    source = codegen.PROLOGUE + codegen._helpers() + types + _BODY
    return codegen.Kernel(source, "vg_onehot_grad", ["vec", "full", "vec", "vec"],
                          [dtype, dtype, rows_dtype, labels_dtype], dtype, False, 1,
                          row_axis=1, declines=True)


def fast_fn(node, numpy_fn):
    """``numpy_fn`` with the C kernel for its calls once the node is hot (``small.wrap``)."""
    from verigraph.link import ckernels
    from verigraph.link.ckernels import small
    dtypes = [str(np.dtype(v.dtype)) for v in node.inputs]
    k = kernel(dtypes[1], dtypes[2], dtypes[3]) if ckernels.enabled() else None
    if k is None or dtypes[0] != dtypes[1]:
        return numpy_fn
    spec = (k, False, -1, 1 << 62)
    switch = small.Switch(f"{node.op} (built at {getattr(node, 'source', '?')})", -1,
                          dtypes[1], lead=1, node=node)
    return small.wrap(numpy_fn, spec, switch, None, k.source)
