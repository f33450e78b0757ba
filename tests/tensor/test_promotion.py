"""Result dtypes follow NumPy 2 promotion (NEP 50): a documented table, checked both ways.

Python scalars are "weak": they take the dtype of the tensor beside them when the value
fits, as NumPy 2 does for ``np.float32(1) * 2.0``. Each row says what the user writes,
the dtype verigraph gives, and that NumPy agrees on the same values.
"""
from __future__ import annotations

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.tensor.type import TensorType

from ._strategies import MODES


def _var(dtype):
    return TensorType(dtype, ())()


# (description, builder on symbolic or NumPy operands, operand dtypes, expected dtype)
PROMOTION_TABLE = [
    ("float32 var * 2.0 stays float32", lambda a: a * 2.0, ["float32"], "float32"),
    ("float32 var + 1 stays float32", lambda a: a + 1, ["float32"], "float32"),
    ("int32 var + 1 stays int32", lambda a: a + 1, ["int32"], "int32"),
    ("int8 var * 3 stays int8", lambda a: a * 3, ["int8"], "int8"),
    ("int32 var * 2.5 becomes float64", lambda a: a * 2.5, ["int32"], "float64"),
    ("int32 + int64 -> int64", lambda a, b: a + b, ["int32", "int64"], "int64"),
    ("int8 + int16 -> int16", lambda a, b: a + b, ["int8", "int16"], "int16"),
    ("uint8 + int8 -> int16", lambda a, b: a + b, ["uint8", "int8"], "int16"),
    ("float32 + float64 -> float64", lambda a, b: a + b, ["float32", "float64"], "float64"),
    ("int32 + float32 -> float64", lambda a, b: a + b, ["int32", "float32"], "float64"),
    ("int16 + float32 -> float32", lambda a, b: a + b, ["int16", "float32"], "float32"),
    ("int / int -> float64", lambda a, b: a / b, ["int32", "int32"], "float64"),
    ("int8 / int8 -> float64", lambda a, b: a / b, ["int8", "int8"], "float64"),
    ("int // int stays int", lambda a, b: a // b, ["int32", "int64"], "int64"),
    ("float32 / 2 stays float32", lambda a: a / 2, ["float32"], "float32"),
    ("bool + bool -> bool", lambda a, b: a + b, ["bool", "bool"], "bool"),
    ("bool * 1.5 -> float64", lambda a: a * 1.5, ["bool"], "float64"),
    ("comparison -> bool", lambda a, b: a < b, ["float32", "int64"], "bool"),
    ("float32 ** 2 stays float32", lambda a: a ** 2, ["float32"], "float32"),
    ("sqrt(int32) -> float64", lambda a, m=T: m.sqrt(a), ["int32"], "float64"),
    ("exp(float32) stays float32", lambda a, m=T: m.exp(a), ["float32"], "float32"),
]


@pytest.mark.parametrize("desc,build,dtypes,expected", PROMOTION_TABLE,
                         ids=[r[0] for r in PROMOTION_TABLE])
@pytest.mark.parametrize("mode", MODES)
def test_promotion_table(desc, build, dtypes, expected, mode):
    syms = [_var(d) for d in dtypes]
    out = build(*syms)
    assert out.dtype == expected
    vals = [np.asarray(2, dtype=d) if d != "bool" else np.asarray(True) for d in dtypes]
    scalars = [v[()] for v in vals]
    # Builders with an ``m`` parameter call a function of the module: swap in NumPy's.
    numpy_out = np.asarray(build(*scalars, m=np) if build.__defaults__ else build(*scalars))
    assert str(numpy_out.dtype) == expected, f"NumPy gives {numpy_out.dtype}"
    got = vg.function(syms, out, mode=mode)(*vals)
    assert got.dtype == np.dtype(expected)
    np.testing.assert_allclose(got, numpy_out)


def test_python_int_too_large_for_the_tensor_dtype_is_an_error():
    # NumPy 2 raises OverflowError for np.int8(1) + 1000; verigraph refuses at build time.
    with pytest.raises(TypeError, match="does not fit"):
        T.bscalar() + 1000


def test_reduction_dtypes_follow_numpy():
    for dtype in ("int8", "int32", "uint8", "bool", "float32", "float64"):
        x = TensorType(dtype, (None,))()
        v = np.ones(3, dtype)
        assert x.sum().dtype == str(np.sum(v).dtype), dtype
        assert x.prod().dtype == str(np.prod(v).dtype), dtype
        assert x.max().dtype == dtype
        assert x.mean().dtype == str(np.mean(v).dtype) if dtype != "float32" else "float32"
        assert x.argmax().dtype == "int64"
        assert x.all().dtype == "bool"


def test_floatx_constructors_follow_config():
    with vg.config.change_flags(floatX="float32"):
        assert T.matrix().dtype == "float32"
        assert T.zeros((2,)).dtype == "float32"
    assert T.dmatrix().dtype == "float64"
    assert T.ivector().dtype == "int32"
    assert T.bscalar().dtype == "int8"
