"""Every row of the elementwise table against an independent NumPy oracle, in both modes."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.tensor import scalar_table as st
from verigraph.tensor.elemwise import Elemwise

from ._strategies import (FLOATS, INTS, MODES, assert_matches, broadcast_inputs, tensor_var,
                          values_for)

_erf = np.vectorize(math.erf, otypes=["float64"])
_erfc = np.vectorize(math.erfc, otypes=["float64"])
_gamma = np.vectorize(math.gamma, otypes=["float64"])
_lgamma = np.vectorize(math.lgamma, otypes=["float64"])


def _erfinv(y):
    # Newton on math.erf from a crude start: independent of scipy's erfinv.
    y = np.asarray(y, dtype="float64")
    x = np.zeros_like(y)
    for _ in range(60):
        x = x - (_erf(x) - y) / (2 / np.sqrt(np.pi) * np.exp(-x * x))
    return x


def _digamma(x):
    # Recurrence up to x >= 20, then the asymptotic series (error below 1e-15 there).
    x = np.asarray(x, dtype="float64").copy()
    acc = np.zeros_like(x)
    while np.any(x < 20):
        small = x < 20
        acc = acc - np.where(small, 1 / x, 0)
        x = np.where(small, x + 1, x)
    inv2 = 1 / (x * x)
    return acc + np.log(x) - 0.5 / x - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 * (1 / 252 - inv2 / 240)))


def _trigamma(x):
    x = np.asarray(x, dtype="float64").copy()
    acc = np.zeros_like(x)
    while np.any(x < 20):
        small = x < 20
        acc = acc + np.where(small, 1 / (x * x), 0)
        x = np.where(small, x + 1, x)
    inv = 1 / x
    inv2 = inv * inv
    return acc + inv + inv2 / 2 + inv * inv2 * (1 / 6 - inv2 * (1 / 30 - inv2 * (1 / 42 - inv2 / 30)))


def _like(fn):
    # Oracles computed in float64 come back in the input dtype, as the kernels do.
    return lambda x: fn(x).astype(x.dtype)


# Independent NumPy expressions (not the table's own kernels where they differ).
ORACLE = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "true_div": np.true_divide,
    "int_div": lambda a, b: np.floor(a / b).astype(np.result_type(a, b)) if
    np.result_type(a, b).kind == "f" else a // b,
    "mod": np.mod, "pow": np.power, "neg": lambda x: -x, "abs": np.abs,
    "sqr": lambda x: x * x, "sqrt": np.sqrt, "exp": np.exp, "exp2": lambda x: np.power(
        x.dtype.type(2), x), "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "log10": np.log10, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "arctan2": np.arctan2,
    "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "erf": _like(_erf), "erfc": _like(_erfc),
    "erfinv": _like(_erfinv), "erfcinv": _like(lambda x: _erfinv(1.0 - x.astype("float64"))),
    "gamma": _like(_gamma), "gammaln": _like(_lgamma), "psi": _like(_digamma),
    "tri_gamma": _like(_trigamma),
    "floor": np.floor, "ceil": np.ceil, "round_half_to_even": np.rint,
    "round_half_away_from_zero": lambda x: np.sign(x) * np.floor(np.abs(x) + x.dtype.type(0.5)),
    "sign": np.sign, "maximum": np.maximum, "minimum": np.minimum,
    "clip": lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    "switch": lambda c, a, b: np.where(c, a, b),
    "identity": lambda x: x.copy(),
    "second": lambda a, b: np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)).copy(),
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "eq": np.equal, "neq": np.not_equal, "isnan": np.isnan, "isinf": np.isinf,
    "and_": np.bitwise_and, "or_": np.bitwise_or, "xor": np.bitwise_xor, "invert": np.invert,
}

# Rows where integer inputs are meaningful (the rest are float functions).
INT_ROWS = {"add", "sub", "mul", "true_div", "int_div", "mod", "pow", "neg", "abs", "sqr",
            "sign", "maximum", "minimum", "clip", "switch", "identity", "second", "lt", "le",
            "gt", "ge", "eq", "neq", "and_", "or_", "xor", "invert"}
ROWS = sorted(n for n in st.TABLE if not n.startswith("cast_"))


def test_every_row_has_an_oracle():
    assert set(ROWS) == set(ORACLE), set(ROWS) ^ set(ORACLE)


def _dtypes_for(name):
    row = st.TABLE[name]
    if row.domain == "int":
        return INTS + ("bool",) if name != "invert" else INTS
    return FLOATS + (INTS if name in INT_ROWS else ())


@pytest.mark.parametrize("name", ROWS)
@settings(max_examples=20, deadline=None)
@given(data=hs.data())
def test_row_matches_numpy(name, data):
    row = st.TABLE[name]
    dtype = data.draw(hs.sampled_from(_dtypes_for(name)), label="dtype")
    mode = data.draw(hs.sampled_from(MODES), label="mode")
    _, specs = data.draw(broadcast_inputs(row.nin), label="shapes")
    rng = np.random.default_rng(data.draw(hs.integers(0, 2**32 - 1), label="seed"))
    if dtype == "bool":
        vals = [rng.random(v) < 0.5 for _, v in specs]
    else:
        vals = values_for(row.domain, [v for _, v in specs], dtype, rng)
    inputs = [tensor_var(str(v.dtype), s) for v, (s, _) in zip(vals, specs)]
    out = Elemwise(row)(*inputs)
    with np.errstate(all="ignore"):
        want = np.asarray(ORACLE[name](*vals))
    assert out.dtype == str(want.dtype), (name, [v.dtype for v in vals], out.dtype, want.dtype)
    got = vg.function(inputs, out, mode=mode)(*vals)
    assert_matches(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_broadcasting_only_along_static_size_one_axes(mode):
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = vg.function([x, y], x + y, mode=mode)
    with pytest.raises(ShapeMismatchError, match="disagree on dimension 0"):
        f(np.ones((1, 3)), np.ones((2, 3)))
    r = T.drow("r")
    g = vg.function([x, r], x + r, mode=mode)
    np.testing.assert_array_equal(g(np.ones((2, 3)), np.arange(3.0)[None]),
                                  np.ones((2, 3)) + np.arange(3.0))


def test_static_shapes_that_cannot_broadcast_fail_at_build_time():
    a = tensor_var("float64", (2, 3))
    b = tensor_var("float64", (4, 3))
    with pytest.raises(ShapeMismatchError, match="disagree on dimension 0"):
        a + b


def test_bitwise_row_rejects_floats_at_build_time():
    with pytest.raises(TypeError):
        T.and_(T.dvector(), T.dvector())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("src,dst", [("float64", "float32"), ("float32", "int32"),
                                     ("int64", "float32"), ("int8", "float64"),
                                     ("float64", "int8"), ("bool", "int64"), ("int32", "bool")])
def test_cast(mode, src, dst):
    x = tensor_var(src, (None,))
    vals = (np.array([-2.7, -1.0, 0.0, 0.5, 3.9]) if np.dtype(src).kind == "f"
            else np.array([-3, 0, 1, 5])).astype(src)
    got = vg.function([x], T.cast(x, dst), mode=mode)(vals)
    assert_matches(got, vals.astype(dst))


def test_cast_to_floatx_and_same_dtype():
    x = T.fvector()
    assert T.cast(x, "float32") is x
    with vg.config.change_flags(floatX="float32"):
        assert T.cast(T.dvector(), "floatX").dtype == "float32"


@pytest.mark.parametrize("mode", MODES)
def test_switch_clip_and_relu_style_expressions(mode):
    x = T.dvector("x")
    f = vg.function([x], [T.switch(T.gt(x, 0), x, 0), T.clip(x, -1, 1), x.clip(0, 2)], mode=mode)
    v = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    a, b, c = f(v)
    np.testing.assert_array_equal(a, np.where(v > 0, v, 0))
    np.testing.assert_array_equal(b, np.clip(v, -1, 1))
    np.testing.assert_array_equal(c, np.clip(v, 0, 2))


@pytest.mark.parametrize("mode", MODES)
def test_operators_map_to_rows(mode):
    x, y = T.dvectors("x", "y")
    exprs = [x + y, x - y, x * y, x / y, x // y, x % y, x ** 2, -x, abs(x), x < y, x <= y,
             x > y, x >= y, T.eq(x, y), T.neq(x, y), 2 - x, 2 / y, 3 ** x]
    f = vg.function([x, y], exprs, mode=mode)
    a, b = np.array([1.5, -2.0, 3.0]), np.array([2.0, 0.5, -4.0])
    want = [a + b, a - b, a * b, a / b, a // b, a % b, a ** 2, -a, abs(a), a < b, a <= b,
            a > b, a >= b, a == b, a != b, 2 - a, 2 / b, 3 ** a]
    for g, w in zip(f(a, b), want):
        assert_matches(g, w)
