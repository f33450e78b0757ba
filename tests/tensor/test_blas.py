"""dot, matmul, outer and tensordot against NumPy, with size-0/1 dims and shape errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError

from ._strategies import FLOATS, MODES, assert_matches, sizes, tensor_var


def _rand(rng, shape, dtype):
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.uniform(-1, 1, size=shape).astype(dtype)


@settings(max_examples=60, deadline=None)
@given(nda=hs.integers(0, 2), ndb=hs.integers(0, 2), m=sizes, k=sizes, n=sizes,
       da=hs.sampled_from(FLOATS + ("int32",)), db=hs.sampled_from(FLOATS + ("int64",)),
       mode=hs.sampled_from(MODES), seed=hs.integers(0, 2**16))
def test_dot_matches_numpy(nda, ndb, m, k, n, da, db, mode, seed):
    rng = np.random.default_rng(seed)
    sa = {0: (), 1: (k,), 2: (m, k)}[nda]
    sb = {0: (), 1: (k,), 2: (k, n)}[ndb]
    a, b = _rand(rng, sa, da), _rand(rng, sb, db)
    x, y = tensor_var(da, (None,) * nda), tensor_var(db, (None,) * ndb)
    got = vg.function([x, y], [T.dot(x, y), x.dot(y)], mode=mode)(a, b)
    want = np.dot(a, b)
    for g in got:
        assert_matches(g, want, rtol=1e-4 if "float32" in (da, db) else None, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_dot_of_3d_follows_numpy_dot(mode):
    x, y = T.dtensor3(), T.dmatrix()
    a, b = np.random.default_rng(0).normal(size=(2, 3, 4)), np.ones((4, 5))
    assert_matches(vg.function([x, y], T.dot(x, y), mode=mode)(a, b), np.dot(a, b))


@pytest.mark.parametrize("mode", MODES)
def test_dot_inner_mismatch_names_both_shapes(mode):
    x, y = T.dmatrices("x", "y")
    f = vg.function([x, y], T.dot(x, y), mode=mode)
    with pytest.raises(ShapeMismatchError, match=r"\(2, 3\).*\(4, 5\)"):
        f(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ShapeMismatchError, match="inner dimensions"):
        tensor_var("float64", (2, 3)).dot(tensor_var("float64", (4, 5)))
    g = vg.function([x, y], T.dot(x, y).shape, mode=mode)
    with pytest.raises(ShapeMismatchError):
        g(np.ones((2, 3)), np.ones((4, 5)))


@hs.composite
def matmul_case(draw):
    nd = draw(hs.integers(2, 4))
    batch = [draw(sizes) for _ in range(nd - 2)]
    m, k, n = draw(sizes), draw(sizes), draw(sizes)
    sa, sb, ta, tb = [], [], [], []
    for b in batch:
        ca = draw(hs.sampled_from(["full", "one"]))
        cb = "full" if ca == "one" else draw(hs.sampled_from(["full", "one"]))
        sa.append(1 if ca == "one" else b)
        sb.append(1 if cb == "one" else b)
        ta.append(1 if ca == "one" else None)
        tb.append(1 if cb == "one" else None)
    return (tuple(sa + [m, k]), tuple(ta + [None, None]), tuple(sb + [k, n]),
            tuple(tb + [None, None]))


@settings(max_examples=40, deadline=None)
@given(case=matmul_case(), dtype=hs.sampled_from(FLOATS), mode=hs.sampled_from(MODES),
       seed=hs.integers(0, 2**16))
def test_matmul_matches_numpy(case, dtype, mode, seed):
    sa, ta, sb, tb = case
    rng = np.random.default_rng(seed)
    a, b = _rand(rng, sa, dtype), _rand(rng, sb, dtype)
    x, y = tensor_var(dtype, ta), tensor_var(dtype, tb)
    got = vg.function([x, y], [T.matmul(x, y), x @ y], mode=mode)(a, b)
    for g in got:
        assert_matches(g, np.matmul(a, b), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_matmul_batch_axes_broadcast_only_when_static_one(mode):
    x, y = T.dtensor3(), T.dtensor3()
    f = vg.function([x, y], T.matmul(x, y), mode=mode)
    with pytest.raises(ShapeMismatchError):
        f(np.ones((1, 2, 3)), np.ones((4, 3, 2)))


@settings(max_examples=25, deadline=None)
@given(n=sizes, m=sizes, mode=hs.sampled_from(MODES), dtype=hs.sampled_from(FLOATS))
def test_outer_matches_numpy(n, m, mode, dtype):
    x, y = tensor_var(dtype, (None,)), tensor_var(dtype, (None,))
    a, b = np.arange(n, dtype=dtype) - 1, np.arange(m, dtype=dtype) * 0.5
    assert_matches(vg.function([x, y], T.outer(x, y), mode=mode)(a, b), np.outer(a, b))


TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3, 4), (4, 5), 1),
    ((2, 3), (2, 3), 2),
    ((2, 3), (3, 2), 0),
    ((2, 3, 4), (4, 3, 2), [[1, 2], [1, 0]]),
    ((3, 0), (0, 2), 1),
    ((1, 3), (3, 1), [[1], [0]]),
    ((2, 3), (2, 5), [[0], [0]]),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sa,sb,axes", TENSORDOT_CASES)
def test_tensordot_matches_numpy(sa, sb, axes, mode):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=sa), rng.normal(size=sb)
    x, y = tensor_var("float64", (None,) * len(sa)), tensor_var("float64", (None,) * len(sb))
    got = vg.function([x, y], T.tensordot(x, y, axes=axes), mode=mode)(a, b)
    assert_matches(got, np.tensordot(a, b, axes=axes))
