"""Reductions (sum prod max min argmax argmin mean var std all any) and DimShuffle vs NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T

from ._strategies import MODES, assert_matches, sizes, tensor_var

KINDS = ["sum", "prod", "max", "min", "argmax", "argmin", "mean", "var", "std", "all", "any"]
NEEDS_NONEMPTY = {"max", "min", "argmax", "argmin"}


@hs.composite
def reduce_case(draw, kind):
    ndim = draw(hs.integers(0, 3))
    shape = tuple(draw(sizes) for _ in range(ndim))
    dtypes = ["float32", "float64", "int32"] + (["bool"] if kind in ("all", "any", "sum") else [])
    dtype = draw(hs.sampled_from(dtypes))
    if kind in ("argmax", "argmin"):
        axis = draw(hs.sampled_from([None] + list(range(-ndim, ndim))))
    else:
        choice = draw(hs.sampled_from(["none", "int", "tuple"]))
        if choice == "none" or ndim == 0:
            axis = None
        elif choice == "int":
            axis = draw(hs.integers(-ndim, ndim - 1))
        else:
            axis = tuple(draw(hs.lists(hs.integers(0, ndim - 1), unique=True, max_size=ndim)))
    return shape, dtype, axis, draw(hs.booleans()), draw(hs.sampled_from(MODES))


def _values(shape, dtype, rng):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "int32":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    # Distinct values: argmax/argmin must not depend on tie-breaking order.
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.25 - 1).astype(dtype)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25, deadline=None)
@given(data=hs.data())
def test_reduction_matches_numpy(kind, data):
    shape, dtype, axis, keepdims, mode = data.draw(reduce_case(kind))
    rng = np.random.default_rng(data.draw(hs.integers(0, 2**32 - 1)))
    v = _values(shape, dtype, rng)
    x = tensor_var(dtype, (None,) * len(shape))
    out = getattr(T, kind)(x, axis=axis, keepdims=keepdims)
    f = vg.function([x], out, mode=mode)
    axes = None if axis is None else (axis,) if isinstance(axis, int) else axis
    reduced_sizes = [shape[a] for a in (range(len(shape)) if axes is None else axes)]
    # max/min/argmax over a length-0 axis has no answer (NumPy raises too); other axes may be 0.
    if kind in NEEDS_NONEMPTY and (0 in reduced_sizes or v.size == 0 and axes is None):
        with pytest.raises(ValueError):
            getattr(np, kind)(v, axis=axis)
        with pytest.raises(ValueError):
            f(v)
        return
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = np.asarray(getattr(np, kind)(v, axis=axis, keepdims=keepdims))
            got = f(v)
    loose = {"var": 2e-4, "std": 2e-4, "mean": 1e-4, "prod": 1e-4}.get(kind)
    assert_matches(got, want, rtol=loose if dtype == "float32" else None)
    assert out.type.ndim == want.ndim


@pytest.mark.parametrize("mode", MODES)
def test_var_std_ddof(mode):
    x = T.dmatrix()
    v = np.arange(12.0).reshape(3, 4) ** 1.5
    f = vg.function([x], [x.var(axis=0, ddof=1), x.std(ddof=1)], mode=mode)
    a, b = f(v)
    np.testing.assert_allclose(a, v.var(axis=0, ddof=1))
    np.testing.assert_allclose(b, v.std(ddof=1))


def test_reduction_axis_errors():
    x = T.dmatrix()
    with pytest.raises(ValueError, match="out of range"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="repeats"):
        x.sum(axis=(0, -2))


# -- DimShuffle / transpose ---------------------------------------------------------------
@hs.composite
def dimshuffle_case(draw):
    ndim = draw(hs.integers(0, 3))
    static = tuple(draw(hs.sampled_from([None, 1])) for _ in range(ndim))
    value_shape = tuple(1 if s == 1 else draw(sizes) for s in static)
    keep = [d for d in range(ndim) if static[d] != 1 or draw(hs.booleans())]
    order = draw(hs.permutations(keep))
    pattern = list(order)
    for _ in range(draw(hs.integers(0, 2))):
        pattern.insert(draw(hs.integers(0, len(pattern))), "x")
    return static, value_shape, tuple(pattern)


def _numpy_dimshuffle(v, pattern):
    kept = [p for p in pattern if p != "x"]
    dropped = [d for d in range(v.ndim) if d not in kept]
    out = np.squeeze(v, axis=tuple(dropped)) if dropped else v
    remaining = [d for d in range(v.ndim) if d not in dropped]
    out = np.transpose(out, [remaining.index(p) for p in kept])
    for k, p in enumerate(pattern):
        if p == "x":
            out = np.expand_dims(out, k)
    return out


@settings(max_examples=60, deadline=None)
@given(case=dimshuffle_case(), mode=hs.sampled_from(MODES), dtype=hs.sampled_from(
    ["float32", "float64", "int64"]))
def test_dimshuffle_matches_numpy(case, mode, dtype):
    static, value_shape, pattern = case
    x = tensor_var(dtype, static)
    v = np.arange(int(np.prod(value_shape)), dtype=dtype).reshape(value_shape)
    out = x.dimshuffle(*pattern) if pattern else x.dimshuffle(())
    got = vg.function([x], out, mode=mode)(v)
    assert_matches(got, _numpy_dimshuffle(v, pattern))
    assert out.type.shape == tuple(1 if p == "x" else static[p] for p in pattern)


@settings(max_examples=30, deadline=None)
@given(ndim=hs.integers(0, 4), mode=hs.sampled_from(MODES), data=hs.data())
def test_transpose_matches_numpy(ndim, mode, data):
    shape = tuple(data.draw(sizes) for _ in range(ndim))
    axes = data.draw(hs.none() | hs.permutations(range(ndim)))
    x = tensor_var("float64", (None,) * ndim)
    v = np.arange(float(np.prod(shape))).reshape(shape)
    out = x.T if axes is None else x.transpose(*axes) if axes else x.transpose()
    got = vg.function([x], out, mode=mode)(v)
    assert_matches(got, np.transpose(v, axes))


def test_dimshuffle_rejects_dropping_a_non_broadcastable_axis():
    with pytest.raises(ValueError, match="only axes of static size 1"):
        T.dmatrix().dimshuffle(0)
    with pytest.raises(ValueError, match="repeats"):
        T.dmatrix().dimshuffle(0, 0)
