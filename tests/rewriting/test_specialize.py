"""Specialize rules: powers with special exponents and ``x * -1`` become cheaper ops."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph.tensor as T
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired, op_names

FAST = settings(max_examples=25, deadline=None)


@pytest.mark.parametrize("exponent, expect", [(2, "sqr"), (0.5, "sqrt"), (1, None),
                                              (-1, "true_div"), (3, "sqr"), (-2, "sqr"),
                                              (-0.5, "sqrt")])
def test_pow_specialize_fires(exponent, expect):
    x = T.dvector("x")
    f = compile_fast([x], x ** exponent, exclude=("fusion",))
    assert fired(f, "local_pow_specialize")
    names = op_names(f)
    assert not any("pow" in n for n in names)
    if expect:
        assert any(expect in n for n in names)


def test_pow_integer_keeps_dtype_and_skips_negative_exponents():
    i = T.lvector("i")
    f = compile_fast([i], i ** 2)
    assert fired(f, "local_pow_specialize")
    out = f(np.array([3, -4]))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [9, 16])
    g = compile_fast([i], i ** 0.5)  # float result from an int input: not specialized
    assert not fired(g, "local_pow_specialize")


def test_mul_minus_one_fires():
    x = T.dvector("x")
    f = compile_fast([x], x * -1, exclude=("fusion",))
    assert fired(f, "local_mul_minus_one")
    assert any("neg" in n for n in op_names(f))


@FAST
@given(hnp.arrays("float64", hst.integers(1, 6), elements=hst.floats(0.01, 1e3)))
def test_pow_matches_reference(xv):
    x = T.dvector("x")
    f = compile_fast([x], [x ** 2, x ** 0.5, x ** 1, x ** -1, x ** 3, x ** -2, x ** -0.5,
                           x * -1, -1.0 * x])
    assert_matches_reference(f, xv)


@FAST
@given(hnp.arrays("int64", hst.integers(0, 6), elements=hst.integers(-3000, 3000)))
def test_int_pow_matches_reference(iv):
    i = T.lvector("i")
    assert_matches_reference(compile_fast([i], [i ** 2, i ** 1, i ** 3]), iv)
