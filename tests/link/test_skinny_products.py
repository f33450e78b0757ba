"""Products with few output columns in C (ckernels.skinny): values, layouts, the switch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as theano
import verigraph.tensor as T
from tests.link.helpers import built_in_the_call
from verigraph.checks.tolerance import compare
from verigraph.link.ckernels import compiler, skinny, small

needs_cc = pytest.mark.skipif(compiler.compiler() is None, reason="no C compiler")


@pytest.fixture(autouse=True)
def _built_in_the_call(tmp_path_factory, monkeypatch):
    """The library is built inside the first eligible call into a per-session cache."""
    yield from built_in_the_call(skinny, "vg-skinny", tmp_path_factory, monkeypatch)


def _entry(x, y, monkeypatch):
    # Every size and width qualifies (the thresholds are speed choices, not limits).
    monkeypatch.setattr(skinny, "MIN_WORK", {"float64": 0, "float32": 0})
    monkeypatch.setattr(skinny, "MIN_WORK_GEMM", {"float64": 0, "float32": 0})
    monkeypatch.setattr(skinny, "MIN_COLS", {"float64": 1, "float32": 1})
    skinny.entry(x, y)
    return skinny.entry(x, y)


def _layout(g, a, kind):
    """``a``'s values in another memory layout: transposed copy, strided, or reversed."""
    if kind == "fortran":
        return np.asfortranarray(a)
    if kind == "strided":
        wide = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
        wide[:, ::2] = a
        return wide[:, ::2]
    if kind == "reversed":
        return np.ascontiguousarray(a[::-1])[::-1]
    return a


@needs_cc
def test_products_match_numpy_for_drawn_shapes_dtypes_and_layouts(monkeypatch):
    def check(m, k, n, dtype, kind_x, kind_y, gemm, seed):
        g = np.random.default_rng(seed)
        x = _layout(g, g.standard_normal((m, k)).astype(dtype), kind_x)
        y = _layout(g, g.standard_normal((k, n)).astype(dtype), kind_y)
        fn = _entry(x, y, monkeypatch)
        assert fn is not None, (m, k, n, dtype)
        if gemm:
            z = g.standard_normal((m, n)).astype(dtype)
            alpha = np.float64(-0.25)
            want = z + dtype.type(alpha) * np.dot(x, y)
            got = skinny.call(fn, x, y, alpha, z=z, out=z)   # in place, as an SGD update
            assert got is z
        else:
            want = np.dot(x, y)
            got = skinny.call(fn, x, y)
        assert got.shape == want.shape and got.dtype == want.dtype
        if dtype == np.float64:
            assert compare(got, want, dtype.name) is None, (m, k, n, kind_x, kind_y)
        else:
            # float32 (not used by nodes: see skinny.MIN_WORK): a reordered sum is within
            # a few ulps of the terms' magnitude, not of a cancelled result's.
            scale = (np.abs(x) @ np.abs(y)) + (np.abs(z) if gemm else 0)
            assert np.all(np.abs(got - want) <= 8 * np.finfo(dtype).eps * scale + 1e-30)

    layouts = hst.sampled_from(["c", "fortran", "strided", "reversed"])
    widths = {np.dtype("float64"): 12, np.dtype("float32"): 24}
    dtypes = hst.sampled_from(list(widths))
    settings(max_examples=80, deadline=None)(given(
        hst.integers(1, 40), hst.integers(0, 70),
        dtypes.flatmap(lambda d: hst.tuples(hst.just(d), hst.integers(1, widths[d]))),
        layouts, layouts, hst.booleans(), hst.integers(0, 2 ** 16))(
            lambda m, k, dn, kx, ky, gemm, seed: check(m, k, dn[1], dn[0], kx, ky, gemm, seed)))()


@needs_cc
def test_what_stays_on_numpy(monkeypatch):
    a = np.ones((300, 600))
    assert skinny.entry(a, np.ones((600, 13))) is None          # 13 float64 columns: too wide
    assert skinny.entry(a, np.ones((600, 3))) is None           # BLAS's matrix-vector kernel
    assert skinny.entry(a[:20], np.ones((600, 10))) is None     # too little work to pay off
    assert skinny.entry(a, np.ones((600, 10), "float32")) is None   # mixed dtypes
    f32 = a.astype("float32")
    assert skinny.entry(f32, np.ones((600, 10), "float32")) is None   # float32: OpenBLAS
    assert skinny.entry(a.astype(int), np.ones((600, 10), int)) is None
    assert skinny.entry(a, np.ones((601, 10))) is None          # shapes disagree: NumPy says so
    assert skinny.entry(a, np.ones((600, 10))) is None          # the first one starts the build
    assert skinny.entry(a, np.ones((600, 10))) is not None


def _mlp_head(dtype):
    g = np.random.default_rng(0)
    h = T.matrix("h", dtype=dtype)
    w = theano.shared(g.standard_normal((500, 10)).astype(dtype), name="w")
    return h, w, g.standard_normal((256, 500)).astype(dtype)


@needs_cc
def test_function_switches_to_c_after_a_checked_call_and_profiles_say_so():
    h, w, hv = _mlp_head("float64")
    f = theano.function([h], T.dot(h, w), profile=True)
    want = hv @ w.get_value()
    fn = next(fn for node, fn in zip(f.maker.program.order, f.maker.program.fns)
              if type(node.op).__name__ == "Dot")
    for _ in range(3):
        np.testing.assert_allclose(f(hv), want, rtol=1e-12, atol=1e-12)
    assert fn.describe_kernel() == "C product"
    nodes = f.profile.to_dict()["functions"][0]["nodes"]
    assert [n["kernel"] for n in nodes if n["op"] == "Dot"] == ["C product"]


@needs_cc
def test_a_wrong_kernel_is_caught_on_its_first_call_and_the_node_stays_on_numpy(monkeypatch):
    h, w, hv = _mlp_head("float64")
    real = skinny.call
    monkeypatch.setattr(skinny, "call", lambda *a, **k: real(*a, **k) * 1.01)
    f = theano.function([h], T.dot(h, w))
    want = hv @ w.get_value()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for _ in range(3):
            np.testing.assert_allclose(f(hv), want, rtol=1e-12, atol=1e-12)
    assert [str(w.message) for w in seen if issubclass(w.category, small.KernelMismatchWarning)]
    fn = next(fn for node, fn in zip(f.maker.program.order, f.maker.program.fns)
              if type(node.op).__name__ == "Dot")
    assert fn.describe_kernel() == "NumPy (C product disagreed)"


@needs_cc
def test_without_a_compiler_products_run_on_numpy(monkeypatch):
    monkeypatch.setattr(compiler, "COMPILER", "/nonexistent/cc")
    h, w, hv = _mlp_head("float64")
    f = theano.function([h], T.dot(h, w))
    for _ in range(3):
        np.testing.assert_allclose(f(hv), hv @ w.get_value(), rtol=1e-12, atol=1e-12)
    assert skinny._library == [None]


def _sgd_last_layer(dtype="float64"):
    g = np.random.default_rng(1)
    h, dz = T.matrix("h", dtype=dtype), T.matrix("dz", dtype=dtype)
    W = theano.shared(g.standard_normal((500, 10)).astype(dtype), name="W")
    step = theano.function([h, dz], [], updates=[(W, W - np.asarray(0.1, dtype) * T.dot(h.T, dz))])
    hv = g.standard_normal((256, 500)).astype(dtype)
    dv = g.standard_normal((256, 10)).astype(dtype)
    gemm = next(fn for node, fn in zip(step.maker.program.order, step.maker.program.fns)
                if type(node.op).__name__ == "Gemm")
    return step, W, hv, dv, gemm


@needs_cc
def test_sgd_update_runs_in_c_into_the_shared_storage():
    step, W, hv, dv, gemm = _sgd_last_layer()
    want = W.get_value()
    storage = W.get_value(borrow=True)
    for _ in range(3):
        step(hv, dv)
        want = want - 0.1 * (hv.T @ dv)
        np.testing.assert_allclose(W.get_value(), want, rtol=1e-12, atol=1e-12)
    assert gemm.describe_kernel() == "C product"
    assert W.get_value(borrow=True) is storage     # written in place, through the C loop


@needs_cc
def test_a_wrong_gemm_kernel_never_touches_the_storage(monkeypatch):
    real = skinny.call
    monkeypatch.setattr(skinny, "call", lambda *a, **k: real(*a, **k) + 1.0)
    step, W, hv, dv, gemm = _sgd_last_layer()
    want = W.get_value()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for i in range(3):
            if i == 1:   # the library was built by the first call: this one is checked
                storage, before = W.get_value(borrow=True), W.get_value()
            step(hv, dv)
            want = want - 0.1 * (hv.T @ dv)
            np.testing.assert_allclose(W.get_value(), want, rtol=1e-12, atol=1e-12)
    assert any(issubclass(w.category, small.KernelMismatchWarning) for w in seen)
    assert gemm.describe_kernel() == "NumPy (C product disagreed)"
    # The checked call wrote a fresh array: the storage it would have overwritten kept
    # its values (the update then stored NumPy's result).
    np.testing.assert_array_equal(storage, before)
