"""Rounding scales (checks/rounding.py): correct programs whose results cancel are not
reported, and wrong results still are."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as theano
import verigraph.tensor as T
from verigraph.checks.rounding import graph_scales, node_output_within, sum_factor, within
from verigraph.checks.tolerance import compare
from verigraph.configparser import config


def _cancelling(n, seed, dtype="float32", offset=3.0):
    return (np.random.default_rng(seed).standard_normal(n) + offset).astype(dtype)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "DebugMode"])
def test_a_cancelling_float32_sum_is_not_a_discrepancy(mode):
    # sum(x - mean(x)) is ~1e-3 in any summation order: the fixed rtol alone called the
    # difference between two correct orders a 100% error, and every mode raised.
    x = T.vector("x", dtype="float32")
    m = T.scalar("m", dtype="float32")
    v = _cancelling(20000, 0)
    with config.change_flags(crosscheck="first"):
        f = theano.function([x], T.sum(x - x.mean()), mode=mode)
        got = f(v)
        g = theano.function([x, m], T.sum(T.exp(x) - m), mode=mode)
        mean_exp = np.float32(np.exp(v.astype("float64")).mean())
        g(v, mean_exp)
    exact = np.sum(v.astype("float64") - v.astype("float64").mean())
    # The answer is rounding noise around 0, at the float32 scale of the terms.
    assert abs(got - exact) < 1e-3 * np.abs(v - v.mean()).sum() * 1e-2


@settings(max_examples=60, deadline=None)
@given(n=hst.integers(2, 60000), seed=hst.integers(0, 2 ** 16),
       offset=hst.sampled_from([0.0, 1.0, 3.0, 1e3]))
def test_other_summation_orders_are_within_the_scale(n, seed, offset):
    # Sequential (cumsum), reversed and float64-accumulated sums of the same float32
    # terms are all correct evaluations of sum(x - c); the scale must admit each.
    x = T.vector("x", dtype="float32")
    c = T.scalar("c", dtype="float32")
    out = T.sum(x - c)
    v = _cancelling(n, seed, offset=offset)
    cv = np.float32(v.astype("float64").mean())
    terms = v - cv
    ref = np.sum(terms)
    (scale,) = graph_scales([out], {x: v, c: np.array(cv)})
    for other in (np.cumsum(terms)[-1], np.sum(terms[::-1]),
                  np.float32(np.sum(terms.astype("float64")))):
        assert within(np.float32(other), ref, scale, "float32"), (other, ref, scale)


def test_a_dropped_term_or_a_wrong_sign_is_still_reported():
    x = T.vector("x", dtype="float32")
    c = T.scalar("c", dtype="float32")
    out = T.sum(x - c)
    v = _cancelling(2000, 1)
    cv = np.float32(v.mean())
    ref = np.sum(v - cv)
    (scale,) = graph_scales([out], {x: v, c: np.array(cv)})
    # A term of typical size (~0.8) missing, or one term's sign flipped.
    dropped = ref - np.float32(0.8)
    flipped = ref - 2 * (v[7] - cv)
    assert not within(dropped, ref, scale, "float32")
    assert not within(flipped, ref, scale, "float32")
    # The allowance is a small multiple of the terms' rounding, far below one term.
    assert scale < 1e-3 * np.abs(v - cv).sum()


def _dot_node(dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    return T.dot(x, y).owner


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n", [(64, 500, 8), (300, 400, 20)])   # |x| @ |y|, then norms
def test_reordered_products_pass_and_a_wrong_element_does_not(dtype, m, k, n):
    node = _dot_node(dtype)
    g = np.random.default_rng(2)
    x = g.standard_normal((m, k)).astype(dtype)
    y = g.standard_normal((k, n)).astype(dtype)
    want = np.dot(x, y)
    exact = (x.astype("float64") @ y.astype("float64")).astype(dtype)
    reordered = np.dot(x[:, ::-1], y[::-1]).astype(dtype)     # another summation order
    for got in (exact, reordered):
        assert node_output_within(node, [x, y], got, want, working_dtype=dtype)
    bad_x = x.copy()
    bad_x[3, 10] += 1.0                 # one operand element off by its own typical size
    wrong = np.dot(bad_x, y)
    assert not node_output_within(node, [x, y], wrong, want, working_dtype=dtype)
    assert not node_output_within(node, [x, y], -want, want, working_dtype=dtype)


def test_elementwise_rounding_is_carried_through_a_cancelling_subtraction():
    # exp(x) - m: exp's few-ulp differences between libm forms become large relative
    # errors where the difference is near 0; the scale carries exp's rounding through.
    x = T.vector("x", dtype="float32")
    m = T.scalar("m", dtype="float32")
    out = T.exp(x) - m
    v = np.linspace(0.999, 1.001, 1001).astype("float32")
    mv = np.float32(np.e)
    ref = np.exp(v) - mv
    (scale,) = graph_scales([out], {x: v, m: np.array(mv)})
    one_ulp_off = (np.nextafter(np.exp(v), np.float32(np.inf)) - mv).astype("float32")
    assert within(one_ulp_off, ref, scale, "float32")
    assert not within(ref + np.float32(1e-3), ref, scale, "float32")


def test_sum_factor_grows_slower_than_the_number_of_terms():
    assert sum_factor(1) >= 1
    assert sum_factor(10 ** 6) < 10 ** 4
    assert sum_factor(100) < sum_factor(10 ** 4)
