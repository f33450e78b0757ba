"""sort, argsort, nonzero and flatnonzero against NumPy, and the gradient of sort."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import verify_grad

MODES = ["FAST_RUN", "FAST_COMPILE"]


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=25, deadline=None)
@given(a=hnp.arrays("float64", hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4),
                    elements=st.integers(-3, 3).map(float)),
       axis=st.integers(-1, 0))
def test_sort_and_argsort_match_numpy(mode, a, axis):
    x = T.TensorType("float64", (None,) * a.ndim)("x")
    f = vg.function([x], [T.sort(x, axis=axis), T.argsort(x, axis=axis), T.sort(x, axis=None)],
                    mode=mode)
    s, i, flat = f(a)
    np.testing.assert_array_equal(s, np.sort(a, axis=axis))
    np.testing.assert_array_equal(i, np.argsort(a, axis=axis, kind="stable"))
    np.testing.assert_array_equal(flat, np.sort(a, axis=None))


@pytest.mark.parametrize("mode", MODES + ["DebugMode"])
def test_nonzero_and_flatnonzero(mode):
    x = T.dmatrix("x")
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    rows, cols = vg.function([x], list(x.nonzero()), mode=mode)(a)
    np.testing.assert_array_equal(rows, np.nonzero(a)[0])
    np.testing.assert_array_equal(cols, np.nonzero(a)[1])
    flat = vg.function([x], T.flatnonzero(x), mode=mode)(a)
    np.testing.assert_array_equal(flat, np.flatnonzero(a))
    stacked = vg.function([x], T.nonzero(x, return_matrix=True), mode=mode)(a)
    np.testing.assert_array_equal(stacked, np.array(np.nonzero(a)))


def test_sort_gradient_routes_back_to_the_original_positions():
    rng = np.random.default_rng(0)
    verify_grad(lambda v: T.sort(v, axis=1) * np.arange(4.0), [rng.random((3, 4))])
    x = T.dvector("x")
    g = vg.function([x], vg.grad((T.sort(x) * np.array([1.0, 2.0, 3.0])).sum(), x))
    np.testing.assert_array_equal(g(np.array([5.0, -1.0, 2.0])), [3.0, 1.0, 2.0])


def test_sort_of_a_scalar_is_a_clear_error():
    with pytest.raises(TypeError, match="0-d"):
        T.sort(T.dscalar("s"))
