"""Tolerances used to compare an optimized value with the reference, by dtype (documented in docs/)."""
from __future__ import annotations

import pickle

import numpy as np

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
    return TOLERANCES.get(str(np.dtype(dtype)), (0.0, 0.0))


def rng_state_key(v):
    """Exact state of a random generator (also boxed in a 0-d object array) as bytes, else None."""
    if isinstance(v, np.ndarray) and v.dtype == object and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.random.Generator):
        return pickle.dumps(("Generator", v.bit_generator.state))
    if isinstance(v, np.random.RandomState):
        return pickle.dumps(("RandomState", v.get_state(legacy=False)))
    return None


def compare(a, b):
    """None when ``a`` and ``b`` agree (NaN matching NaN), else (max_abs, max_rel, reason)."""
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
