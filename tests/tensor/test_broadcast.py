"""shape_pad*, addbroadcast, unbroadcast and patternbroadcast: static patterns and run-time checks."""
import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.gradient import verify_grad

MODES = ["FAST_RUN", "FAST_COMPILE"]


def test_padding_inserts_broadcastable_axes():
    x = T.dmatrix("x")
    assert T.shape_padleft(x, 2).broadcastable == (True, True, False, False)
    assert T.shape_padright(x).broadcastable == (False, False, True)
    assert T.shape_padaxis(x, 1).broadcastable == (False, True, False)
    assert T.shape_padaxis(x, -1).broadcastable == (False, False, True)
    with pytest.raises(IndexError, match="out of range"):
        T.shape_padaxis(x, 3)
    a = np.ones((2, 3))
    out = vg.function([x], T.shape_padaxis(x, 0) + T.shape_padleft(x))(a)
    assert out.shape == (1, 2, 3)


@pytest.mark.parametrize("mode", MODES)
def test_add_and_remove_broadcastable(mode):
    x = T.dmatrix("x")
    b = T.addbroadcast(x, 0)
    assert b.broadcastable == (True, False)
    u = T.unbroadcast(b, 0)
    assert u.broadcastable == (False, False)
    p = T.patternbroadcast(b, (False, True))
    assert p.broadcastable == (False, True)
    y = T.dmatrix("y")
    # The declared axis broadcasts against another tensor.
    np.testing.assert_array_equal(vg.function([x, y], b + y, mode=mode)(
        np.ones((1, 3)), np.zeros((2, 3))), np.ones((2, 3)))
    np.testing.assert_array_equal(vg.function([x], u, mode=mode)(np.ones((1, 3))), np.ones((1, 3)))
    with pytest.raises(ShapeMismatchError):
        vg.function([x], b * 2, mode=mode)(np.ones((2, 3)))
    with pytest.raises(ShapeMismatchError):
        vg.function([x], p * 2, mode=mode)(np.ones((1, 3)))
    # An unbroadcast axis no longer broadcasts in elementwise operations.
    with pytest.raises(ShapeMismatchError):
        vg.function([x], u + T.ones((2, 3)), mode=mode)(np.ones((1, 3)))
    assert T.unbroadcast(x, 0) is x and T.addbroadcast(b, 0) is b


def test_unbroadcast_gradient():
    verify_grad(lambda v: T.unbroadcast(T.addbroadcast(v, 0), 0) * 3.0, [np.ones((1, 3))])
