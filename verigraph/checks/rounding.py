"""Rounding scales: how far two correct evaluations of a value may differ.

The fixed tolerances (``tolerance.py``) are relative to the value itself, which is the
wrong scale where a result cancels: ``sum(x - x.mean())`` over 20,000 float32 values is
~1e-5 in any order of summation, and two correct summation orders differ by about as
much. Compared with ``rtol * |result|`` that reads as a 100% error, so every mode's
cross-check used to raise on a correct program.

This module bounds, per element, the rounding error of a value computed by the graph
(absolute units): ``S(v)`` with ``|computed - exact| <~ S(v)``, by first-order forward
error analysis along the graph:

- inputs and constants are exact (``S = 0``);
- an elementwise row adds its own rounding (1 ulp of its output for IEEE-exact rows,
  ``LIBM_ULPS`` for libm-style functions) to the input errors carried through its
  local slope ``|df/dx_i|`` (a central difference, measured only where an input has a
  nonzero scale, so a discontinuity makes the scale large exactly where the input's
  error may cross it);
- a sum of ``n`` terms adds ``sum_factor(n) * u * sum(|terms|)`` (the magnitude of the
  terms, not of the result, sets the rounding of a sum) to the sum of the terms'
  scales; matrix products likewise with ``|x| @ |y|``;
- ops that only move, select or copy values (DimShuffle, Reshape, Subtensor, Join,
  Alloc, IncSubtensor, ...) apply themselves to the scales;
- anything else carries the largest relative input error to its output, plus its own
  rounding (right for well-conditioned ops such as softmax).

``within(a, b, scale)`` accepts ``|a - b| <= atol + rtol |b| + 2 * scale``: both sides
are evaluations that the analysis bounds (the reference graph's structure stands in for
the rewritten one; the factor 2 covers both). The scales are only computed after the
plain comparison failed, so a correct program pays nothing for them; and they grow only
as far as rounding can reach: a wrong rewrite or kernel (a dropped term, a wrong index,
a sign) moves a result by about the size of its terms and is still reported.
"""
from __future__ import annotations

import math

import numpy as np

from verigraph.graph.basic import Constant
from verigraph.graph.traversal import io_toposort

# ulps by which two libm-style implementations of one function may differ (glibc,
# libmvec, NumPy's SIMD loops and our C forms are each within 2-4 ulps).
LIBM_ULPS = 8.0
# Rows computed exactly rounded by IEEE arithmetic in every backend.
IEEE_ROWS = frozenset({"add", "sub", "mul", "true_div", "neg", "sqr", "sqrt", "abs",
                       "maximum", "minimum", "second", "identity", "switch"})
# Relative step of the central differences (well above float64 rounding).
_STEP = 2.0 ** -26
# Products with more multiply-adds bound |x| @ |y| by row and column norms (``_product``).
LARGE_PRODUCT = 1 << 20


def sum_factor(n):
    """Multiple of ``u * sum(|terms|)`` that two summation orders of ``n`` terms may differ by.

    Pairwise summation (NumPy) is within ``log2(n)`` of it; blocked and lane-wise loops
    (BLAS, our C kernels) accumulate blocks sequentially, whose rounding grows like the
    square root of the block length for data with any spread (the worst case, ``n``,
    needs every rounding to go one way).
    """
    n = max(int(n), 1)
    return math.sqrt(n) + math.log2(n) + 2.0


def unit_roundoff(dtype):
    """Half the machine epsilon of a float dtype (float64's for anything else)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.dtype(f"f{dtype.itemsize // 2}")
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps) / 2


def _float(v):
    return isinstance(v, (np.ndarray, np.generic)) and np.asarray(v).dtype.kind in "fc"


def _mag(v):
    """|v| as float64 (complex: modulus), 0 for non-float values."""
    if not _float(v):
        return np.zeros(np.shape(v)) if isinstance(v, (np.ndarray, np.generic)) else 0.0
    return np.abs(np.asarray(v)).astype(np.float64)


def _zero(s):
    return s is None or not np.any(s)


def _own(node, k, out, ulps):
    """The output's own rounding: ``ulps`` units of its last place."""
    dtype = getattr(node.outputs[k].type, "dtype", None)
    if dtype is None or np.dtype(dtype).kind not in "fc":
        return None
    return ulps * unit_roundoff(dtype) * _mag(out)


# -- elementwise --------------------------------------------------------------------------
def _row_scale(impl, name, args, scales, out, u_out):
    """Scale of one elementwise row: own rounding plus carried input errors."""
    ulps = 1.0 if name in IEEE_ROWS else LIBM_ULPS
    total = ulps * u_out * _mag(out)
    with np.errstate(all="ignore"):
        wide = [np.asarray(a, dtype=np.float64) if _float(a) and np.asarray(a).dtype.kind == "f"
                else a for a in args]
        for i, s in enumerate(scales):
            if _zero(s) or not _float(args[i]):
                continue
            x = wide[i]
            # The step follows the input (or its error where that is larger, at x = 0).
            h = np.maximum(np.abs(x), s) * _STEP
            up = list(wide)
            dn = list(wide)
            up[i], dn[i] = x + h, x - h
            slope = np.abs((np.asarray(impl(*up), dtype=np.float64)
                            - np.asarray(impl(*dn), dtype=np.float64)) / (2 * h))
            carried = np.where(np.isfinite(slope), slope * s, np.inf)
            total = total + np.where(np.asarray(s) == 0, 0.0, carried)
    return total


def _elemwise(node, values, scales, outs):
    sop = node.op.scalar_op
    u = unit_roundoff(node.outputs[0].dtype)
    return [_row_scale(sop.impl, sop.name, values, scales, outs[0], u)]


def _steps_scale(op, values, scales):
    """(value, scale) of the last step of a FusedElemwise-style chain."""
    step_vals, step_scales = [], []
    with np.errstate(all="ignore"):
        for sop, (name, refs, dtype) in zip(op.scalar_ops(), op.steps):
            args = [values[k] if kind == "i" else step_vals[k] for kind, k in refs]
            sc = [scales[k] if kind == "i" else step_scales[k] for kind, k in refs]
            val = np.asarray(sop.impl(*args), dtype=dtype)
            step_scales.append(_row_scale(sop.impl, name, args, sc, val,
                                          unit_roundoff(dtype)))
            step_vals.append(val)
    return step_vals[-1], step_scales[-1]


def _fused(node, values, scales, outs):
    return [_steps_scale(node.op, values, scales)[1]]


# -- reductions and products --------------------------------------------------------------
def _sum_over(terms, term_scales, axes, u):
    mag = _mag(terms)
    n = 1
    for a in axes:
        n *= np.shape(terms)[a]
    s = np.sum(np.broadcast_to(term_scales, np.shape(terms)), axis=axes) \
        if not _zero(term_scales) else 0.0
    return s + sum_factor(n) * u * np.sum(mag, axis=axes)


def _reduce(node, values, scales, outs):
    op, x = node.op, values[0]
    axes = tuple(op.axis)
    if not _float(x):
        return [None]
    u = unit_roundoff(node.outputs[0].dtype)
    if op.kind == "sum":
        return [_sum_over(x, scales[0], axes, u)]
    if op.kind in ("max", "min"):
        # The extreme moves by at most the largest error among its candidates.
        s = 0.0 if _zero(scales[0]) else np.max(np.broadcast_to(scales[0], np.shape(x)), axis=axes)
        return [np.zeros(np.shape(outs[0])) + s]
    return _generic(node, values, scales, outs)


def _fused_sum(node, values, scales, outs):
    terms, term_scales = _steps_scale(node.op.elemwise, values, scales)
    axes = tuple(range(np.ndim(terms)))     # FusedSum sums every axis
    return [_sum_over(terms, term_scales, axes, unit_roundoff(node.outputs[0].dtype))]


def _product_mag(v):
    """|v| for a product bound: float32 stays float32 (the bound needs no more, and a
    float64 GEMM of DebugMode's size would double its cost), anything else float64."""
    v = np.asarray(v)
    return np.abs(v) if v.dtype == np.float32 else _mag(v)


def _product(x, y, sx, sy, u):
    """Scale of ``x @ y`` from its operands' values and scales (matmul broadcasting)."""
    ax, ay = _product_mag(x), _product_mag(y)
    k = np.shape(x)[-1] if np.ndim(x) else 1
    prod = np.matmul if np.ndim(x) > 2 or np.ndim(y) > 2 else np.dot
    if np.ndim(x) == 2 and np.ndim(y) == 2 and x.shape[0] * k * y.shape[1] > LARGE_PRODUCT:
        # sum_k |x_ik||y_kj| <= ||x_i|| ||y_j|| (Cauchy-Schwarz): an upper bound for the
        # price of two norms instead of one more GEMM (DebugMode's cost on an MLP).
        mag = np.outer(np.linalg.norm(ax, axis=1), np.linalg.norm(ay, axis=0))
        s = sum_factor(k) * u * np.asarray(mag, np.float64)
    elif np.ndim(x) and np.ndim(y):
        s = sum_factor(k) * u * np.asarray(prod(ax, ay), np.float64)
    else:
        s = u * ax * ay
    if not _zero(sx):
        s = s + prod(np.broadcast_to(sx, np.shape(x)), ay)
    if not _zero(sy):
        s = s + prod(ax, np.broadcast_to(sy, np.shape(y)))
    return s


def _dot(node, values, scales, outs):
    if not _float(outs[0]):
        return [None]
    u = unit_roundoff(node.outputs[0].dtype)
    return [_product(values[0], values[1], scales[0], scales[1], u) + u * _mag(outs[0])]


def _gemm(node, values, scales, outs):
    z, alpha, x, y = values[:4]
    beta = values[4] if len(values) > 4 else 1.0
    u = unit_roundoff(node.outputs[0].dtype)
    a = float(np.abs(alpha))
    s = a * _product(x, y, scales[2], scales[3], u) + u * _mag(outs[0])
    s = s + float(np.abs(beta)) * (u * _mag(z) + (0.0 if _zero(scales[0]) else scales[0]))
    return [s]


def _dense(node, values, scales, outs):
    x, w, b = values
    u = unit_roundoff(node.outputs[0].dtype)
    with np.errstate(all="ignore"):
        # The product's bound covers the rounding of x @ w + b (sum_factor >= 2 units of
        # |x| @ |w|), plus the bias's own magnitude; tanh's slope comes from the output.
        s = _product(x, w, scales[0], scales[1], u) + u * _mag(b)
        if not _zero(scales[2]):
            s = s + scales[2]
        act = node.op.act
        if act != "identity":
            out = np.asarray(outs[0], np.float64)
            slope = {"tanh": lambda: 1 - out ** 2, "sigmoid": lambda: out * (1 - out),
                     "relu": lambda: (out > 0) + 0.0}[act]()
            s = slope * s + (LIBM_ULPS if act != "relu" else 0.0) * u * np.abs(out)
    return [s]


def _dense_pair(node, values, scales, outs):
    """``DensePair``: the first layer as ``Dense``; ``z = h @ w2 + b2`` as a product whose
    left operand carries ``h``'s scale."""
    x, w, b, w2, b2 = values
    first, _ = node.op._layers(node)
    h = outs[0]
    if h is None:   # only z was asked for: h as the first layer's perform computes it
        store = [[None]]
        first.op.perform(first, [x, w, b], store)
        h = store[0][0]
    (s_h,) = _dense(first, [x, w, b], scales[:3], [h])
    u = unit_roundoff(node.outputs[1].dtype)
    with np.errstate(all="ignore"):
        s_z = _product(h, w2, s_h, scales[3], u) + u * _mag(b2)
        if not _zero(scales[4]):
            s_z = s_z + scales[4]
    return [s_h, s_z]


def _narrow_tanh_grad(node, values, scales, outs):
    """``NarrowTanhGrad``: ``(gz @ w2.T) * (1 - h * h)`` as a product times an elementwise
    factor, and ``h.T @ gz`` as a product."""
    gz, w2, h = (np.asarray(v) for v in values)
    sgz, sw2, sh = scales
    u = unit_roundoff(node.outputs[0].dtype)
    with np.errstate(all="ignore"):
        dh = np.dot(gz.astype(np.float64), w2.T.astype(np.float64))
        s_dh = _product(gz, w2.T, sgz, None if _zero(sw2) else np.transpose(sw2), u) + u * _mag(dh)
        h64 = h.astype(np.float64)
        t = 1 - h64 * h64
        s_t = u * (h64 * h64 + np.abs(t))
        if not _zero(sh):
            s_t = s_t + 2 * np.abs(h64) * sh
        s_pre = np.abs(t) * s_dh + np.abs(dh) * s_t + u * np.abs(dh * t)
        s_w2 = _product(h.T, gz, None if _zero(sh) else np.transpose(sh), sgz, u) + \
            u * _mag(np.dot(h64.T, gz.astype(np.float64)))
    if len(node.outputs) == 2:
        return [s_pre, s_w2]
    # the column sums of the first output, which carries s_pre
    return [s_pre, s_w2, _sum_over(dh * t, s_pre, (0,), u)]


# -- structure and the rest ---------------------------------------------------------------
def _structural(node, values, scales, outs):
    """Apply the op to the scales in place of its float inputs (moves/copies/selects)."""
    if not any(_float(v) and not _zero(s) for v, s in zip(values, scales)):
        return [None] * len(outs)
    args = []
    for v, s in zip(values, scales):
        if _float(v):
            dt = np.asarray(v).dtype
            base = np.zeros(np.shape(v)) if _zero(s) else np.broadcast_to(s, np.shape(v))
            args.append(np.asarray(base, dtype=dt if dt.kind == "f" else np.float64))
        else:
            args.append(v)
    storage = [[None] for _ in outs]
    node.op.perform(node, args, storage)
    return [_mag(s[0]) if _float(o) else None for s, o in zip(storage, outs)]


def _generic(node, values, scales, outs):
    """Largest relative input error carried to each output, plus its own rounding."""
    rel = 0.0
    for v, s in zip(values, scales):
        if _float(v) and not _zero(s):
            with np.errstate(all="ignore"):
                r = np.broadcast_to(s, np.shape(v)) / np.maximum(_mag(v), 1e-300)
            rel = max(rel, float(np.max(r)) if np.size(r) else 0.0)
    result = []
    for k, o in enumerate(outs):
        own = _own(node, k, o, LIBM_ULPS)
        result.append(None if own is None else own + rel * _mag(o))
    return result


_STRUCTURAL = ("DimShuffle", "Reshape", "Subtensor", "AdvancedSubtensor", "Join", "Split",
               "Alloc", "SpecifyShape", "IncSubtensor", "AdvancedIncSubtensor", "Unbroadcast",
               "Repeat", "MakeVector", "ShapeGuard", "Flatten", "Rebroadcast")
_RULES = {"Elemwise": _elemwise, "FusedElemwise": _fused, "Reduce": _reduce,
          "FusedSum": _fused_sum, "Dot": _dot, "Matmul": _dot, "Gemm": _gemm, "Dense": _dense,
          "DensePair": _dense_pair, "NarrowTanhGrad": _narrow_tanh_grad}


def node_scales(node, values, scales, outs):
    """Per output of ``node``: its rounding scale (float64 array), or None for exact outputs.

    ``values`` are the node's input values, ``scales`` their scales (None = exact),
    ``outs`` its output values. An Op may define ``rounding_scales(node, values,
    scales, outs)`` to give its own rule.
    """
    own_rule = getattr(node.op, "rounding_scales", None)
    if own_rule is not None:
        return list(own_rule(node, values, scales, outs))
    name = type(node.op).__name__
    try:
        if name in _RULES:
            return list(_RULES[name](node, values, scales, outs))
        if name in _STRUCTURAL:
            return _structural(node, values, scales, outs)
        return _generic(node, values, scales, outs)
    except Exception:  # noqa: BLE001 - a rule that cannot run falls back to the generic one
        return _generic(node, values, scales, outs)


def graph_scales(outputs, givens):
    """Rounding scales of ``outputs`` evaluated by the reference evaluator from ``givens``.

    ``givens`` maps input variables to values (taken as exact). Returns one float64
    array (or None for exact outputs) per output.
    """
    from verigraph.link.reference import run_node_reference
    env = {id(k): v for k, v in givens.items()}
    scale = {}
    for node in io_toposort(list(givens), outputs):
        vals = [env[id(i)] if id(i) in env else i.data for i in node.inputs]
        outs = run_node_reference(node, vals)
        sc = node_scales(node, vals, [scale.get(id(i)) for i in node.inputs], outs)
        for o, v, s in zip(node.outputs, outs, sc):
            env[id(o)] = v
            scale[id(o)] = s
    return [scale.get(id(o)) if not isinstance(o, Constant) else None for o in outputs]


def within(a, b, scale, working_dtype=None):
    """Whether ``a`` matches reference ``b`` once rounding scale ``scale`` is allowed.

    The fixed tolerance of ``tolerance.compare`` plus twice the scale, element by
    element; NaN matches NaN. Non-float values and missing scales fall back to
    ``compare``.
    """
    from verigraph.checks.tolerance import compare, tolerance
    a, b = np.asarray(a), np.asarray(b)
    if scale is None or a.shape != b.shape or a.dtype != b.dtype or a.dtype.kind not in "fc":
        return compare(a, b, working_dtype) is None
    rtol, atol = tolerance(a.dtype)
    if working_dtype is not None:
        wr, wa = tolerance(working_dtype)
        rtol, atol = max(rtol, wr), max(atol, wa)
    with np.errstate(all="ignore"):
        diff = np.abs(a.astype(np.complex128 if a.dtype.kind == "c" else np.float64) - b)
        ok = (diff <= atol + rtol * np.abs(b) + 2 * np.broadcast_to(scale, b.shape)) | \
            (np.isnan(a) & np.isnan(b)) | (a == b)
    return bool(ok.all())


def node_output_within(node, values, got, want, k=0, working_dtype=None):
    """Whether output ``k`` of ``node`` computed two ways on the same ``values`` agrees.

    Only the node's own rounding counts (its inputs are shared): ``got`` may differ
    from ``want`` by the fixed tolerance plus twice that scale. False when no scale can
    be computed, so the plain comparison stands.
    """
    try:
        outs = [None] * len(node.outputs)
        outs[k] = want
        scale = node_scales(node, list(values), [None] * len(values), outs)[k]
    except Exception:  # noqa: BLE001 - no scale: the plain comparison decides
        return False
    return within(got, want, scale, working_dtype)
