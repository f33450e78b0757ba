"""diag, diagonal and trace against NumPy, with their shapes and gradients."""
import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import verify_grad

MODES = ["FAST_RUN", "FAST_COMPILE"]
RNG = np.random.default_rng(5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(3, 4), (4, 2), (0, 3), (1, 1)])
@pytest.mark.parametrize("k", [0, 1, -1, 5])
def test_matrix_diagonal_and_trace(mode, shape, k):
    a = RNG.uniform(-1, 1, shape)
    x = T.dmatrix("x")
    d = T.diagonal(x, k)
    got = vg.function([x], [d, d.shape, T.diag(x, k), T.trace(x, k)], mode=mode)(a)
    np.testing.assert_array_equal(got[0], np.diagonal(a, k))
    np.testing.assert_array_equal(got[1], np.diagonal(a, k).shape)
    np.testing.assert_array_equal(got[2], np.diag(a, k))
    np.testing.assert_allclose(got[3], np.trace(a, k))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [0, 2, -1])
def test_vector_to_matrix(mode, k):
    v = RNG.uniform(-1, 1, 3)
    x = T.dvector("x")
    m = T.diag(x, k)
    got, shp = vg.function([x], [m, m.shape], mode=mode)(v)
    np.testing.assert_array_equal(got, np.diag(v, k))
    np.testing.assert_array_equal(shp, np.diag(v, k).shape)


@pytest.mark.parametrize("mode", MODES)
def test_nd_diagonal_over_chosen_axes(mode):
    a = RNG.uniform(-1, 1, (2, 3, 4))
    x = T.dtensor3("x")
    out = T.diagonal(x, 1, axis1=2, axis2=0)
    np.testing.assert_array_equal(vg.function([x], out, mode=mode)(a),
                                  np.diagonal(a, 1, axis1=2, axis2=0))


def test_gradients_and_errors():
    verify_grad(lambda v: T.diag(v, 1), [RNG.random(3)], rng=RNG)
    verify_grad(lambda m: T.diag(m, -1), [RNG.random((3, 4))], rng=RNG)
    verify_grad(lambda m: T.trace(m), [RNG.random((3, 3))], rng=RNG)
    verify_grad(lambda m: T.diagonal(m, 0, 1, 2), [RNG.random((2, 3, 3))], rng=RNG)
    with pytest.raises(ValueError, match="vector or a matrix"):
        T.diag(T.dtensor3())
    with pytest.raises(ValueError, match="distinct axes"):
        T.diagonal(T.dmatrix(), 0, 1, 1)
    with pytest.raises(TypeError, match="Python int"):
        T.diag(T.dvector(), T.lscalar())
