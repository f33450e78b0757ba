"""Indexing against NumPy: basic (slices, negative steps, ints), advanced (int arrays, boolean
masks), None and Ellipsis, and inc_subtensor / set_subtensor (repeated indices accumulate)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T

from ._strategies import MODES, assert_matches, sizes, tensor_var

bound = hs.none() | hs.integers(-4, 4)


@hs.composite
def basic_index(draw, shape):
    idx = []
    for n in shape[:draw(hs.integers(0, len(shape)))]:
        if n and draw(hs.integers(0, 3)) == 0:
            idx.append(draw(hs.integers(-n, n - 1)))
        else:
            idx.append(slice(draw(bound), draw(bound), draw(hs.none() | hs.sampled_from(
                [-3, -2, -1, 1, 2, 3]))))
    return tuple(idx)


def _symbolic(idx):
    """The same index with every integer turned into an int64 scalar input."""
    syms, vals, out = [], [], []

    def sym(v):
        if v is None:
            return None
        s = T.lscalar()
        syms.append(s)
        vals.append(v)
        return s
    for e in idx:
        out.append(slice(sym(e.start), sym(e.stop), sym(e.step)) if isinstance(e, slice) else sym(e))
    return tuple(out), syms, vals


@settings(max_examples=80, deadline=None)
@given(shape=hs.lists(sizes, min_size=1, max_size=3), data=hs.data(),
       mode=hs.sampled_from(MODES), symbolic=hs.booleans())
def test_basic_indexing_matches_numpy(shape, data, mode, symbolic):
    idx = data.draw(basic_index(shape))
    v = np.arange(float(np.prod(shape))).reshape(shape)
    x = tensor_var("float64", (None,) * len(shape))
    if symbolic:
        sidx, syms, vals = _symbolic(idx)
        out = x[sidx]
        got, shp = vg.function([x] + syms, [out, out.shape], mode=mode)(v, *vals)
    else:
        out = x[idx]
        got, shp = vg.function([x], [out, out.shape], mode=mode)(v)
    assert_matches(got, v[idx])
    assert tuple(shp) == v[idx].shape


@settings(max_examples=60, deadline=None)
@given(shape=hs.lists(sizes, min_size=1, max_size=3), data=hs.data(),
       mode=hs.sampled_from(MODES), op=hs.sampled_from(["inc", "set"]))
def test_basic_inc_and_set_subtensor(shape, data, mode, op):
    idx = data.draw(basic_index(shape))
    v = np.arange(float(np.prod(shape))).reshape(shape)
    region = v[idx]
    # The value may have fewer dimensions and broadcast (static size 1) into the region.
    y_shape = tuple(1 if data.draw(hs.booleans()) else s for s in region.shape)
    y_shape = y_shape[data.draw(hs.integers(0, len(y_shape))):]
    yv = np.full(y_shape, 10.0)
    x = tensor_var("float64", (None,) * len(shape))
    y = tensor_var("float64", tuple(1 if s == 1 else None for s in y_shape))
    fn = T.inc_subtensor if op == "inc" else T.set_subtensor
    got = vg.function([x, y], fn(x[idx], y), mode=mode)(v, yv)
    want = v.copy()
    if op == "inc":
        want[idx] += yv
    else:
        want[idx] = yv
    assert_matches(got, want)


ADVANCED = [
    (lambda x, i, m: x[i], "x[i]"),
    (lambda x, i, m: x[i, 1:], "x[i, 1:]"),
    (lambda x, i, m: x[:, i[:2] % 3], "x[:, i % 3]"),
    (lambda x, i, m: x[i, i % 3], "x[i, i % 3]"),
    (lambda x, i, m: x[-1, i % 3], "x[-1, i % 3]"),
    (lambda x, i, m: x[m], "x[mask]"),
    (lambda x, i, m: x[m[:, 0]], "x[row mask]"),
    (lambda x, i, m: x[None], "x[None]"),
    (lambda x, i, m: x[:, None, 1], "x[:, None, 1]"),
    (lambda x, i, m: x[..., 1], "x[..., 1]"),
    (lambda x, i, m: x[1, ...], "x[1, ...]"),
    (lambda x, i, m: x[None, ..., None], "x[None, ..., None]"),
    (lambda x, i, m: x[::-1, ::-2], "x[::-1, ::-2]"),
    (lambda x, i, m: x[1:3, ::2], "x[1:3, ::2]"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("build,desc", ADVANCED, ids=[a[1] for a in ADVANCED])
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_advanced_and_special_indexing(build, desc, mode, dtype):
    x, i, m = T.matrix(dtype=dtype), T.lvector("i"), T.bmatrix("m").astype("bool")
    v = np.arange(12, dtype=dtype).reshape(4, 3)
    iv = np.array([3, 0, 3, 1])
    mv = (v % 2 == 0)
    mb = T.matrix(dtype="bool")
    out = build(x, i, mb)
    got = vg.function([x, i, mb], out, mode=mode, on_unused_input="ignore")(v, iv, mv)
    assert_matches(got, build(v, iv, mv))


@settings(max_examples=40, deadline=None)
@given(n=hs.integers(1, 4), k=hs.integers(0, 6), data=hs.data(), mode=hs.sampled_from(MODES))
def test_advanced_inc_subtensor_accumulates_repeated_indices(n, k, data, mode):
    idx = np.array(data.draw(hs.lists(hs.integers(-n, n - 1), min_size=k, max_size=k)),
                   dtype="int64")
    x, i, y = T.dmatrix(), T.lvector(), T.dmatrix()
    v = np.zeros((n, 2))
    yv = np.arange(2.0 * k).reshape(k, 2) + 1
    got_inc, got_set = vg.function([x, i, y], [T.inc_subtensor(x[i], y), T.set_subtensor(
        x[i], y)], mode=mode)(v, idx, yv)
    want = v.copy()
    np.add.at(want, idx, yv)
    assert_matches(got_inc, want)
    want_set = v.copy()
    want_set[idx] = yv
    assert_matches(got_set, want_set)


@pytest.mark.parametrize("mode", MODES)
def test_inc_and_set_with_masks_and_full_slices(mode):
    x = T.dmatrix("x")
    v = np.arange(6.0).reshape(2, 3)
    f = vg.function([x], [T.set_subtensor(x[x > 2], 0.0), T.inc_subtensor(x[:], 1.0),
                          T.set_subtensor(x[:, 1:], 7.0), T.inc_subtensor(x[1], [1.0, 2.0, 3.0])],
                    mode=mode)
    a, b, c, d = f(v)
    assert_matches(a, np.where(v > 2, 0.0, v))
    assert_matches(b, v + 1)
    want = v.copy()
    want[:, 1:] = 7
    assert_matches(c, want)
    want = v.copy()
    want[1] += [1, 2, 3]
    assert_matches(d, want)
    # The input itself is never modified.
    assert_matches(v, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("mode", MODES)
def test_out_of_bounds_index_names_the_shape(mode):
    x, k = T.dmatrix("x"), T.lscalar("k")
    f = vg.function([x, k], x[k], mode=mode)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        f(np.ones((2, 3)), 5)
    g = vg.function([x, k], x[k].shape, mode=mode)
    with pytest.raises(IndexError, match="out of bounds"):
        g(np.ones((2, 3)), 5)


def test_index_type_errors():
    x = T.dmatrix()
    with pytest.raises(TypeError, match="integer"):
        x[T.dscalar()]
    with pytest.raises(IndexError, match="too many"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="Ellipsis"):
        x[..., 0, ...]
    with pytest.raises(TypeError, match="indexed variable"):
        T.set_subtensor(x + 1, 0.0)


def test_set_subtensor_gradient_skips_values_overwritten_by_repeated_indices():
    # Found by `verigraph fuzz --kinds grad`: x[[0, 0], 0] = y keeps only y[1], but the
    # gradient gave y[0] one too (finite differences say 0).
    x, y = T.dmatrix("x"), T.dvector("y")
    w = np.array([[2.0, 3.0], [4.0, 5.0]])
    g = vg.grad(T.sum(T.set_subtensor(x[np.array([0, 0]), 0], y) * w), [x, y])
    gx, gy = vg.function([x, y], g)(np.ones((2, 2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(gy, [0.0, 2.0])
    np.testing.assert_allclose(gx, [[0.0, 3.0], [4.0, 5.0]])
    # A broadcast y written to rows [1, 0, 1]: row 1's first write is overwritten.
    gy = vg.function([x, y], vg.grad(T.sum(T.set_subtensor(x[np.array([1, 0, 1])], y) * w),
                                      y))(np.ones((2, 2)), np.array([1.0, 2.0]))
    np.testing.assert_allclose(gy, [6.0, 8.0])


@pytest.mark.parametrize("mode", MODES)
def test_inc_subtensor_broadcasts_only_axes_declared_size_one(mode):
    # Found by `verigraph fuzz --kinds grad`: a (1,) value with static shape (None,) was
    # broadcast into 3 positions, and its gradient then had 3 entries (as Elemwise does,
    # an undeclared size-1 axis must not broadcast).
    from verigraph.checks.errors import ShapeMismatchError
    x, y = T.dvector("x"), T.dvector("y")
    f = vg.function([x, y], T.inc_subtensor(x[np.array([0, 1, 2])], y), mode=mode)
    with pytest.raises(ShapeMismatchError, match="not broadcastable"):
        f(np.zeros(3), np.array([1.0]))
    yb = T.tensor("float64", shape=(1,), name="yb")
    g = vg.function([x, yb], T.inc_subtensor(x[1:], yb), mode=mode)
    np.testing.assert_allclose(g(np.zeros(3), np.array([1.0])), [0.0, 1.0, 1.0])
    np.testing.assert_allclose(vg.function([x, y], T.set_subtensor(x[1:2], y), mode=mode)(
        np.zeros(3), np.array([2.0])), [0.0, 2.0, 0.0])


def test_shape_error_spells_the_slice_as_written():
    from verigraph.checks.errors import ShapeMismatchError
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = vg.function([x, y], T.inc_subtensor(x[1:], y), mode="FAST_COMPILE")
    with pytest.raises(ShapeMismatchError, match=r"does not fit x\[1:\] of shape \(2, 4\)"):
        f(np.zeros((3, 4)), np.ones((1, 4)))
