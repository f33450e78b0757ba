"""Gradients through scan (backpropagation through time), checked by finite differences."""
import importlib.util

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import NullTypeGradError, verify_grad

MODES = ["FAST_RUN", "FAST_COMPILE"]
ALL_MODES = MODES + (["DebugMode"] if importlib.util.find_spec("verigraph.modes.debug") else [])
RNG = np.random.default_rng(11)


def rnn(x, h0, W, U):
    out, _ = vg.scan(lambda x_t, h, W, U: T.tanh(T.dot(x_t, W) + T.dot(h, U)),
                     sequences=x, outputs_info=h0, non_sequences=[W, U])
    return out


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_tanh_rnn(mode):
    pts = [RNG.normal(size=(4, 2)), RNG.normal(size=3), 0.5 * RNG.normal(size=(2, 3)),
           0.5 * RNG.normal(size=(3, 3))]
    verify_grad(rnn, pts, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_output_and_sequence_taps(mode):
    def fun(x, f0):
        out, _ = vg.scan(lambda a, b, c, p2, p1: p2 * T.sin(a) + p1 * b + c,
                         sequences=dict(input=x, taps=[-1, 0, 1]),
                         outputs_info=dict(initial=f0, taps=[-2, -1]))
        return out
    verify_grad(fun, [RNG.normal(size=6), RNG.normal(size=3)], mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_go_backwards_and_n_steps(mode):
    def fun(x, w):
        out, _ = vg.scan(lambda a, h, w: h * w + a ** 2, sequences=x,
                         outputs_info=T.zeros_like(w), non_sequences=w, go_backwards=True,
                         n_steps=3)
        return out
    verify_grad(fun, [RNG.normal(size=(5, 2)), RNG.normal(size=2)], mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_verify_grad_non_recurrent_outputs_and_closure(mode):
    def fun(x, w):
        out, _ = vg.scan(lambda a: T.sum(T.exp(a * w)), sequences=x)
        return out
    verify_grad(fun, [RNG.normal(size=(3, 2)), RNG.normal(size=2)], mode=mode)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_grad_values_of_a_linear_recurrence(mode):
    # h_t = a * h_{t-1} + x_t, cost = h_n: d cost/d x_t = a^(n-1-t), d cost/d h0 = a^n.
    x = T.dvector("x")
    a = T.dscalar("a")
    h0 = T.dscalar("h0")
    h, _ = vg.scan(lambda xt, h, a: a * h + xt, sequences=x, outputs_info=h0, non_sequences=a)
    gx, gh0, ga = T.grad(h[-1], [x, h0, a])
    f = vg.function([x, h0, a], [gx, gh0, ga], mode=mode)
    xv, av, hv = np.array([1.0, 2.0, 3.0, 4.0]), 0.5, 2.0
    rx, rh0, ra = f(xv, hv, av)
    np.testing.assert_allclose(rx, av ** np.arange(3, -1, -1))
    assert rh0 == pytest.approx(av ** 4)
    eps = 1e-6
    h_of = vg.function([x, h0, a], h[-1])
    assert ra == pytest.approx((h_of(xv, hv, av + eps) - h_of(xv, hv, av - eps)) / (2 * eps))


@pytest.mark.parametrize("mode", MODES)
def test_truncate_gradient(mode):
    x = T.dvector("x")
    a = T.dscalar("a")
    h0 = T.dscalar("h0")
    h, _ = vg.scan(lambda xt, h, a: a * h + xt, sequences=x, outputs_info=h0, non_sequences=a,
                   truncate_gradient=2)
    gx, gh0, ga = T.grad(h[-1], [x, h0, a])
    f = vg.function([x, h0, a], [gx, gh0, ga], mode=mode)
    rx, rh0, ra = f(np.array([1.0, 2.0, 3.0, 4.0]), 2.0, 0.5)
    np.testing.assert_allclose(rx, [0.0, 0.0, 0.5, 1.0])
    assert rh0 == 0.0
    # Only the last two steps contribute: h_3 = a h_2 + x_3 -> h_2 + a * h_1 (h_1 = 3.5...).
    hs = [2.0]
    for xt in [1.0, 2.0, 3.0, 4.0]:
        hs.append(0.5 * hs[-1] + xt)
    assert ra == pytest.approx(hs[3] + 0.5 * hs[2])
    # Truncation longer than the sequence is the full gradient.
    h2, _ = vg.scan(lambda xt, h, a: a * h + xt, sequences=x, outputs_info=h0, non_sequences=a,
                    truncate_gradient=10)
    full = vg.function([x, h0, a], T.grad(h2[-1], x), mode=mode)
    np.testing.assert_allclose(full(np.ones(4), 0.0, 0.5), 0.5 ** np.arange(3, -1, -1))


def test_rnn_training_loss_falls():
    import profiles.scan_polynomial as sp
    result = sp.main()
    assert result["polynomial"] == pytest.approx(19.0)
    assert result["loss_fell"]


def test_grad_through_random_draws_in_scan_is_declared_not_implemented():
    srng = T.shared_randomstreams.RandomStreams(3)
    x = T.dvector("x")
    out, _ = vg.scan(lambda xt: xt * srng.uniform(()), sequences=x)
    with pytest.raises(NullTypeGradError, match="random"):
        T.grad(out.sum(), x)
