"""grad differentiates the stabilized cost: the tutorial logistic regression trains without NaN."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import verigraph as theano
import verigraph.tensor as T
from verigraph.configparser import change_flags
from verigraph.gradient import DisconnectedInputError, Lop, verify_grad
from verigraph.graph.traversal import ancestors

Z = np.linspace(-800.0, 800.0, 161)


def _sigmoid(z):
    return np.exp(-np.logaddexp(0.0, -z))


def _tutorial(rng):
    """The Theano tutorial's logistic regression, with its randn initialisation."""
    n, feats = 400, 784
    data = (rng.randn(n, feats), rng.randint(size=n, low=0, high=2).astype("float64"))
    x, y = T.matrix("x"), T.vector("y")
    w = theano.shared(rng.randn(feats), name="w")
    b = theano.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    return data, (x, y, w, b), prediction, xent, (gw, gb)


def _exact_loss(data, w, b):
    z = data[0] @ w + b
    y = data[1]
    xent = y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)
    return xent.mean() + 0.01 * (w ** 2).sum()


@pytest.mark.parametrize("mode,steps,accuracy", [("FAST_RUN", 1000, 0.99),
                                                  ("FAST_COMPILE", 1000, 0.99),
                                                  ("DebugMode", 200, 0.9)])
def test_tutorial_logistic_regression_trains(mode, steps, accuracy):
    data, (x, y, w, b), prediction, xent, (gw, gb) = _tutorial(np.random.RandomState(0))
    train = theano.function([x, y], [prediction, xent],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)), mode=mode)
    predict = theano.function([x], prediction, mode=mode)
    before = _exact_loss(data, w.get_value(), b.get_value())
    # |x . w| reaches ~100 at the start: the naive gradient was inf * 0 = NaN there.
    assert np.abs(data[0] @ w.get_value()).max() > 50
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow / invalid anywhere
        for _ in range(steps):
            train(data[0], data[1])  # DebugMode raises on any finding
    assert np.all(np.isfinite(w.get_value())) and np.isfinite(b.get_value())
    after = _exact_loss(data, w.get_value(), b.get_value())
    assert after < before / 5
    assert (predict(data[0]) == data[1]).mean() >= accuracy


# expression -> (builder, exact gradient, absolute tolerance). 1 - sigmoid(z) is computed
# exactly as sigmoid(-z). The sigmoid's own gradient o * (1 - o) rounds 1 - o to a multiple
# of 2**-53 (absolute error ~1e-16 in the far tail, finite): hence its atol.
LOGS = {
    "log(sigmoid(z))": (lambda z: T.log(T.sigmoid(z)), lambda z: _sigmoid(-z), 0.0),
    "log(1 - sigmoid(z))": (lambda z: T.log(1 - T.sigmoid(z)), lambda z: -_sigmoid(z), 0.0),
    "log(1/(1+exp(-z)))": (lambda z: T.log(1 / (1 + T.exp(-z))), lambda z: _sigmoid(-z), 0.0),
    "log(1 - 1/(1+exp(-z)))": (lambda z: T.log(1 - 1 / (1 + T.exp(-z))),
                               lambda z: -_sigmoid(z), 0.0),
    "1/(1+exp(z))": (lambda z: 1 / (1 + T.exp(z)), lambda z: -_sigmoid(z) * _sigmoid(-z), 2e-16),
    "exp(z)/(1+exp(z))": (lambda z: T.exp(z) / (1 + T.exp(z)),
                          lambda z: _sigmoid(z) * _sigmoid(-z), 2e-16),
    "log(1+exp(z))": (lambda z: T.log(1 + T.exp(z)), _sigmoid, 0.0),
}


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "DebugMode"])
@pytest.mark.parametrize("name", sorted(LOGS))
def test_gradient_is_finite_and_exact_everywhere(name, mode):
    build, exact, atol = LOGS[name]
    z = T.dvector("z")
    g = T.grad(build(z).sum(), z)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = theano.function([z], g, mode=mode)(Z)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, exact(Z), rtol=1e-12, atol=atol)


@pytest.mark.parametrize("name", sorted(LOGS))
def test_verify_grad_at_moderate_z(name):
    build = LOGS[name][0]
    verify_grad(build, [np.linspace(-6.0, 6.0, 7)], rng=np.random.default_rng(1))


def test_the_switch_turns_it_off():
    # optimizer_excluding=grad_stabilize gives back the naive gradient (and its NaN).
    z = T.dvector("z")
    with change_flags(optimizer_excluding="grad_stabilize"):
        g = T.grad(T.log(1 / (1 + T.exp(-z))).sum(), z)
    with np.errstate(all="ignore"):
        got = theano.function([z], g, mode="FAST_COMPILE")(np.array([-800.0, 0.0]))
    assert np.isnan(got[0]) and got[1] == 0.5


def test_untouched_graphs_are_differentiated_as_given():
    # Nothing to stabilize: the gradient is built on the caller's own variables.
    x = T.dvector("x")
    y = T.tanh(x) * 3
    g = T.grad(y.sum(), x)
    assert any(v is y for v in ancestors([g]))


def test_unchanged_parts_are_shared_not_copied():
    x, w = T.dmatrix("x"), T.dvector("w")
    z = T.dot(x, w)
    g = T.grad(T.log(1 / (1 + T.exp(-z))).sum(), w)
    assert any(v is z for v in ancestors([g]))  # the dot is the caller's node
    rng = np.random.RandomState(3)
    xv, wv = rng.randn(5, 4), rng.randn(4) * 100
    got = theano.function([x, w], g)(xv, wv)
    np.testing.assert_allclose(got, xv.T @ _sigmoid(-(xv @ wv)), rtol=1e-12)


def test_random_draws_are_not_duplicated():
    # The dropout mask in the gradient must be the very draw of the forward pass.
    from verigraph.tensor.shared_randomstreams import RandomStreams
    srng = RandomStreams(seed=7)
    w = T.dvector("w")
    mask = srng.binomial(size=(6,), p=0.5, dtype="float64")
    cost = T.log(1 / (1 + T.exp(-(w * mask)))).sum()
    g = T.grad(cost, w)
    f = theano.function([w], [mask, g])
    m, gv = f(np.full(6, 900.0))
    np.testing.assert_allclose(gv, m * _sigmoid(-900.0 * m))


def test_wrt_an_intermediate_that_stabilization_would_remove():
    # p_1 is rewritten to a sigmoid in the cost; grad wrt p_1 itself still exists.
    z = T.dvector("z")
    p_1 = 1 / (1 + T.exp(-z))
    cost = T.log(p_1).sum()
    gp, gz = T.grad(cost, [p_1, z])
    f = theano.function([z], [gp, gz])
    zv = np.array([-3.0, 0.0, 2.0])
    gpv, gzv = f(zv)
    np.testing.assert_allclose(gpv, 1 / _sigmoid(zv), rtol=1e-12)
    # z's gradient is the total derivative, through p_1 too.
    np.testing.assert_allclose(gzv, _sigmoid(-zv), rtol=1e-12)


def test_total_derivative_when_wrt_lists_an_intermediate_and_its_input():
    x = T.dscalar("x")
    h = x * 3
    c = h * h + x
    gh, gx = T.grad(c, [h, x])
    assert [float(v) for v in theano.function([x], [gh, gx])(2.0)] == [12.0, 37.0]


def test_disconnected_inputs_are_still_detected():
    z, other = T.dvector("z"), T.dvector("other")
    cost = T.log(1 / (1 + T.exp(-z))).sum()
    with pytest.raises(DisconnectedInputError):
        T.grad(cost, other)
    g = T.grad(cost, other, disconnected_inputs="ignore")
    np.testing.assert_array_equal(theano.function([other], g)(np.ones(2)), [0.0, 0.0])


def test_consider_constant_blocks_inside_a_stabilized_graph():
    z, y = T.dvector("z"), T.dvector("y")
    s = 2 * z
    cost = T.log(1 / (1 + T.exp(-(s + y)))).sum()
    with pytest.raises(DisconnectedInputError):  # z reaches the cost only through s
        T.grad(cost, z, consider_constant=[s])
    gy = T.grad(cost, y, consider_constant=[s])
    zv, yv = np.array([400.0, -1.0]), np.array([1.0, 0.5])
    np.testing.assert_allclose(theano.function([z, y], gy)(zv, yv),
                               _sigmoid(-(2 * zv + yv)), rtol=1e-12)


def test_known_grads_seed_the_stabilized_graph():
    z = T.dvector("z")
    out = T.log(1 / (1 + T.exp(-z)))
    seed = T.dvector("seed")
    g = T.grad(None, z, known_grads={out: seed})
    zv, sv = np.array([-800.0, 0.0, 800.0]), np.array([1.0, 2.0, 3.0])
    got = theano.function([z, seed], g)(zv, sv)
    np.testing.assert_allclose(got, sv * _sigmoid(-zv), rtol=1e-12)
    # Lop goes through the same path.
    lop = Lop(out, z, seed)
    np.testing.assert_allclose(theano.function([z, seed], lop)(zv, sv), got)
