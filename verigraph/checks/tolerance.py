"""Tolerances used to compare an optimized value with the reference, by dtype (documented in docs/)."""
from __future__ import annotations

import pickle

import numpy as np

from verigraph.dtypes import dtype_name

# dtype kind/size -> (rtol, atol). Rewrites reorder float operations, so exact equality
# is too strict; these bounds are a few ulps amplified by typical reduction lengths.
TOLERANCES = {
    "float16": (1e-2, 1e-3),
    "float32": (1e-4, 1e-6),
    "float64": (1e-7, 1e-10),
    "complex64": (1e-4, 1e-6),
    "complex128": (1e-7, 1e-10),
}


def tolerance(dtype):
    """(rtol, atol) for values of ``dtype``; exact for ints and bools."""
    return TOLERANCES.get(dtype_name(dtype), (0.0, 0.0))


def rng_state_key(v):
    """Exact state of a random generator (also boxed in a 0-d object array) as bytes, else None."""
    if isinstance(v, np.ndarray) and v.dtype == object and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.random.Generator):
        return pickle.dumps(("Generator", v.bit_generator.state))
    if isinstance(v, np.random.RandomState):
        return pickle.dumps(("RandomState", v.get_state(legacy=False)))
    return None


def compare(a, b, working_dtype=None):
    """None when ``a`` and ``b`` agree (NaN matching NaN), else (max_abs, max_rel, reason).

    ``working_dtype``: the least precise float dtype the value was computed through
    (``checks/precision.py``); floats are compared at the looser of its tolerance and
    their own.
    """
    ka, kb = rng_state_key(a), rng_state_key(b)
    if ka is not None or kb is not None:
        # Random generators agree when their states are identical.
        return None if ka == kb else (float("inf"), float("inf"), "random generator states differ")
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return (float("inf"), float("inf"), f"shapes differ: {a.shape} vs {b.shape}")
    if a.dtype != b.dtype:
        return (float("inf"), float("inf"), f"dtypes differ: {a.dtype} vs {b.dtype}")
    if a.size == 0:
        return None
    rtol, atol = tolerance(a.dtype)
    if working_dtype is not None and a.dtype.kind in "fc":
        wr, wa = tolerance(working_dtype)
        rtol, atol = max(rtol, wr), max(atol, wa)
    if a.dtype.kind not in "fc":
        if np.array_equal(a, b):
            return None
        diff = np.abs(a.astype("float64") - b.astype("float64"))
        return (float(diff.max()), float((diff / np.maximum(np.abs(b), 1)).max()), "values differ")
    with np.errstate(all="ignore"):
        ok = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if a.dtype.kind == "f":
            # Where the reference (b) overflowed to +-inf, a finite value of the same sign is
            # the stabilize phase doing its job (log(sigmoid(-800)) is -800, not -inf).
            ok |= np.isinf(b) & np.isfinite(a) & (np.sign(a) == np.sign(b))
        if ok.all():
            return None
        both_finite = np.isfinite(a) & np.isfinite(b)
        diff = np.where(both_finite, np.abs(a - b), np.where(
            (np.isnan(a) & np.isnan(b)) | (a == b), 0.0, np.inf))
        rel = diff / np.maximum(np.abs(b), atol if atol else 1e-300)
    return (float(np.max(diff)), float(np.max(rel)), "values differ")


# -- the stabilization policy -----------------------------------------------------------------
# A stabilize rule (phase "stabilize") replaces a naive formula by an accurate one, so the
# naive *old* value it is checked against may be the inaccurate one. The loss has one
# mechanism in every rule we have: an intermediate near 1 (``sigmoid(z)`` for large z,
# ``1 + x`` for tiny x) is rounded to a multiple of the ulp below 1, ``eps / 2``, and a
# log then turns that absolute error into an absolute error of up to ``ln 2`` (the
# rounded value is off by at most a factor 2 before it becomes 0 and the log -inf). That
# happens only where the log's magnitude is at least ``-ln(eps / 2)`` (36.7 in float64,
# 16.6 in float32), so the naive value is off by at most ``ln 2 / -ln(eps / 2)``
# relatively (1.9% in float64, 4.2% in float32, 9.1% in float16; measured tight on
# ``log(1 - sigmoid(z))``). We allow twice that, and an absolute ``eps`` for values near
# 0 (``log(1 + 1e-17)`` is 0 naively). A wrong rule is off by far more on ordinary
# inputs (a factor or sign, a swapped argument: tens of percent or more); the accuracy of
# each stabilize rule itself is tested against exact values in tests/rewriting/.
def stabilize_tolerance(dtype):
    """(rtol, atol) for judging a stabilize rule's new value against the naive old one."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        return (0.0, 0.0)
    eps = float(np.finfo(dtype).eps)
    return (float(2 * np.log(2) / -np.log(eps / 2)), eps)


def compare_stabilized(new, old, working_dtype=None):
    """None when a stabilize rule's ``new`` value is acceptable against the naive ``old``.

    Accepted element by element: equal values (NaN matching NaN); a finite ``new`` where
    ``old`` is inf or NaN (``log(sigmoid(-800))`` is -800, naively -inf; ``0 * inf``
    terms); or agreement within ``stabilize_tolerance`` of the looser of the value's
    dtype and ``working_dtype``. Anything else is reported like ``compare`` does.
    """
    a, b = np.asarray(new), np.asarray(old)
    if a.shape != b.shape or a.dtype != b.dtype or a.dtype.kind not in "fc" or a.size == 0:
        return compare(a, b, working_dtype)
    rtol, atol = stabilize_tolerance(a.dtype)
    if working_dtype is not None:
        wr, wa = stabilize_tolerance(working_dtype)
        rtol, atol = max(rtol, wr), max(atol, wa)
    with np.errstate(all="ignore"):
        ok = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        ok |= ~np.isfinite(b) & np.isfinite(a)
        if ok.all():
            return None
        both_finite = np.isfinite(a) & np.isfinite(b)
        diff = np.where(ok, 0.0, np.where(both_finite, np.abs(a - b), np.inf))
        rel = diff / np.maximum(np.abs(b), atol)
    return (float(np.max(diff)), float(np.max(rel)),
            f"values differ beyond the stabilization tolerance (rtol {rtol:.3g}, atol {atol:.3g})")
