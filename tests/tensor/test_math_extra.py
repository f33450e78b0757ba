"""roll, tile, inv, largest/smallest, batched_dot, logsumexp, ptp, deg2rad/rad2deg vs NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import verify_grad

MODES = ["FAST_RUN", "FAST_COMPILE"]
RNG = np.random.default_rng(3)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(0, 3), shift=st.integers(-7, 7), axis=st.sampled_from([None, 0, 1, -1]))
def test_roll_matches_numpy(mode, rows, shift, axis):
    a = RNG.uniform(-1, 1, (rows, 4))
    x, s = T.dmatrix("x"), T.lscalar("s")
    out = T.roll(x, s, axis)
    got, shp = vg.function([x, s], [out, out.shape], mode=mode)(a, shift)
    np.testing.assert_array_equal(got, np.roll(a, shift, axis))
    np.testing.assert_array_equal(shp, a.shape)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reps", [(2, 3), (1, 2), (2,), (2, 1, 2), (0, 2), 3])
def test_tile_matches_numpy(mode, reps):
    a = RNG.uniform(-1, 1, (2, 3))
    x = T.dmatrix("x")
    out = T.tile(x, reps)
    got, shp = vg.function([x], [out, out.shape], mode=mode)(a)
    np.testing.assert_array_equal(got, np.tile(a, reps))
    np.testing.assert_array_equal(shp, np.tile(a, reps).shape)


def test_tile_with_symbolic_reps_and_gradients():
    x, r = T.dvector("x"), T.lvector("r")
    f = vg.function([x, r], T.tile(x, r, ndim=2))
    np.testing.assert_array_equal(f(np.arange(3.0), np.array([2, 2])), np.tile(np.arange(3.0), (2, 2)))
    with pytest.raises(ValueError, match="pass ndim"):
        T.tile(x, r)
    verify_grad(lambda v: T.tile(v, (2, 3)), [RNG.random((2, 2))], rng=RNG)
    verify_grad(lambda v: T.roll(v, -1, 1) * np.arange(6.0).reshape(2, 3), [RNG.random((2, 3))],
                rng=RNG)


@pytest.mark.parametrize("mode", MODES)
def test_elementwise_helpers(mode):
    a, b, c = (RNG.uniform(0.5, 2, (2, 3)) for _ in range(3))
    x, y, z = T.dmatrices("x", "y", "z")
    f = vg.function([x, y, z], [T.inv(x), T.reciprocal(x), T.largest(x, y, z), T.smallest(x, y),
                                T.deg2rad(x), T.rad2deg(x), T.ptp(x, axis=1),
                                T.ptp(x, keepdims=True)], mode=mode)
    got = f(a, b, c)
    want = [1 / a, 1 / a, np.maximum(np.maximum(a, b), c), np.minimum(a, b), np.deg2rad(a),
            np.rad2deg(a), np.ptp(a, axis=1), np.ptp(a, keepdims=True)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
        assert g.shape == w.shape
    assert T.deg2rad(T.ivector()).dtype == "float64" and T.rad2deg(T.fvector()).dtype == "float32"
    with pytest.raises(TypeError, match="at least one"):
        T.largest()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sa,sb", [((4, 3), (4, 3)), ((4, 2, 3), (4, 3, 5)), ((4, 3), (4, 3, 2)),
                                   ((4, 2, 3), (4, 3)), ((2, 2, 2, 3), (2, 3, 1, 2))])
def test_batched_dot(mode, sa, sb):
    a, b = RNG.uniform(-1, 1, sa), RNG.uniform(-1, 1, sb)
    x, y = T.TensorType("float64", (None,) * len(sa))(), T.TensorType("float64", (None,) * len(sb))()
    got = vg.function([x, y], T.batched_dot(x, y), mode=mode)(a, b)
    want = np.stack([np.tensordot(a[i], b[i], axes=[[a.ndim - 2], [0]]) for i in range(a.shape[0])])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    verify_grad(T.batched_dot, [a, b], rng=RNG)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (0, True), ((0, 1), True)])
def test_logsumexp_is_stable(mode, axis, keepdims):
    from scipy.special import logsumexp as ref
    a = RNG.uniform(-1, 1, (3, 4)) * 1000
    a[0] = -np.inf
    x = T.dmatrix("x")
    got = vg.function([x], T.logsumexp(x, axis, keepdims), mode=mode)(a)
    want = ref(a, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    verify_grad(lambda v: T.logsumexp(v, axis, keepdims), [RNG.uniform(-3, 3, (3, 4))], rng=RNG)
