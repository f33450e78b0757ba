"""Shape Ops against NumPy: shape, reshape (-1), flatten, specify_shape, alloc, zeros/ones,
fill, eye, arange; the symbolic shape of each agrees with the computed value's shape."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError

from ._strategies import MODES, assert_matches, sizes, tensor_var


def _run(inputs, outputs, values, mode):
    return vg.function(inputs, outputs, mode=mode)(*values)


@settings(max_examples=30, deadline=None)
@given(shape=hs.lists(sizes, max_size=4), mode=hs.sampled_from(MODES))
def test_shape_and_shape_entries(shape, mode):
    x = tensor_var("float64", (None,) * len(shape))
    v = np.zeros(shape)
    outs = [x.shape] + [x.shape[d] for d in range(len(shape))] + [x.size]
    got = _run([x], outs, [v], mode)
    assert_matches(got[0], np.array(shape, dtype="int64"))
    for d, g in enumerate(got[1:-1]):
        assert_matches(g, np.int64(shape[d]))
    assert int(got[-1]) == v.size


@hs.composite
def reshape_case(draw):
    shape = draw(hs.lists(sizes, min_size=0, max_size=3))
    n = int(np.prod(shape))
    # Target: a factorisation of n, possibly with one -1 (only when it is unambiguous).
    target = []
    rest = n
    for _ in range(draw(hs.integers(0, 3))):
        divisors = [d for d in range(0, 5) if (d == 0 and rest == 0) or (d and rest % d == 0)]
        d = draw(hs.sampled_from(divisors))
        target.append(d)
        rest = rest // d if d else 0
    if rest != 1 or not target:
        target.append(rest)
    if draw(hs.booleans()) and 0 not in target:
        target[draw(hs.integers(0, len(target) - 1))] = -1
    return tuple(shape), tuple(target)


@settings(max_examples=60, deadline=None)
@given(case=reshape_case(), mode=hs.sampled_from(MODES), symbolic=hs.booleans())
def test_reshape_matches_numpy(case, mode, symbolic):
    shape, target = case
    x = tensor_var("float64", (None,) * len(shape))
    v = np.arange(float(np.prod(shape))).reshape(shape)
    want = v.reshape(target)
    if symbolic:
        t = T.lvector("t")
        out = x.reshape(t, ndim=len(target))
        got, got_shape = _run([x, t], [out, out.shape], [v, np.array(target)], mode)
    else:
        out = x.reshape(target)
        got, got_shape = _run([x], [out, out.shape], [v], mode)
    assert_matches(got, want)
    assert tuple(got_shape) == want.shape


@pytest.mark.parametrize("mode", MODES)
def test_reshape_errors_name_both_shapes(mode):
    x = T.dmatrix("x")
    f = vg.function([x], x.reshape((4, -1)), mode=mode)
    with pytest.raises(ShapeMismatchError, match=r"\(2, 3\).*\(4, -1\)"):
        f(np.ones((2, 3)))
    g = vg.function([x], x.reshape((5, 2)).shape, mode=mode)
    with pytest.raises(ShapeMismatchError, match=r"\(2, 3\)"):
        g(np.ones((2, 3)))
    with pytest.raises(ValueError, match="ndim"):
        x.reshape(T.lvector())


@settings(max_examples=30, deadline=None)
@given(shape=hs.lists(sizes, min_size=1, max_size=4), data=hs.data(),
       mode=hs.sampled_from(MODES))
def test_flatten_matches_numpy(shape, data, mode):
    nd = data.draw(hs.integers(1, len(shape)))
    x = tensor_var("float32", (None,) * len(shape))
    v = np.arange(int(np.prod(shape)), dtype="float32").reshape(shape)
    want = v.reshape(tuple(shape[:nd - 1]) + (int(np.prod(shape[nd - 1:])),))
    got = _run([x], x.flatten(nd), [v], mode)
    assert_matches(got, want)


@pytest.mark.parametrize("mode", MODES)
def test_specify_shape(mode):
    x = T.dmatrix("x")
    y = T.specify_shape(x, (2, None))
    assert y.type.shape == (2, None)
    f = vg.function([x], y * 2, mode=mode)
    assert_matches(f(np.ones((2, 5))), np.full((2, 5), 2.0))
    with pytest.raises(ShapeMismatchError, match=r"expected shape \(2, None\), got \(3, 5\)"):
        f(np.ones((3, 5)))
    with pytest.raises(ValueError, match="dimensions"):
        T.specify_shape(x, (2,))


@settings(max_examples=30, deadline=None)
@given(shape=hs.lists(sizes, max_size=3), vshape_kind=hs.sampled_from(["scalar", "row", "full"]),
       mode=hs.sampled_from(MODES), dtype=hs.sampled_from(["float32", "int64"]))
def test_alloc_matches_broadcast_to(shape, vshape_kind, mode, dtype):
    if vshape_kind != "scalar" and not shape:
        vshape_kind = "scalar"
    vshape = {"scalar": (), "row": (1,) * (len(shape) - 1) + (shape[-1] if shape else (),)[-1:],
              "full": tuple(shape)}[vshape_kind]
    vshape = tuple(vshape)
    val = np.arange(int(np.prod(vshape)), dtype=dtype).reshape(vshape)
    v = tensor_var(dtype, tuple(1 if s == 1 else None for s in vshape))
    n = [T.lscalar() for _ in shape]
    out = T.alloc(v, *n)
    got = _run([v] + n, out, [val] + list(shape), mode)
    assert_matches(got, np.broadcast_to(val, shape))


@pytest.mark.parametrize("mode", MODES)
def test_alloc_error_names_shapes(mode):
    v, n = T.dvector("v"), T.lscalar("n")
    f = vg.function([v, n], T.alloc(v, n, 3), mode=mode)
    with pytest.raises(ShapeMismatchError, match=r"\(2,\) cannot be broadcast to \(4, 3\)"):
        f(np.ones(2), 4)


@pytest.mark.parametrize("mode", MODES)
def test_zeros_ones_like_and_fill(mode):
    x = T.fmatrix("x")
    s = T.fscalar("s")
    outs = [T.zeros((2, 3)), T.ones((4,), dtype="int32"), T.zeros_like(x), T.ones_like(x),
            T.zeros_like(x, dtype="int8"), T.fill(x, s), T.second(x, 3.0), T.zeros(())]
    v = np.arange(6, dtype="float32").reshape(2, 3)
    got = _run([x, s], outs, [v, np.float32(7)], mode)
    want = [np.zeros((2, 3)), np.ones(4, "int32"), np.zeros_like(v), np.ones_like(v),
            np.zeros((2, 3), "int8"), np.full((2, 3), 7, "float32"), np.full((2, 3), 3, "float32"),
            np.zeros(())]
    for g, w in zip(got, want):
        assert_matches(g, w)


@settings(max_examples=30, deadline=None)
@given(n=sizes, m=hs.none() | sizes, k=hs.integers(-3, 3), mode=hs.sampled_from(MODES),
       dtype=hs.sampled_from(["float64", "float32", "int32"]))
def test_eye_matches_numpy(n, m, k, mode, dtype):
    out = T.eye(n, m, k, dtype=dtype)
    got, shp = _run([], [out, out.shape], [], mode)
    assert_matches(got, np.eye(n, m, k, dtype=dtype))
    assert tuple(shp) == got.shape


@settings(max_examples=60, deadline=None)
@given(start=hs.integers(-5, 5), stop=hs.integers(-5, 5), step=hs.integers(-3, 3).filter(bool),
       floats=hs.booleans(), symbolic=hs.booleans(), mode=hs.sampled_from(MODES))
def test_arange_matches_numpy(start, stop, step, floats, symbolic, mode):
    args = (start * 0.5, stop * 0.5, step * 0.5) if floats else (start, stop, step)
    want = np.arange(*args)
    if symbolic:
        syms = [T.dscalar() if floats else T.lscalar() for _ in args]
        out = T.arange(*syms)
        got, shp = _run(syms, [out, out.shape], list(args), mode)
    else:
        out = T.arange(*args)
        got, shp = _run([], [out, out.shape], [], mode)
    assert_matches(got, want)
    assert tuple(shp) == want.shape


def test_arange_dtypes():
    # Theano's rule: the arguments' promoted dtype (Python numbers are weak).
    assert T.arange(5).dtype == "int64"
    assert T.arange(0.5).dtype == "float64"
    assert T.arange(T.iscalar()).dtype == "int32"
    assert T.arange(T.fscalar()).dtype == "float32"
