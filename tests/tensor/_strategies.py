"""Hypothesis strategies and NumPy oracles shared by the tensor, contract and gradient tests.

Values come from a NumPy generator seeded by a drawn integer: hypothesis explores shapes,
dtypes and broadcasting patterns, while the values themselves stay cheap to draw.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as hs

import verigraph as vg
from verigraph.tensor.type import TensorType

MODES = ("FAST_RUN", "FAST_COMPILE")
FLOATS = ("float32", "float64")
INTS = ("int8", "int32", "int64")

# Sizes 0 and 1 are the edge cases that break kernels; 2 and 3 keep arrays small.
sizes = hs.sampled_from([0, 1, 2, 3])


@hs.composite
def broadcast_inputs(draw, nin, max_ndim=3, allow_empty=True):
    """``(out_shape, [(static_shape, value_shape), ...])`` for ``nin`` broadcast-compatible inputs.

    Each input may drop leading axes and declare any axis as static size 1 (broadcastable),
    which is the only way verigraph (like Theano) lets an axis broadcast.
    """
    ndim = draw(hs.integers(0, max_ndim))
    base = [draw(sizes if allow_empty else hs.sampled_from([1, 2, 3])) for _ in range(ndim)]
    specs = []
    for _ in range(nin):
        lead = draw(hs.integers(0, ndim)) if nin > 1 and draw(hs.booleans()) else 0
        static, value = [], []
        for d in range(lead, ndim):
            if nin > 1 and draw(hs.integers(0, 3)) == 0:
                static.append(1)
                value.append(1)
            else:
                static.append(None)
                value.append(base[d])
        specs.append((tuple(static), tuple(value)))
    return tuple(base), specs


def values_for(domain, shapes, dtype, rng):
    """One array per input shape, drawn inside a table row's test ``domain``."""
    kind = np.dtype(dtype).kind
    n = len(shapes)

    def u(lo, hi, shape):
        if kind in "iu":
            return rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1, size=shape).astype(dtype)
        return rng.uniform(lo, hi, size=shape).astype(dtype)

    def away_from_zero(shape, lo=0.5, hi=3.0):
        mag = u(lo, hi, shape)
        return (mag * np.where(rng.random(shape) < 0.5, -1, 1)).astype(dtype)

    if domain in ("any", "int"):
        return [u(-3, 3, s) for s in shapes]
    if domain == "nonzero_b":
        return [u(-3, 3, shapes[0]), away_from_zero(shapes[1], 1 if kind in "iu" else 0.5)]
    if domain == "positive_a":
        return [u(0.5 if kind == "f" else 1, 3, shapes[0]), u(0 if kind in "iu" else -2, 2, shapes[1])]
    if domain == "positive":
        return [u(0.5 if kind == "f" else 1, 3, s) for s in shapes]
    if domain == "small":
        return [u(-1.2, 1.2, s) for s in shapes]
    if domain == "unit":
        return [u(-0.9, 0.9, s) for s in shapes]
    if domain == "erfc_range":
        return [u(0.2, 1.8, s) for s in shapes]
    if domain == "nonint":
        # Stay away from integers and half-integers, where rounding and finite differences jump.
        vals = []
        for s in shapes:
            whole = rng.integers(-3, 3, size=s)
            frac = rng.uniform(0.1, 0.4, size=s) + np.where(rng.random(s) < 0.5, 0, 0.5)
            vals.append((whole + frac).astype(dtype))
        return vals
    if domain == "distinct":
        # a on one grid, b on a shifted grid: never equal, even after broadcasting.
        if kind in "iu":
            return [(2 * rng.integers(-3, 3, size=shapes[0])).astype(dtype),
                    (2 * rng.integers(-3, 3, size=shapes[1]) + 1).astype(dtype)]
        return [(0.5 * rng.integers(-6, 6, size=shapes[0])).astype(dtype),
                (0.5 * rng.integers(-6, 6, size=shapes[1]) + 0.25).astype(dtype)]
    if domain == "clip":
        return [u(-3, 3, shapes[0]), u(-2, -0.5, shapes[1]), u(0.5, 2, shapes[2])]
    if domain == "switch":
        cond = rng.random(shapes[0]) < 0.5
        return [cond, u(-3, 3, shapes[1]), u(-3, 3, shapes[2])]
    raise ValueError(f"unknown domain {domain!r}")


def tensor_var(dtype, static_shape, name=None):
    """A fresh input variable of ``dtype`` with the given static shape."""
    return TensorType(dtype, static_shape)(name)


def compile_and_run(inputs, outputs, values, mode):
    """Compile in ``mode`` and call once."""
    return vg.function(inputs, outputs, mode=mode)(*values)


def assert_matches(got, want, dtype=None, rtol=None, atol=None):
    """Values, shape and dtype equal to the NumPy answer (tolerance by dtype)."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape} != NumPy {want.shape}"
    assert got.dtype == (want.dtype if dtype is None else np.dtype(dtype)), \
        f"dtype {got.dtype} != NumPy {want.dtype}"
    if got.dtype.kind == "f":
        loose = got.dtype.itemsize <= 4
        np.testing.assert_allclose(
            got, want, rtol=rtol or (2e-5 if loose else 1e-10),
            atol=atol or (1e-6 if loose else 1e-12), equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)
