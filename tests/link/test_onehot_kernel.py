"""The cross-entropy ops' C kernels (``ckernels/onehot.py``): the trampoline's per-row vectors,
per-row outputs and declining kernels, against the ops' NumPy meaning."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph.tensor as T
from tests.link.helpers import small_kernels_built_in_the_call
from verigraph.checks.errors import ShapeMismatchError
from verigraph.link.ckernels import compiler, small, trampoline
from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad, PickLabels

needs_c = pytest.mark.skipif(compiler.compiler() is None or trampoline._flags() is None,
                             reason="no C compiler or Python headers")


@pytest.fixture(autouse=True)
def _built_on_first_call(tmp_path_factory, monkeypatch):
    """Kernels are built inside the first call, synchronously, into a per-session cache."""
    yield from small_kernels_built_in_the_call("vg-onehot", tmp_path_factory, monkeypatch)


def _fast_fn(dtype, rows_dtype, labels_dtype):
    v, ls = T.vector("v", dtype=dtype), T.matrix("ls", dtype=dtype)
    r, lab = T.vector("r", dtype=rows_dtype), T.vector("lab", dtype=labels_dtype)
    node = LogSoftmaxOneHotGrad()(v, ls, r, lab).owner
    return node, node.op.make_fast_fn(node)


def _composition(values, logsm, rows, labels):
    g = np.zeros(logsm.shape, logsm.dtype)
    np.add.at(g, (rows, labels), values)
    return g - g.sum(1, keepdims=True) * np.exp(logsm)


def _inputs(rng, n, k, dtype, labels_dtype):
    logsm = np.log(rng.dirichlet(np.ones(k), size=n)).astype(dtype)
    values = rng.standard_normal(n).astype(dtype)
    low = 0 if labels_dtype.startswith("u") else -k
    return values, logsm, np.arange(n), rng.integers(low, k, n).astype(labels_dtype)


def _switch_to_c(fn, args):
    fn(*args)            # builds the kernel (SMALL_AFTER_CALLS = 1)
    fn(*args)            # its first, checked call
    assert small.describe_kernel(fn) == "C"


@needs_c
@settings(max_examples=20, deadline=None)
@given(n=hst.integers(1, 40), k=hst.integers(1, 33), seed=hst.integers(0, 2 ** 16),
       dtype=hst.sampled_from(["float32", "float64"]),
       labels_dtype=hst.sampled_from(["int8", "uint8", "int32", "int64", "uint32"]))
def test_the_kernel_computes_the_composition(n, k, seed, dtype, labels_dtype):
    node, fn = _fast_fn(dtype, "int64", labels_dtype)
    args = _inputs(np.random.default_rng(seed), n, k, dtype, labels_dtype)
    _switch_to_c(fn, args)
    got = fn(*args)
    assert got.dtype == np.dtype(dtype) and got.shape == (n, k)
    tol = {"float32": 2e-6, "float64": 1e-14}[dtype]
    np.testing.assert_allclose(got, _composition(*args), rtol=tol, atol=tol)


@needs_c
def test_the_kernel_declines_what_it_does_not_cover():
    node, fn = _fast_fn("float64", "int64", "int64")
    rng = np.random.default_rng(0)
    args = _inputs(rng, 6, 4, "float64", "int64")
    _switch_to_c(fn, args)
    values, logsm, rows, labels = args
    # repeated rows: the composition accumulates both into row 2 and leaves row 5 zero
    rows_dup = np.array([0, 1, 2, 2, 4, 3])
    np.testing.assert_allclose(fn(values, logsm, rows_dup, labels),
                               _composition(values, logsm, rows_dup, labels), rtol=1e-14)
    # a label past the end: the increment's IndexError, naming the shape
    bad = labels.copy()
    bad[4] = 4
    with pytest.raises(IndexError, match=r"shape \(6, 4\)"):
        fn(values, logsm, rows, bad)
    # one value for six rows: not broadcast at run time (its static shape is (None,))
    with pytest.raises(ShapeMismatchError, match="not broadcastable"):
        fn(values[:1], logsm, rows, labels)
    # a strided matrix: NumPy's path, same values
    wide = np.repeat(logsm, 2, axis=1)[:, ::2]
    np.testing.assert_allclose(fn(values, wide, rows, labels),
                               _composition(values, wide, rows, labels), rtol=1e-14)
    assert small.describe_kernel(fn) == "C"      # declining is not a disagreement


@needs_c
def test_a_wrong_kernel_is_caught_at_the_switch(monkeypatch):
    from verigraph.link.ckernels import onehot
    monkeypatch.setattr(onehot, "_GRAD", onehot._GRAD.replace("o[c] + v[i]", "o[c] - v[i]"))
    node, fn = _fast_fn("float64", "int64", "int32")
    args = _inputs(np.random.default_rng(1), 5, 3, "float64", "int32")
    fn(*args)
    with pytest.warns(small.KernelMismatchWarning):
        got = fn(*args)
    np.testing.assert_allclose(got, _composition(*args), rtol=1e-14)
    assert small.describe_kernel(fn) == "NumPy (C kernel disagreed)"


def _label_rows_fn(dtype, labels_dtype):
    v, ls = T.vector("v", dtype=dtype), T.matrix("ls", dtype=dtype)
    lab = T.vector("lab", dtype=labels_dtype)
    node = LogSoftmaxOneHotGrad(label_rows=True)(v, ls, lab).owner
    return node.op.make_fast_fn(node)


@needs_c
@settings(max_examples=15, deadline=None)
@given(n=hst.integers(1, 30), k=hst.integers(1, 20), seed=hst.integers(0, 2 ** 16),
       dtype=hst.sampled_from(["float32", "float64"]),
       labels_dtype=hst.sampled_from(["int16", "int32", "uint16"]))
def test_the_label_rows_kernel_computes_the_composition(n, k, seed, dtype, labels_dtype):
    fn = _label_rows_fn(dtype, labels_dtype)
    values, logsm, rows, labels = _inputs(np.random.default_rng(seed), n, k, dtype, labels_dtype)
    _switch_to_c(fn, (values, logsm, labels))
    tol = {"float32": 2e-6, "float64": 1e-14}[dtype]
    np.testing.assert_allclose(fn(values, logsm, labels), _composition(values, logsm, rows, labels),
                               rtol=tol, atol=tol)


@needs_c
def test_the_label_rows_kernel_declines_fewer_labels_than_rows():
    # rows = arange(len(labels)): rows past the labels get no increment, so a zero gradient
    fn = _label_rows_fn("float64", "int64")
    values, logsm, rows, labels = _inputs(np.random.default_rng(2), 5, 3, "float64", "int64")
    _switch_to_c(fn, (values, logsm, labels))
    got = fn(values[:3], logsm, labels[:3])
    np.testing.assert_allclose(got, _composition(values[:3], logsm, rows[:3], labels[:3]),
                               rtol=1e-14)
    assert np.all(got[3:] == 0)


def _pick_fn(dtype, labels_dtype):
    node = PickLabels()(T.matrix("x", dtype=dtype), T.vector("y", dtype=labels_dtype)).owner
    return node.op.make_fast_fn(node)


@needs_c
@settings(max_examples=15, deadline=None)
@given(n=hst.integers(1, 30), k=hst.integers(1, 20), seed=hst.integers(0, 2 ** 16),
       dtype=hst.sampled_from(["float32", "float64"]),
       labels_dtype=hst.sampled_from(["int8", "int32", "int64", "uint8"]))
def test_the_pick_kernel_takes_each_rows_label(n, k, seed, dtype, labels_dtype):
    fn = _pick_fn(dtype, labels_dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k)).astype(dtype)
    labels = rng.integers(0 if labels_dtype.startswith("u") else -k, k, n).astype(labels_dtype)
    _switch_to_c(fn, (x, labels))
    got = fn(x, labels)
    assert got.dtype == np.dtype(dtype) and got.shape == (n,)
    np.testing.assert_array_equal(got, x[np.arange(n), labels])


@needs_c
def test_the_pick_kernel_declines_and_numpy_raises():
    fn = _pick_fn("float64", "int64")
    x = np.arange(12.0).reshape(4, 3)
    _switch_to_c(fn, (x, np.array([0, 1, 2, -1])))
    np.testing.assert_array_equal(fn(x, np.array([2, 0])), [2.0, 3.0])   # fewer labels
    np.testing.assert_array_equal(fn(x[:, ::2].copy(), np.array([1, 0, 1, 0])), [2.0, 3.0, 8.0, 9.0])
    with pytest.raises(IndexError, match=r"shape \(4, 3\)"):
        fn(x, np.array([0, 3, 0, 0]))
    with pytest.raises(IndexError, match=r"shape \(4, 3\)"):
        fn(x, np.array([0, 0, 0, 0, 0]))                                  # more labels than rows
    assert small.describe_kernel(fn) == "C"
