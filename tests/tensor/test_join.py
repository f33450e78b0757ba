"""join / concatenate / stack / split against NumPy; mismatched shapes raise in every mode."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError

from ._strategies import MODES, assert_matches, sizes, tensor_var


@hs.composite
def join_case(draw):
    ndim = draw(hs.integers(1, 3))
    base = [draw(sizes) for _ in range(ndim)]
    axis = draw(hs.integers(-ndim, ndim - 1))
    n = draw(hs.integers(1, 3))
    shapes = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(sizes)
        shapes.append(tuple(s))
    dtypes = [draw(hs.sampled_from(["float32", "float64", "int32"])) for _ in range(n)]
    return shapes, dtypes, axis


@settings(max_examples=60, deadline=None)
@given(case=join_case(), mode=hs.sampled_from(MODES), how=hs.sampled_from(
    ["join", "concatenate"]))
def test_join_matches_numpy(case, mode, how):
    shapes, dtypes, axis = case
    vals = [np.arange(int(np.prod(s)), dtype=d).reshape(s) for s, d in zip(shapes, dtypes)]
    xs = [tensor_var(d, (None,) * len(s)) for s, d in zip(shapes, dtypes)]
    out = T.join(axis, *xs) if how == "join" else T.concatenate(xs, axis=axis)
    got, shp = vg.function(xs, [out, out.shape], mode=mode)(*vals)
    want = np.concatenate(vals, axis=axis)
    assert_matches(got, want)
    assert tuple(shp) == want.shape


@pytest.mark.parametrize("mode", MODES + ("DebugMode",))
def test_join_shape_mismatch_is_reported_not_answered(mode):
    # The seeds' example: join(0, x, y).shape on (5, 4) and (3, 3) must never say (8, 4).
    x, y = T.dmatrices("x", "y")
    z = T.join(0, x, y)
    f = vg.function([x, y], z.shape, mode=mode)
    with pytest.raises(ShapeMismatchError, match="Join") as info:
        f(np.ones((5, 4)), np.ones((3, 3)))
    assert isinstance(info.value, ValueError)
    g = vg.function([x, y], z, mode=mode)
    with pytest.raises(ShapeMismatchError, match=r"\(5, 4\), \(3, 3\)"):
        g(np.ones((5, 4)), np.ones((3, 3)))


@settings(max_examples=40, deadline=None)
@given(shape=hs.lists(sizes, max_size=3), n=hs.integers(1, 3), data=hs.data(),
       mode=hs.sampled_from(MODES))
def test_stack_matches_numpy(shape, n, data, mode):
    axis = data.draw(hs.integers(-len(shape) - 1, len(shape)))
    vals = [np.full(shape, k, dtype="float64") for k in range(n)]
    xs = [tensor_var("float64", (None,) * len(shape)) for _ in range(n)]
    got = vg.function(xs, T.stack(xs, axis=axis), mode=mode)(*vals)
    assert_matches(got, np.stack(vals, axis=axis))


@settings(max_examples=40, deadline=None)
@given(parts=hs.lists(sizes, min_size=1, max_size=4), other=sizes, axis=hs.sampled_from([0, 1, -1]),
       mode=hs.sampled_from(MODES))
def test_split_matches_numpy(parts, other, axis, mode):
    total = sum(parts)
    shape = (total, other) if axis == 0 else (other, total)
    v = np.arange(float(np.prod(shape))).reshape(shape)
    x = T.dmatrix()
    outs = T.split(x, parts, len(parts), axis=axis)
    outs = outs if isinstance(outs, list) else [outs]
    got = vg.function([x], outs, mode=mode)(v)
    want = np.split(v, np.cumsum(parts)[:-1], axis=axis)
    for g, w in zip(got, want):
        assert_matches(g, w)


@pytest.mark.parametrize("mode", MODES)
def test_split_sizes_must_add_up(mode):
    x = T.dvector()
    f = vg.function([x], T.split(x, [1, 1], 2), mode=mode)
    with pytest.raises(ShapeMismatchError, match="do not add up"):
        f(np.ones(3))


def test_join_rejects_mixed_ndim_and_0d():
    with pytest.raises(TypeError, match="same number of dimensions"):
        T.join(0, T.dvector(), T.dmatrix())
    with pytest.raises(TypeError, match="0-d"):
        T.join(0, T.dscalar(), T.dscalar())
