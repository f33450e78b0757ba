"""Stabilize rules: each fires, agrees with the reference where it is finite, and stays finite."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph.tensor as T
from verigraph.tensor import nnet
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired, op_names

FAST = settings(max_examples=25, deadline=None)


def _vec(lo, hi):
    return hnp.arrays("float64", hst.integers(1, 6), elements=hst.floats(lo, hi))


def test_log1p_fires_and_is_exact_for_tiny_x():
    x = T.dvector("x")
    f = compile_fast([x], T.log(1 + x))
    assert fired(f, "local_log1p")
    assert f(np.array([1e-20]))[0] == 1e-20  # log(1 + 1e-20) would be 0


def test_log_sigmoid_fires_and_stays_finite():
    x = T.dvector("x")
    f = compile_fast([x], T.log(T.sigmoid(x)))
    assert fired(f, "local_log_sigmoid")
    np.testing.assert_allclose(f(np.array([-800.0, 0.0])), [-800.0, np.log(0.5)])


def test_log1m_sigmoid_fires_and_stays_finite():
    x = T.dvector("x")
    f = compile_fast([x], T.log(1 - T.sigmoid(x)))
    assert fired(f, "local_log1m_sigmoid")
    np.testing.assert_allclose(f(np.array([800.0, 0.0])), [-800.0, np.log(0.5)])


def test_logistic_regression_pattern_is_stabilized():
    # The tutorial writes the sigmoid by hand; canonicalize sees it, stabilize then applies.
    x, y = T.dvector("x"), T.dvector("y")
    p = 1 / (1 + T.exp(-x))
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    f = compile_fast([x, y], xent)
    assert fired(f, "local_sigmoid_from_exp")
    assert fired(f, "local_log_sigmoid") and fired(f, "local_log1m_sigmoid")
    assert np.all(np.isfinite(f(np.array([-800.0, 800.0]), np.array([1.0, 0.0]))))


def test_log_softmax_fires():
    m = T.dmatrix("m")
    f = compile_fast([m], T.log(nnet.softmax(m)))
    assert fired(f, "local_log_softmax")
    assert any(n.startswith("LogSoftmax") for n in op_names(f))
    out = f(np.array([[1000.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.0, -1000.0]])


def test_crossentropy_softmax_fires():
    m, y = T.dmatrix("m"), T.lvector("y")
    f = compile_fast([m, y], nnet.categorical_crossentropy(nnet.softmax(m), y))
    assert fired(f, "local_crossentropy_softmax")
    assert any(n.startswith("LogSoftmax") for n in op_names(f))
    assert not any(n.startswith("Softmax") for n in op_names(f))
    np.testing.assert_allclose(f(np.array([[1000.0, 0.0]]), np.array([1])), [1000.0])


@FAST
@given(_vec(-0.9, 1e3))
def test_log1p_matches_reference(xv):
    x = T.dvector("x")
    assert_matches_reference(compile_fast([x], [T.log(1 + x), T.log(x + 1)]), xv)


@FAST
@given(_vec(-30, 12))
def test_sigmoid_logs_match_reference(xv):
    # Up to x = 12, 1 - sigmoid(x) loses fewer digits than the float64 tolerance allows,
    # so the naive reference is still a fair judge there.
    x = T.dvector("x")
    f = compile_fast([x], [T.log(T.sigmoid(x)), T.log(1 - T.sigmoid(x)),
                           T.log(1 / (1 + T.exp(-x)))])
    assert_matches_reference(f, xv)


@FAST
@given(_vec(-700, 700))
def test_sigmoid_logs_match_exact_values_everywhere(xv):
    # Beyond the naive formula's range the stable forms must equal the exact answers:
    # log(sigmoid(x)) = -log1p(exp(-x)) and log(1 - sigmoid(x)) = -log1p(exp(x)).
    x = T.dvector("x")
    f = compile_fast([x], [T.log(T.sigmoid(x)), T.log(1 - T.sigmoid(x))])
    exact_pos = -np.logaddexp(0, -xv)
    exact_neg = -np.logaddexp(0, xv)
    got_pos, got_neg = f(xv)
    np.testing.assert_allclose(got_pos, exact_pos, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got_neg, exact_neg, rtol=1e-12, atol=1e-300)


def test_crosscheck_judges_the_stabilized_graph():
    # log(1 - sigmoid(28)) cancels in the naive graph; the first-call cross-check must not
    # call the accurate answer wrong (and the tutorial's logistic regression needs that).
    x = T.dvector("x")
    f = compile_fast([x], T.log(1 - T.sigmoid(x)))
    np.testing.assert_allclose(f(np.array([28.0, 40.0])), -np.logaddexp(0, [28.0, 40.0]),
                               rtol=1e-12)


@FAST
@given(hnp.arrays("float64", hst.tuples(hst.integers(1, 4), hst.integers(1, 5)),
                  elements=hst.floats(-50, 50)), hst.data())
def test_softmax_logs_match_reference(mv, data):
    m, y = T.dmatrix("m"), T.lvector("y")
    labels = np.array(data.draw(hst.lists(hst.integers(0, mv.shape[1] - 1),
                                          min_size=mv.shape[0], max_size=mv.shape[0])))
    f = compile_fast([m, y], [T.log(nnet.softmax(m)),
                              nnet.categorical_crossentropy(nnet.softmax(m), y)])
    assert_matches_reference(f, mv, labels)


def test_sigmoid_and_softplus_from_exp_fire_and_stay_finite():
    # Written by hand these overflow (inf / inf) and so do their naive gradients.
    x = T.dvector("x")
    f = compile_fast([x], [1 / (1 + T.exp(x)), T.exp(x) / (1 + T.exp(x)), T.log(1 + T.exp(x))])
    assert fired(f, "local_sigmoid_from_exp") and fired(f, "local_sigmoid_from_exp_ratio")
    assert fired(f, "local_softplus_from_log1p_exp")
    xv = np.array([-800.0, -3.0, 0.0, 3.0, 800.0])
    a, b, c = f(xv)
    np.testing.assert_allclose(a, np.exp(-np.logaddexp(0, xv)), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(b, np.exp(-np.logaddexp(0, -xv)), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(c, np.logaddexp(0, xv), rtol=1e-12, atol=1e-300)


def test_sigmoid_from_exp_leaves_integer_negation_alone():
    # -(-128) wraps to -128 in int8, so exp(-x) is not sigmoid's exp(-x) there.
    x = T.bvector("x")
    f = compile_fast([x], 1 / (1 + T.exp(-x)))
    assert not fired(f, "local_sigmoid_from_exp")
    assert_matches_reference(f, np.array([-128, 0, 5], dtype="int8"))


@FAST
@given(_vec(-30, 30))
def test_exp_forms_match_reference(xv):
    x = T.dvector("x")
    f = compile_fast([x], [1 / (1 + T.exp(x)), T.exp(x) / (1 + T.exp(x)), T.log(1 + T.exp(x)),
                           T.log1p(T.exp(x))])
    assert_matches_reference(f, xv)
