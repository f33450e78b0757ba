"""scan: the loop tutorial's examples and the loop mechanics, in every mode."""
import importlib.util
from collections import OrderedDict

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.scan import Scan

MODES = ["FAST_RUN", "FAST_COMPILE"] + (
    ["DebugMode"] if importlib.util.find_spec("verigraph.modes.debug") else [])


@pytest.mark.parametrize("mode", MODES)
def test_power_by_repeated_multiplication(mode):
    k = T.iscalar("k")
    A = T.vector("A")
    result, updates = vg.scan(fn=lambda prior_result, A: prior_result * A,
                              outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    power = vg.function([A, k], result[-1], updates=updates, mode=mode)
    a = np.arange(10, dtype=vg.config.floatX)
    np.testing.assert_allclose(power(a, 2), a ** 2)
    np.testing.assert_allclose(power(a, 5), a ** 5)
    assert updates == OrderedDict()


@pytest.mark.parametrize("mode", MODES)
def test_polynomial_from_coefficients(mode):
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    components, updates = vg.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
        outputs_info=None, sequences=[coefficients, T.arange(10000)], non_sequences=x)
    polynomial = vg.function([coefficients, x], components.sum(), updates=updates, mode=mode)
    assert polynomial(np.asarray([1, 0, 2], dtype=vg.config.floatX), 3) == pytest.approx(19.0)


@pytest.mark.parametrize("mode", MODES)
def test_cumulative_sum(mode):
    v = T.dvector("v")
    s, _ = vg.scan(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0.0))
    f = vg.function([v], s, mode=mode)
    data = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(f(data), np.cumsum(data))
    assert f(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("mode", MODES)
def test_tanh_of_each_row(mode):
    X, W = T.dmatrices("X", "W")
    b_sym = T.dvector("b_sym")
    results, _ = vg.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    f = vg.function([X, W, b_sym], results, mode=mode)
    x, w, b = np.eye(2), np.ones((2, 2)), np.array([1.0, 2.0])
    np.testing.assert_allclose(f(x, w, b), np.tanh(x.dot(w) + b))


@pytest.mark.parametrize("mode", MODES)
def test_recurrence_with_reversed_sequence(mode):
    # x(t) = tanh(x(t-1) W + y(t) U + p(T-t) V), the loop tutorial's example
    X, W, Y, U, P, V = (T.dmatrix(n) for n in "XWYUPV")
    X = T.dvector("X")
    results, _ = vg.scan(lambda y, p, x_tm1: T.tanh(T.dot(x_tm1, W) + T.dot(y, U) + T.dot(p, V)),
                         sequences=[Y, P[::-1]], outputs_info=[X])
    f = vg.function([X, W, Y, U, P, V], results, mode=mode)
    rng = np.random.default_rng(0)
    x, w, y, u, p, v = (rng.normal(size=s) for s in [(2,), (2, 2), (5, 2), (2, 2), (5, 2), (2, 2)])
    expected = np.zeros((5, 2))
    expected[0] = np.tanh(x.dot(w) + y[0].dot(u) + p[4].dot(v))
    for i in range(1, 5):
        expected[i] = np.tanh(expected[i - 1].dot(w) + y[i].dot(u) + p[4 - i].dot(v))
    np.testing.assert_allclose(f(x, w, y, u, p, v), expected)


@pytest.mark.parametrize("mode", MODES)
def test_go_backwards(mode):
    v = T.dvector("v")
    s, _ = vg.scan(lambda x, acc: acc * 10 + x, sequences=v, outputs_info=T.constant(0.0),
                   go_backwards=True)
    f = vg.function([v], s, mode=mode)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [3.0, 32.0, 321.0])


@pytest.mark.parametrize("mode", MODES)
def test_output_taps_fibonacci(mode):
    f0 = T.dvector("f0")
    n = T.iscalar("n")
    fib, _ = vg.scan(lambda a, b: a + b, outputs_info=dict(initial=f0, taps=[-2, -1]),
                     n_steps=n)
    f = vg.function([f0, n], fib, mode=mode)
    np.testing.assert_allclose(f([0.0, 1.0], 8), [1, 2, 3, 5, 8, 13, 21, 34])
    with pytest.raises(ValueError):
        f([1.0], 3)  # the taps need two initial values


@pytest.mark.parametrize("mode", MODES)
def test_sequence_taps(mode):
    x = T.dvector("x")
    out, _ = vg.scan(lambda a, b, c: a + 2 * b + 3 * c,
                     sequences=dict(input=x, taps=[-1, 0, 1]))
    f = vg.function([x], out, mode=mode)
    xv = np.arange(6.0) ** 2
    np.testing.assert_allclose(f(xv), xv[:-2] + 2 * xv[1:-1] + 3 * xv[2:])


@pytest.mark.parametrize("mode", MODES)
def test_n_steps_caps_the_sequences(mode):
    x = T.dvector("x")
    n = T.iscalar("n")
    out, _ = vg.scan(lambda a: a * 2, sequences=x, n_steps=n)
    f = vg.function([x, n], [out, out.shape], mode=mode)
    val, shp = f(np.arange(5.0), 3)
    np.testing.assert_allclose(val, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(shp, [3])


@pytest.mark.parametrize("mode", MODES)
def test_mixed_outputs_and_shape_inference(mode):
    x = T.dmatrix("x")
    h0 = T.dvector("h0")
    (h, y), _ = vg.scan(lambda r, h: [h + r, T.sum(r) * 2], sequences=x, outputs_info=[h0, None])
    f = vg.function([x, h0], [h.shape, y.shape, h, y], mode=mode)
    xv = np.arange(6.0).reshape(3, 2)
    hs, ys, hv, yv = f(xv, np.zeros(2))
    np.testing.assert_array_equal(hs, [3, 2])
    np.testing.assert_array_equal(ys, [3])
    np.testing.assert_allclose(hv, np.cumsum(xv, axis=0))
    np.testing.assert_allclose(yv, xv.sum(axis=1) * 2)


def test_shape_inference_does_not_run_the_loop():
    x = T.dmatrix("x")
    out, _ = vg.scan(lambda r: T.exp(r), sequences=x)
    f = vg.function([x], out.shape)
    assert not any(isinstance(n.op, Scan) for n in f.maker.fgraph.apply_nodes)
    np.testing.assert_array_equal(f(np.ones((4, 3))), [4, 3])


@pytest.mark.parametrize("mode", MODES)
def test_shared_variables_inside_the_step(mode):
    w = vg.shared(np.array([1.0, 2.0]), name="w")
    counter = vg.shared(np.asarray(0, dtype="int64"), name="counter")
    x = T.dmatrix("x")

    def step(r):
        return r * w, {counter: counter + 1}
    out, updates = vg.scan(step, sequences=x)
    assert list(updates) == [counter]
    f = vg.function([x], out, updates=updates, mode=mode)
    np.testing.assert_allclose(f(np.ones((3, 2))), [[1, 2]] * 3)
    assert counter.get_value() == 3
    f(np.ones((2, 2)))
    assert counter.get_value() == 5


@pytest.mark.parametrize("mode", MODES)
def test_jacobian_with_scan(mode):
    x = T.dvector("x")
    y = x ** 2
    J, updates = vg.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                         non_sequences=[y, x])
    f = vg.function([x], J, updates=updates, mode=mode)
    np.testing.assert_allclose(f([4.0, 4.0]), [[8.0, 0.0], [0.0, 8.0]])
    g = vg.function([x], vg.gradient.jacobian(T.tanh(x) * 3, x), mode=mode)
    xv = np.array([0.1, -0.5, 2.0])
    np.testing.assert_allclose(g(xv), np.diag(3 * (1 - np.tanh(xv) ** 2)))
    h = vg.function([x], vg.gradient.hessian(T.sum(x ** 3), x), mode=mode)
    np.testing.assert_allclose(h([1.0, 2.0]), [[6.0, 0.0], [0.0, 12.0]])


def test_scan_is_callable_from_the_package_and_module():
    import verigraph.scan as scan_module
    x = T.dvector("x")
    a, _ = vg.scan(lambda v: v + 1, sequences=x)
    b, _ = scan_module.scan(lambda v: v + 1, sequences=x)
    f = vg.function([x], [a, b])
    for r in f([1.0, 2.0]):
        np.testing.assert_allclose(r, [2.0, 3.0])


def test_loop_invariant_work_is_hoisted():
    x = T.dmatrix("x")
    W = T.dmatrix("W")
    out, _ = vg.scan(lambda r: T.dot(r, W.T), sequences=x)
    (node,) = [n for n in [out.owner] if isinstance(n.op, Scan)]
    # W.T is computed once outside the loop and enters as an invariant input.
    assert any(i.owner is not None and "DimShuffle" in str(i.owner.op) for i in node.inputs)


def test_errors_are_clear():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="n_steps"):
        vg.scan(lambda: x, outputs_info=None)
    with pytest.raises(TypeError, match="dtype float32"):
        vg.scan(lambda r, h: T.cast(h + r, "float32"), sequences=x,
                outputs_info=T.constant(0.0))
    with pytest.raises(ValueError, match="outputs_info"):
        vg.scan(lambda r: [r, r], sequences=x, outputs_info=[None])
    h0 = T.dvector("h0")
    grow, _ = vg.scan(lambda r, h: T.join(0, h, h), sequences=x, outputs_info=h0)
    for mode in ["FAST_RUN", "FAST_COMPILE"]:
        f = vg.function([x, h0], grow, mode=mode)
        with pytest.raises(ShapeMismatchError, match="keep its shape"):
            f([1.0, 2.0], [1.0])


@pytest.mark.parametrize("mode", MODES)
def test_random_draws_inside_scan(mode):
    srng = T.shared_randomstreams.RandomStreams(1234)
    W = vg.shared(np.random.RandomState(0).rand(4, 3), name="W")

    def gibbs_step(v):
        hmean = T.nnet.sigmoid(T.dot(v, W))
        h = srng.binomial(size=hmean.shape, n=1, p=hmean)
        vmean = T.nnet.sigmoid(T.dot(h, W.T))
        return srng.binomial(size=v.shape, n=1, p=vmean, dtype="float64")
    sample = T.dvector("sample")
    values, updates = vg.scan(gibbs_step, outputs_info=sample, n_steps=10)
    assert len(updates) == 2
    f = vg.function([sample], values, updates=updates, mode=mode)
    srng.seed(5)
    first = f(np.ones(4))
    second = f(np.ones(4))
    assert first.shape == (10, 4) and set(np.unique(first)) <= {0.0, 1.0}
    assert not np.array_equal(first, second)  # the generators moved on
    srng.seed(5)
    np.testing.assert_array_equal(f(np.ones(4)), first)
    # Every mode draws the same numbers from the same seed.
    ref = vg.function([sample], values, updates=updates, mode="FAST_COMPILE")
    srng.seed(5)
    np.testing.assert_array_equal(ref(np.ones(4)), first)


def test_uniform_noise_per_step_without_explicit_updates():
    srng = T.shared_randomstreams.RandomStreams(7)
    out, updates = vg.scan(lambda: srng.uniform((2,)), n_steps=4)
    f = vg.function([], out, updates=updates)
    a = f()
    assert a.shape == (4, 2) and len({tuple(r) for r in a}) == 4


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "FAST_RUN", "DebugMode"])
def test_zero_iterations_keep_the_per_step_shape(mode):
    # Found by `verigraph fuzz --kinds scan`: a non-recurrent output of a loop that ran
    # zero times had shape (0, 0) instead of (0, 2), which also broke its gradient.
    s, w = T.dmatrix("s"), T.dvector("w")
    out, _ = vg.scan(lambda a, w: T.tanh(a * w), sequences=[s], non_sequences=[w])
    f = vg.function([s, w], out, mode=mode)
    assert f(np.zeros((0, 2)), np.ones(2)).shape == (0, 2)
    out, _ = vg.scan(lambda w: T.tanh(w), non_sequences=[w], n_steps=0)
    assert vg.function([w], out, mode=mode)(np.ones(3)).shape == (0, 3)
    h = T.dvector("h")
    rec, _ = vg.scan(lambda a, p: T.tanh(p), sequences=[dict(input=s, taps=[-2])],
                     outputs_info=[h])
    g = vg.grad(T.sum(rec), s)
    assert vg.function([s, h], g, mode=mode)(np.zeros((2, 2)), np.ones(2)).shape == (2, 2)
