"""Canonicalize rules: each fires on its example and keeps the reference evaluator's values."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph.tensor as T
from verigraph.tensor import api
from verigraph.tensor.elemwise import DimShuffle
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired, op_names

FAST = settings(max_examples=25, deadline=None)
floats = hst.floats(-1e3, 1e3, allow_nan=False)
vec = hnp.arrays("float64", hst.integers(0, 6), elements=floats)
ivec = hnp.arrays("int64", hst.integers(0, 6), elements=hst.integers(-1000, 1000))


def _elemwise_count(f):
    return sum(name.startswith(("Elemwise", "FusedElemwise")) for name in op_names(f))


@pytest.mark.parametrize("build", [lambda x: x * 1, lambda x: 1 * x, lambda x: x * 1.0 * 1])
def test_mul_by_one_fires(build):
    x = T.dvector("x")
    f = compile_fast([x], build(x))
    assert fired(f, "local_mul_by_one")
    assert _elemwise_count(f) == 0
    assert f.maker.fgraph.outputs[0].type == f.maker.original.outputs[0].type


@pytest.mark.parametrize("build", [lambda x: x + 0, lambda x: 0 + x, lambda x: x - 0])
def test_add_zero_fires(build):
    x = T.dvector("x")
    f = compile_fast([x], build(x))
    assert fired(f, "local_add_zero")
    assert _elemwise_count(f) == 0


def test_neutral_constant_that_broadcasts_keeps_type_and_check():
    # x * ones(3): the result has static shape (3,), so x gets a SpecifyShape, not dropped checks.
    x = T.dvector("x")
    f = compile_fast([x], x * np.ones(3))
    assert fired(f, "local_mul_by_one")
    assert f.maker.fgraph.outputs[0].type == f.maker.original.outputs[0].type
    np.testing.assert_array_equal(f(np.arange(3.0)), np.arange(3.0))
    with pytest.raises(ValueError):
        f(np.arange(4.0))


def test_neg_neg_and_div_one_fire():
    x = T.dvector("x")
    f = compile_fast([x], -(-x))
    assert fired(f, "local_neg_neg") and _elemwise_count(f) == 0
    g = compile_fast([x], x / 1)
    assert fired(g, "local_div_one") and _elemwise_count(g) == 0


def test_div_one_skips_integers():
    # int / 1 is float64: replacing it by the int input would change the type.
    i = T.lvector("i")
    f = compile_fast([i], i / 1)
    assert not fired(f, "local_div_one")
    assert f(np.array([3, 4])).dtype == np.float64


def test_sub_self_only_for_integers_by_default():
    i, x = T.lvector("i"), T.dvector("x")
    f = compile_fast([i], i - i)
    assert fired(f, "local_sub_self")
    np.testing.assert_array_equal(f(np.array([5, -7])), [0, 0])
    g = compile_fast([x], x - x)
    assert not fired(g, "local_sub_self")
    with np.errstate(invalid="ignore"):
        assert np.isnan(g(np.array([np.inf]))[0])  # as the reference says
    h = compile_fast([x], x - x, include=("local_sub_self_unsafe",))
    assert fired(h, "local_sub_self_unsafe")


def test_div_self_unsafe_only_on_request():
    x = T.dvector("x")
    assert not fired(compile_fast([x], x / x), "local_div_self_unsafe")
    f = compile_fast([x], x / x, include=("local_div_self_unsafe",))
    assert fired(f, "local_div_self_unsafe")
    np.testing.assert_array_equal(f(np.array([2.0, 3.0])), [1.0, 1.0])


def test_mul_by_zeros_integers():
    i = T.lvector("i")
    f = compile_fast([i], i * 0)
    assert fired(f, "local_mul_by_zeros")
    np.testing.assert_array_equal(f(np.array([3, 4, 5])), [0, 0, 0])
    x = T.dvector("x")
    assert not fired(compile_fast([x], x * 0), "local_mul_by_zeros")


def test_exp_log_only_when_nonnegative():
    x = T.dvector("x")
    f = compile_fast([x], T.exp(T.log(T.sqr(x))))
    assert fired(f, "local_exp_log")
    g = compile_fast([x], T.exp(T.log(x)))
    assert not fired(g, "local_exp_log")
    with np.errstate(invalid="ignore"):
        assert np.isnan(g(np.array([-1.0]))[0])


def test_dimshuffle_rules():
    m = T.dmatrix("m")
    f = compile_fast([m], m.dimshuffle(1, 0).dimshuffle(1, 0) + 1)
    assert fired(f, "local_dimshuffle_dimshuffle")
    assert not any(n.startswith("DimShuffle") for n in op_names(f))
    v = T.dvector("v")
    g = compile_fast([v], v.dimshuffle("x", 0).dimshuffle(1, 0) * 2)
    assert fired(g, "local_dimshuffle_dimshuffle")
    assert sum(n.startswith("DimShuffle") for n in op_names(g)) == 1
    np.testing.assert_array_equal(g(np.arange(3.0)), 2 * np.arange(3.0)[:, None])
    h = compile_fast([m], DimShuffle((None, None), (0, 1))(m) * 3)
    assert fired(h, "local_dimshuffle_identity")


def test_sum_alloc_fires_and_handles_empty():
    v = T.dscalar("v")
    n = T.lscalar("n")
    f = compile_fast([v, n], api.sum(api.alloc(v, n, 3)))
    assert fired(f, "local_sum_alloc")
    assert not any(name == "Alloc" for name in op_names(f))
    assert f(np.float64(2.5), 4) == pytest.approx(30.0)
    with np.errstate(invalid="ignore"):
        assert f(np.float64(np.inf), 0) == 0.0  # an empty sum, even of inf
    g = compile_fast([v, n], api.sum(api.alloc(v, n, 3), axis=0))
    assert fired(g, "local_sum_alloc")
    np.testing.assert_allclose(g(np.float64(1.5), 4), [6.0, 6.0, 6.0])


def test_reduce_over_broadcastable_axes_is_a_dimshuffle():
    r = T.TensorType("float64", (1, None))("r")
    f = compile_fast([r], [r.sum(axis=0), r.max(axis=0)])
    assert fired(f, "local_reduce_broadcastable")
    assert not any(n.startswith(("Sum", "Max")) for n in op_names(f))
    i = T.TensorType("int32", (1,))("i")
    g = compile_fast([i], i.sum(axis=0))  # int32 sums as int64: left alone
    assert not fired(g, "local_reduce_broadcastable")
    assert g(np.array([7], dtype="int32")).dtype == np.int64


def test_sigmoid_from_exp_fires():
    x = T.dvector("x")
    f = compile_fast([x], 1 / (1 + T.exp(-x)))
    assert fired(f, "local_sigmoid_from_exp")
    assert any("sigmoid" in name for name in op_names(f))


@FAST
@given(vec)
def test_float_rules_match_reference(xv):
    x = T.dvector("x")
    outs = [x * 1, 0 + x, x - 0, -(-x), x / 1, T.exp(T.log(T.sqr(x))), 1 / (1 + T.exp(-x)),
            x.dimshuffle("x", 0).dimshuffle(1, 0).dimshuffle(1, 0), x - x + x,
            x.dimshuffle("x", 0).sum(axis=0), x.dimshuffle(0, "x").max(axis=1)]
    f = compile_fast([x], outs)
    assert_matches_reference(f, xv)


@FAST
@given(ivec, hst.integers(0, 5))
def test_int_rules_match_reference(iv, n):
    i = T.lvector("i")
    k = T.lscalar("k")
    f = compile_fast([i, k], [i - i, i * 0, i * 1, api.sum(api.alloc(k, k, 2)),
                              api.sum(api.alloc(k, 2, k), axis=1)])
    assert_matches_reference(f, iv, np.int64(n))
