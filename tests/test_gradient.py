"""verigraph.gradient: verify_grad on every differentiable Op (with broadcasting), grad's API
semantics, the tutorial's derivative and Rosenbrock examples, jacobian/hessian, Rop/Lop."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import (DisconnectedInputError, GradientError, Lop, NullTypeGradError, Rop,
                                disconnected_grad, grad, hessian, jacobian, verify_grad, zero_grad)
from verigraph.tensor import nnet
from verigraph.tensor import scalar_table as st
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.type import TensorType

from tensor._strategies import broadcast_inputs, values_for

NON_DIFFERENTIABLE = {"int_div", "floor", "ceil", "round_half_to_even",
                      "round_half_away_from_zero", "sign", "lt", "le", "gt", "ge", "eq", "neq",
                      "isnan", "isinf", "and_", "or_", "xor", "invert"}
DIFFERENTIABLE = sorted(n for n in st.TABLE if not n.startswith("cast_")
                        and n not in NON_DIFFERENTIABLE)
RNG = np.random.default_rng(1234)


def _fixed(static):
    """fun wrapper: declare the drawn static shape, so broadcasting happens inside the graph."""
    def wrap(x):
        return T.specify_shape(x, static) if any(s == 1 for s in static) else x
    return wrap


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@settings(max_examples=6, deadline=None)
@given(data=hs.data())
def test_verify_grad_every_differentiable_row(name, data):
    row = st.TABLE[name]
    _, specs = data.draw(broadcast_inputs(row.nin, max_ndim=2, allow_empty=False))
    rng = np.random.default_rng(data.draw(hs.integers(0, 2**32 - 1)))
    vals = values_for(row.domain, [v for _, v in specs], "float64", rng)
    wraps = [_fixed(s) for s, _ in specs]
    if name == "switch":
        cond = T.constant(vals[0])
        vals = vals[1:]
        verify_grad(lambda a, b: Elemwise(row)(cond, wraps[1](a), wraps[2](b)), vals, rng=rng)
        return
    verify_grad(lambda *xs: Elemwise(row)(*[w(x) for w, x in zip(wraps, xs)]), vals, rng=rng)


@pytest.mark.parametrize("name", sorted(NON_DIFFERENTIABLE - {"and_", "or_", "xor", "invert"}))
def test_non_differentiable_rows_have_zero_gradient(name):
    row = st.TABLE[name]
    xs = [T.dvector() for _ in range(row.nin)]
    out = Elemwise(row)(*xs)
    cost = T.sum(T.cast(out, "float64"))
    gs = grad(cost, xs)
    vals = values_for(row.domain, [(3,)] * row.nin, "float64", RNG)
    for g in vg.function(xs, gs)(*vals):
        np.testing.assert_array_equal(g, np.zeros(3))


def test_float32_verify_grad():
    verify_grad(lambda x, y: T.tanh(x) * y, [RNG.uniform(-1, 1, (2, 3)).astype("float32"),
                                            RNG.uniform(-1, 1, (2, 3)).astype("float32")], rng=RNG)


def test_verify_grad_catches_a_wrong_gradient():
    class BadSquare(Elemwise):
        def L_op(self, inputs, outputs, gouts):
            return [gouts[0] * inputs[0]]  # missing the factor 2
    with pytest.raises(GradientError, match="differs from finite differences"):
        verify_grad(lambda x: BadSquare(st.sqr)(x), [np.array([1.0, 2.0])], rng=RNG)


# -- every other differentiable Op --------------------------------------------------------------
def _m(*shape):
    return RNG.uniform(-1, 1, shape)


row_b = TensorType("float64", (1, None))
OTHER_OPS = {
    "sum": (lambda x: x.sum(), [_m(2, 3)]),
    "sum_axis_keepdims": (lambda x: x.sum(axis=0, keepdims=True), [_m(2, 3)]),
    "sum_tuple_axes": (lambda x: x.sum(axis=(0, 2)), [_m(2, 3, 2)]),
    "prod": (lambda x: x.prod(axis=1), [_m(3, 3)]),
    "prod_with_zeros": (lambda x: x.prod(axis=1), [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5],
                                                             [1.0, 2.0, 3.0]])]),
    "prod_all_with_a_zero": (lambda x: x.prod(), [np.array([[0.5, 2.0], [0.0, -1.5]])]),
    "max": (lambda x: x.max(axis=0), [np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])]),
    "min": (lambda x: x.min(), [np.array([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])]),
    "mean": (lambda x: x.mean(axis=1), [_m(2, 3)]),
    "var": (lambda x: x.var(axis=0), [_m(3, 2)]),
    "std": (lambda x: x.std(), [_m(3, 2)]),
    "dot_mm": (T.dot, [_m(2, 3), _m(3, 4)]),
    "dot_mv": (T.dot, [_m(2, 3), _m(3)]),
    "dot_vm": (T.dot, [_m(3), _m(3, 2)]),
    "dot_vv": (T.dot, [_m(3), _m(3)]),
    "dot_3d": (T.dot, [_m(2, 2, 3), _m(3, 2)]),
    "matmul": (T.matmul, [_m(2, 2, 3), _m(2, 3, 2)]),
    "matmul_broadcast_batch": (lambda a, b: T.matmul(T.specify_shape(a, (1, None, None)), b),
                               [_m(1, 2, 3), _m(3, 3, 2)]),
    "outer": (T.outer, [_m(3), _m(2)]),
    "tensordot": (lambda a, b: T.tensordot(a, b, axes=[[1, 2], [1, 0]]), [_m(2, 3, 2), _m(2, 3, 2)]),
    "reshape": (lambda x: x.reshape((3, -1)), [_m(2, 3)]),
    "flatten": (lambda x: x.flatten(), [_m(2, 3)]),
    "dimshuffle": (lambda x: x.dimshuffle(1, "x", 0), [_m(2, 3)]),
    "dimshuffle_drop": (lambda x: T.specify_shape(x, (1, None)).dimshuffle(1), [_m(1, 3)]),
    "transpose": (lambda x: x.T, [_m(2, 3)]),
    "join": (lambda a, b: T.join(1, a, b), [_m(2, 3), _m(2, 1)]),
    "stack": (lambda a, b: T.stack([a, b], axis=1), [_m(2, 3), _m(2, 3)]),
    "split": (lambda x: T.split(x, [1, 2], 2, axis=1)[1], [_m(2, 3)]),
    "subtensor_basic": (lambda x: x[1:, ::-2], [_m(3, 3)]),
    "subtensor_int": (lambda x: x[1, 0], [_m(3, 3)]),
    "subtensor_advanced_repeated": (lambda x: x[np.array([0, 2, 0])], [_m(3, 2)]),
    "subtensor_mask": (lambda x: x[np.array([True, False, True])], [_m(3, 2)]),
    "inc_subtensor": (lambda x, y: T.inc_subtensor(x[1:], y), [_m(3, 2), _m(2, 2)]),
    "inc_subtensor_broadcast_y": (lambda x, y: T.inc_subtensor(x[:, 0], y.sum()), [_m(3, 2), _m(2)]),
    "set_subtensor": (lambda x, y: T.set_subtensor(x[0], y), [_m(3, 2), _m(2)]),
    "inc_advanced_repeated": (lambda x, y: T.inc_subtensor(x[np.array([1, 1, 0])], y),
                              [_m(3, 2), _m(3, 2)]),
    "softmax": (nnet.softmax, [_m(2, 3)]),
    "softmax_axis0": (lambda x: nnet.softmax(x, axis=0), [_m(2, 3)]),
    "log_softmax": (nnet.log_softmax, [_m(2, 3)]),
    "sigmoid": (nnet.sigmoid, [_m(4)]),
    "relu": (nnet.relu, [np.array([-1.0, 0.5, 2.0])]),
    "xent_int": (lambda x: nnet.categorical_crossentropy(nnet.softmax(x), np.array([0, 2])),
                 [_m(2, 3)]),
    "xent_one_hot": (lambda x: nnet.categorical_crossentropy(nnet.softmax(x), np.eye(3)[[1, 0]]),
                     [_m(2, 3)]),
    "binary_xent": (lambda o, t: nnet.binary_crossentropy(nnet.sigmoid(o), t),
                    [_m(4), RNG.uniform(0, 1, 4)]),
    "cast_to_float64": (lambda x: T.cast(x, "float64") ** 2, [_m(3).astype("float32")]),
    "alloc": (lambda x: T.alloc(x, 2, 3), [_m(3)]),
    "fill": (lambda x, y: T.fill(x, y), [_m(2, 3), _m()]),
    "specify_shape": (lambda x: T.specify_shape(x, (2, None)) ** 2, [_m(2, 3)]),
    "zero_size": (lambda x: (x ** 2).sum(axis=0), [_m(0, 3)]),
    "row_broadcast": (lambda x, r: x * T.specify_shape(r, (1, None)), [_m(3, 2), _m(1, 2)]),
}


@pytest.mark.parametrize("name", sorted(OTHER_OPS))
def test_verify_grad_other_ops(name):
    fun, pts = OTHER_OPS[name]
    verify_grad(fun, [np.array(p) for p in pts], rng=np.random.default_rng(0))


def test_prod_gradient_with_zeros_is_exact():
    x = T.dvector()
    g = vg.function([x], grad(x.prod(), x))
    np.testing.assert_allclose(g(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])
    np.testing.assert_allclose(g(np.array([0.0, 2.0, 0.0])), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(g(np.array([1.0, 2.0, 3.0])), [6.0, 3.0, 2.0])


# -- grad API semantics --------------------------------------------------------------------------
def test_tutorial_derivative_values():
    # The seeds' example: y = (x - 4) * (2 x^2 + 6), dy/dx at 0, 1, 2 is 6, -4, -2.
    x = T.dscalar("x")
    y = (x - 4) * (x ** 2 * 2 + 6)
    gy = grad(cost=y, wrt=x)
    f = vg.function(inputs=[x], outputs=gy)
    assert [float(f(v)) for v in (0, 1, 2)] == [6.0, -4.0, -2.0]


def test_cost_must_be_scalar():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="cost must be a scalar.*1 dimensions"):
        grad(x * 2, x)
    with pytest.raises(TypeError, match="float"):
        grad(T.lscalar() * 2, x)


def test_disconnected_inputs_raise_warn_ignore():
    x, y = T.dscalars("x", "y")
    cost = x ** 2
    with pytest.raises(DisconnectedInputError, match="does not depend on y"):
        grad(cost, [x, y])
    with pytest.warns(UserWarning, match="does not depend on y"):
        gx, gy = grad(cost, [x, y], disconnected_inputs="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = grad(cost, [x, y], disconnected_inputs="ignore")
    f = vg.function([x, y], [gx, gy])
    assert [float(v) for v in f(3.0, 1.0)] == [6.0, 0.0]
    assert grad(cost, [x, y], disconnected_inputs="ignore", return_disconnected="None")[1] is None
    with pytest.raises(ValueError, match="disconnected_inputs"):
        grad(cost, x, disconnected_inputs="bogus")


def test_consider_constant_zero_grad_disconnected_grad():
    x = T.dscalar("x")
    y = x ** 2
    z = y * x
    g_cc = grad(z, x, consider_constant=[y])          # y treated as constant: d/dx = y
    g_zero = grad(zero_grad(y) * x, x)                  # same, via zero_grad
    g_disc = grad(disconnected_grad(y) * x, x)
    g_full = grad(z, x)                                 # 3 x^2
    f = vg.function([x], [g_cc, g_zero, g_disc, g_full, zero_grad(y), disconnected_grad(y)])
    assert [float(v) for v in f(2.0)] == [4.0, 4.0, 4.0, 12.0, 4.0, 4.0]
    with pytest.raises(DisconnectedInputError):
        grad(disconnected_grad(x) * 2, x)
    gz = grad(zero_grad(x) * 2, x)  # zero_grad: connected, with a zero gradient
    assert float(vg.function([x], gz)(1.0)) == 0.0


def test_known_grads():
    x = T.dvector("x")
    h = T.tanh(x)
    gh = T.dvector("gh")
    gx = grad(None, x, known_grads={h: gh})
    f = vg.function([x, gh], gx)
    xv, gv = np.array([0.1, -0.5]), np.array([1.0, 2.0])
    np.testing.assert_allclose(f(xv, gv), gv * (1 - np.tanh(xv) ** 2))
    cost = (h ** 2).sum()
    g2 = grad(cost, x, known_grads={h: gh})  # cost's own path and the known gradient add up
    np.testing.assert_allclose(vg.function([x, gh], g2)(xv, gv),
                               (gv + 2 * np.tanh(xv)) * (1 - np.tanh(xv) ** 2))
    with pytest.raises(ValueError, match="cost or known_grads"):
        grad(None, x)


def test_integer_inputs_get_zero_gradients():
    x, k = T.dvector("x"), T.lscalar("k")
    cost = (x * k).sum()
    gx, gk = grad(cost, [x, k])
    assert gk.dtype == "float64"
    a, b = vg.function([x, k], [gx, gk])(np.array([1.0, 2.0]), 3)
    np.testing.assert_array_equal(a, [3.0, 3.0])
    assert float(b) == 0.0


def test_argmax_gradient_is_zero_and_grad_dtype_follows_wrt():
    x = T.fvector("x")
    gx = grad(T.cast(x.argmax(), "float32") + x.sum(), x)
    assert gx.dtype == "float32"
    np.testing.assert_array_equal(vg.function([x], gx)(np.array([1, 3, 2], "float32")), [1, 1, 1])


def test_not_implemented_gradient_raises_named_error():
    from verigraph.graph.basic import Apply
    from verigraph.graph.op import Op

    class NoGrad(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, out):
            out[0][0] = inputs[0].copy()

    x = T.dvector("x")
    with pytest.raises(NullTypeGradError, match="not implemented"):
        grad(NoGrad()(x).sum(), x)
    # A wrt the undefined gradient does not reach is unaffected.
    y = T.dvector("y")
    gy = grad(NoGrad()(x).sum() + (y ** 2).sum(), y)
    np.testing.assert_array_equal(vg.function([y], gy)(np.array([1.0, 2.0])), [2.0, 4.0])


def test_grad_of_wrt_list_and_names():
    x, w = T.dvector("x"), T.dvector("w")
    cost = T.dot(x, w)
    cost.name = "c"
    gx, gw = grad(cost, [x, w])
    assert gw.name == "(dc/dw)"
    assert isinstance(grad(cost, (x,)), list)
    with pytest.raises(TypeError, match="symbolic"):
        grad(cost, [np.ones(2)])


# -- training loops from the tutorials ------------------------------------------------------------
def test_rosenbrock_gradient_descent_matches_the_tutorial():
    x = vg.shared(np.array([2.0, 2.0]), name="x")
    a, b = 1.0, 100.0
    z = (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2
    dx = grad(cost=z, wrt=x)
    train = vg.function(inputs=[], outputs=[z], updates=[(x, x - 0.001 * dx)])
    for _ in range(10000):
        train()
    np.testing.assert_allclose(x.get_value(), [1.008, 1.016], atol=5e-4)


def test_logistic_regression_loss_falls():
    rng = np.random.default_rng(0)
    n, feats = 200, 5
    data_x = rng.normal(size=(n, feats))
    data_y = (data_x @ rng.normal(size=feats) > 0).astype("float64")
    x, y = T.dmatrix("x"), T.dvector("y")
    w = vg.shared(np.zeros(feats), name="w")
    b = vg.shared(0.0, name="b")
    p = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = grad(cost, [w, b])
    train = vg.function([x, y], [cost, (p > 0.5)], updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    losses = [float(train(data_x, data_y)[0]) for _ in range(100)]
    assert losses[-1] < 0.5 * losses[0]
    assert all(later <= earlier + 1e-12 for earlier, later in zip(losses, losses[1:]))
    assert ((vg.function([x], p)(data_x) > 0.5) == data_y).mean() > 0.9


# -- jacobian, hessian, Rop, Lop -----------------------------------------------------------------
def _static_vector(n, name="x"):
    raw = T.dvector(name)
    return raw, T.specify_shape(raw, (n,))


def test_jacobian_of_static_length_vector():
    raw, x = _static_vector(3)
    J = jacobian(x ** 2 * T.sum(x), x)
    v = np.array([1.0, 2.0, 3.0])
    got = vg.function([raw], J)(v)
    want = np.diag(2 * v * v.sum()) + np.outer(v ** 2, np.ones(3))
    np.testing.assert_allclose(got, want)


def test_jacobian_scalar_expression_and_several_wrt():
    x, y = T.dscalars("x", "y")
    jx, jy = jacobian(x * y ** 2, [x, y])
    assert [float(v) for v in vg.function([x, y], [jx, jy])(2.0, 3.0)] == [9.0, 12.0]


def test_hessian_of_static_length_vector():
    raw, x = _static_vector(3)
    cost = T.sum(x ** 3) + x[0] * x[1]
    H = hessian(cost, x)
    v = np.array([1.0, 2.0, -1.0])
    want = np.diag(6 * v)
    want[0, 1] = want[1, 0] = 1.0
    np.testing.assert_allclose(vg.function([raw], H)(v), want)


def test_lop_and_rop_agree_with_the_jacobian():
    raw, x = _static_vector(3)
    W = T.dmatrix("W")
    f = T.tanh(T.dot(W, x))
    fixed_f = T.specify_shape(f, (2,))
    u, v = T.dvector("u"), T.dvector("v")
    J = jacobian(fixed_f, x)
    rop = Rop(f, x, v)
    lop = Lop(f, x, u)
    fn = vg.function([raw, W, u, v], [J, rop, lop])
    rng = np.random.default_rng(5)
    xv, Wv, uv, vv = rng.normal(size=3), rng.normal(size=(2, 3)), rng.normal(size=2), rng.normal(size=3)
    Jv, r, l = fn(xv, Wv, uv, vv)
    np.testing.assert_allclose(r, Jv @ vv)
    np.testing.assert_allclose(l, uv @ Jv)


def test_rop_of_matrix_wrt_list():
    W, V = T.dmatrices("W", "V")
    x = T.dvector("x")
    y = T.dot(x, W)
    r = Rop(y, W, V)
    xv, Wv, Vv = np.array([1.0, 2.0]), np.ones((2, 3)), np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(vg.function([x, W, V], r)(xv, Wv, Vv), xv @ Vv)
    with pytest.raises(ValueError, match="eval_points"):
        Rop(y, [W, x], [V])


def test_inc_subtensor_gradient_keeps_the_value_dtype():
    x, y = T.dvector("x"), T.fvector("y")
    out = T.inc_subtensor(x[1:], y)
    gy = grad((out ** 2).sum(), y)
    assert gy.dtype == "float32"
    got = vg.function([x, y], gy)(np.ones(3), np.ones(2, "float32"))
    np.testing.assert_allclose(got, [4.0, 4.0])


@pytest.mark.parametrize("build, expected", [
    (lambda s, m: T.dot(m, s.dimshuffle("x")), 4.5),
    (lambda s, m: T.flatten(s.dimshuffle("x"), 1), 1.5),
    (lambda s, m: T.reshape(s.dimshuffle("x", "x"), (1, 1)), 1.5)])
def test_gradient_keeps_static_size_one_axes_of_its_input(build, expected):
    # Found by `verigraph fuzz --kinds grad`: the gradient of dot/reshape wrt
    # s.dimshuffle('x') had shape (None,), so DimShuffle's L_op could not drop the axis.
    s, m = T.dscalar("s"), T.dmatrix("m")
    g = grad(T.sum(build(s, m) * 1.5), s)
    f = vg.function([s, m], g, on_unused_input="ignore")
    np.testing.assert_allclose(f(2.0, np.full((1, 1), 3.0)), expected)
