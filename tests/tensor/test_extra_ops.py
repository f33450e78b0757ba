"""extra_ops (cumsum, cumprod, repeat, bincount, diff, fill_diagonal, squeeze) against NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.gradient import verify_grad
from verigraph.tensor import extra_ops

MODES = ["FAST_RUN", "FAST_COMPILE"]
RNG = np.random.default_rng(11)


def _var(a):
    return T.TensorType(a.dtype, (None,) * a.ndim)("x")


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=20, deadline=None)
@given(a=hnp.arrays("int8", hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
                    elements=st.integers(-3, 3)),
       dtype=st.sampled_from(["float64", "float32", "int32", "bool"]),
       axis=st.sampled_from([None, 0, -1]))
def test_cumsum_and_cumprod_match_numpy(mode, a, dtype, axis):
    a = a.astype(dtype)
    x = _var(a)
    f = vg.function([x], [T.cumsum(x, axis), T.cumprod(x, axis)], mode=mode)
    s, p = f(a)
    for got, want in ((s, np.cumsum(a, axis=axis)), (p, np.cumprod(a, axis=axis))):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_cum_gradients():
    m = RNG.uniform(0.5, 2.0, (3, 4))
    for axis in (0, 1, None):
        verify_grad(lambda v, a=axis: T.cumsum(v, a) * np.arange(1.0, 13.0).reshape(3, 4)
                    if a is not None else T.cumsum(v, a), [m], rng=RNG)
        verify_grad(lambda v, a=axis: T.cumprod(v, a), [m], rng=RNG)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("repeats,axis", [(2, 0), (3, 1), (0, 1), ([1, 0, 2], 0),
                                          ([2, 1, 1, 0], -1), (2, None)])
def test_repeat_matches_numpy(mode, repeats, axis):
    a = RNG.uniform(-1, 1, (3, 4))
    x = T.dmatrix("x")
    out = T.repeat(x, repeats, axis=axis)
    got = vg.function([x], [out, out.shape], mode=mode)(a)
    want = np.repeat(a, repeats, axis=axis)
    np.testing.assert_array_equal(got[0], want)
    np.testing.assert_array_equal(got[1], want.shape)


def test_repeat_symbolic_counts_gradient_and_errors():
    x, r = T.dvector("x"), T.lvector("r")
    a = np.array([1.0, 2.0, 3.0])
    f = vg.function([x, r], T.repeat(x, r))
    np.testing.assert_array_equal(f(a, np.array([0, 2, 1])), [2.0, 2.0, 3.0])
    with pytest.raises(ShapeMismatchError, match="expected 3 repeat counts"):
        f(a, np.array([1, 1]))
    with pytest.raises(TypeError, match="integer scalar or vector"):
        T.repeat(x, T.dvector())
    verify_grad(lambda v: T.repeat(v, np.array([2, 0, 3, 1]), axis=1), [RNG.random((2, 4))],
                rng=RNG)
    verify_grad(lambda v: T.repeat(v, 2, axis=0), [RNG.random((2, 3))], rng=RNG)


@pytest.mark.parametrize("mode", MODES)
def test_bincount_matches_numpy_and_weights_have_gradient(mode):
    x, w = T.lvector("x"), T.dvector("w")
    v, wv = np.array([0, 3, 1, 3, 3]), RNG.random(5)
    f = vg.function([x, w], [extra_ops.bincount(x), extra_ops.bincount(x, w, minlength=7)],
                    mode=mode)
    c, s = f(v, wv)
    np.testing.assert_array_equal(c, np.bincount(v))
    np.testing.assert_allclose(s, np.bincount(v, wv, 7))
    with pytest.raises(ValueError, match="non-negative"):
        f(np.array([1, -1, 0]), wv[:3])
    with pytest.raises(TypeError, match="integer vector"):
        extra_ops.bincount(T.dvector())
    verify_grad(lambda ww: extra_ops.bincount(T.constant(v), ww) * np.arange(1.0, 5.0), [wv],
                rng=RNG)


@pytest.mark.parametrize("mode", MODES)
def test_diff_fill_diagonal_squeeze(mode):
    a = RNG.uniform(-1, 1, (3, 5))
    x = T.dmatrix("x")
    f = vg.function([x], [extra_ops.diff(x), extra_ops.diff(x, n=2, axis=0),
                          extra_ops.fill_diagonal(x, 7.0),
                          extra_ops.squeeze(x[:1], axis=0)], mode=mode)
    d1, d2, fd, sq = f(a)
    np.testing.assert_allclose(d1, np.diff(a))
    np.testing.assert_allclose(d2, np.diff(a, n=2, axis=0))
    want = a.copy()
    np.fill_diagonal(want, 7.0)
    np.testing.assert_array_equal(fd, want)
    np.testing.assert_array_equal(sq, a[0])
    y = T.TensorType("float64", (1, None, 1))("y")
    assert extra_ops.squeeze(y).ndim == 1
    with pytest.raises(ShapeMismatchError):
        vg.function([x], extra_ops.squeeze(x, 0), mode=mode)(a)
    verify_grad(lambda v: extra_ops.diff(v, 2) * 1.0, [a], rng=RNG)
    verify_grad(lambda v, s: extra_ops.fill_diagonal(v, s), [a, np.array(0.5)], rng=RNG)
