"""nnet activations (hard_sigmoid, ultra_fast_sigmoid, softsign, elu, selu, softmax_with_bias)."""
import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import verify_grad
from verigraph.tensor import nnet

MODES = ["FAST_RUN", "FAST_COMPILE"]
RNG = np.random.default_rng(9)
ALPHA, SCALE = 1.6732632423543772, 1.0507009873554805


def _elu(a, alpha=1.0):
    return np.where(a > 0, a, alpha * (np.exp(np.minimum(a, 0)) - 1))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_activations_match_numpy(mode, dtype):
    a = np.concatenate([RNG.uniform(-4, 4, 9), [0.0, 800.0, -800.0]]).astype(dtype)
    x = T.TensorType(dtype, (None,))("x")
    outs = [nnet.hard_sigmoid(x), nnet.ultra_fast_sigmoid(x), nnet.softsign(x), nnet.elu(x),
            nnet.elu(x, 0.5), nnet.selu(x)]
    with np.errstate(over="ignore"):
        want = [np.clip(0.2 * a + 0.5, 0, 1), 1 / (1 + np.exp(-a.astype("float64"))),
                a / (1 + np.abs(a)), _elu(a), _elu(a, 0.5), SCALE * _elu(a, ALPHA)]
    tol = 1e-6 if dtype == "float32" else 1e-12
    for o, g, w in zip(outs, vg.function([x], outs, mode=mode)(a), want):
        assert o.dtype == dtype and g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


def test_activation_gradients_are_finite_and_correct():
    pts = [RNG.uniform(-3, 3, (2, 3)) + 0.05]
    for fn in (nnet.hard_sigmoid, nnet.softsign, nnet.elu, nnet.selu):
        verify_grad(fn, pts, rng=RNG)
    x = T.dvector("x")
    g = vg.function([x], vg.grad(nnet.elu(x).sum(), x))(np.array([800.0, -800.0, -1.0]))
    np.testing.assert_allclose(g, [1.0, 0.0, np.exp(-1.0)])


@pytest.mark.parametrize("mode", MODES)
def test_softmax_with_bias(mode):
    a, b = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, 4)
    x, y = T.dmatrix("x"), T.dvector("b")
    got = vg.function([x, y], nnet.softmax_with_bias(x, y), mode=mode)(a, b)
    e = np.exp(a + b)
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    verify_grad(nnet.softmax_with_bias, [a, b], rng=RNG)
    with pytest.raises(TypeError, match="matrix and a vector"):
        nnet.softmax_with_bias(y, y)
