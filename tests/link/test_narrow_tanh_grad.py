"""The backward pass through a narrow layer into a tanh layer as one ``NarrowTanhGrad``
node (rule ``local_narrow_tanh_grad``) and its C loop (``ckernels/dense_backward``)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as theano
import verigraph.tensor as T
from tests.link.helpers import built_in_the_call
from tests.link.test_dense_kernel import _fast_fns, needs_avx512
from tests.rewriting.helpers import assert_matches_reference, fired
from verigraph.checks.errors import ShapeMismatchError
from verigraph.link.ckernels import dense, dense_backward, small
from verigraph.tensor.dense_grad import NarrowTanhGrad
from verigraph.tensor.gemm import Gemm

RULE = "local_narrow_tanh_grad"


@pytest.fixture(autouse=True)
def _built_in_the_call(tmp_path_factory, monkeypatch):
    monkeypatch.setattr(dense_backward, "MIN_WORK", 0)     # every size may run the loop
    yield from built_in_the_call(dense, "vg-dense-back", tmp_path_factory, monkeypatch)


def _graph(dtype, update="dot", n2_static=5, bias_grad=False):
    """gz, w2, h -> ((gz @ w2.T) * (1 - h**2), h.T @ gz or the SGD update through Gemm,
    and with ``bias_grad`` the first's column sums)."""
    gz = T.matrix("gz", dtype=dtype)
    w2 = T.TensorType(dtype, (None, n2_static))("w2")
    a = T.matrix("a", dtype=dtype)
    h = T.tanh(a)
    gpre = T.dot(gz, w2.T) * (1 - h ** 2)
    if update == "dot":
        second = T.dot(h.T, gz)
    else:
        second = Gemm()(w2, np.asarray(-0.5, dtype), h.T, gz)
    return [gz, w2, a], [gpre, second] + ([gpre.sum(axis=0)] if bias_grad else [])


def _values(rng, m, k, n2, dtype):
    return [rng.standard_normal((m, n2)).astype(dtype),
            rng.standard_normal((k, n2)).astype(dtype),
            rng.standard_normal((m, k)).astype(dtype)]


def _grad_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, NarrowTanhGrad)]


@needs_avx512
@settings(max_examples=25, deadline=None)
@given(m=hst.integers(1, 20), k=hst.integers(1, 70), n2=hst.integers(1, 32),
       dtype=hst.sampled_from(["float32", "float64"]), update=hst.sampled_from(["dot", "gemm"]),
       bias_grad=hst.booleans(), seed=hst.integers(0, 2 ** 16))
def test_every_output_matches_the_reference(m, k, n2, dtype, update, bias_grad, seed):
    inputs, outputs = _graph(dtype, update, n2_static=n2, bias_grad=bias_grad)
    f = theano.function(inputs, outputs, mode="FAST_RUN")
    assert fired(f, RULE) and len(_grad_nodes(f)) == 1
    assert _grad_nodes(f)[0].op.column_sums == bias_grad
    values = _values(np.random.default_rng(seed), m, k, n2, dtype)
    for _ in range(3):   # the first call is cross-checked, C from the first (checked) call
        assert_matches_reference(f, *values)


@needs_avx512
def test_the_loop_runs_and_a_wrong_one_is_caught(monkeypatch):
    inputs, outputs = _graph("float64", n2_static=10)
    values = _values(np.random.default_rng(1), 30, 50, 10, "float64")
    f = theano.function(inputs, outputs, mode="FAST_RUN")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            assert_matches_reference(f, *values)
    names = [small.describe_kernel(fn) for fn in _fast_fns(f)]
    assert "C tanh backward loop" in names
    monkeypatch.setattr(dense_backward, "_BACKWARD", dense_backward._BACKWARD.replace(
        "a = _mm512_fmadd_SUF(g, hv[r], a);", "a = _mm512_fnmadd_SUF(g, hv[r], a);"))
    dense.forget()
    f = theano.function(inputs, outputs, mode="FAST_RUN")
    f(*values)
    with pytest.warns(small.KernelMismatchWarning, match="NarrowTanhGrad"):
        f(*values)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_matches_reference(f, *values)         # composed from now on
    assert "NumPy (C tanh backward loop disagreed)" in \
        [small.describe_kernel(fn) for fn in _fast_fns(f)]


@needs_avx512
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_debugmode_finds_nothing_on_the_loop(dtype):
    # 512 rows summed into w2's gradient: the loop's order of summation differs from
    # NumPy's by more than the fixed tolerance allows where the terms cancel.
    inputs, outputs = _graph(dtype, "gemm", n2_static=10, bias_grad=True)
    f = theano.function(inputs, outputs, mode="DebugMode")
    assert _grad_nodes(f)
    gz, w2, a = _values(np.random.default_rng(2), 512, 500, 10, dtype)
    for _ in range(2):
        f(gz * 30, w2 * 30, a)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_mismatched_shapes_raise_in_every_mode(mode):
    inputs, outputs = _graph("float64", n2_static=None)
    gz_var, w2_var, a_var = inputs
    gz_var = T.TensorType("float64", (None, 4))("gz")     # known narrow: the rule applies
    h = T.tanh(a_var)
    f = theano.function([gz_var, w2_var, a_var],
                        [T.dot(gz_var, w2_var.T) * (1 - h ** 2), T.dot(h.T, gz_var)], mode=mode)
    if mode == "FAST_RUN":
        assert fired(f, RULE)
    gz, w2, a = _values(np.random.default_rng(3), 6, 9, 4, "float64")
    with pytest.raises(ShapeMismatchError):
        f(gz, w2[:, :3], a)
    with pytest.raises(ShapeMismatchError):
        f(gz, w2, a[:, :8])


@pytest.mark.parametrize("columns, applied", [(40, False), (None, False), (10, True)])
def test_applied_only_where_the_gradient_is_known_to_be_narrow(columns, applied):
    # For a wide layer the SGD update's in-place Gemm is the faster form; unknown width
    # counts as wide.
    inputs, outputs = _graph("float32", n2_static=columns)
    f = theano.function(inputs, outputs, mode="FAST_RUN")
    assert fired(f, RULE) == applied


@pytest.mark.parametrize("columns, applied", [(40, False), (10, True)])
def test_a_shared_weight_matrix_is_judged_by_its_value(columns, applied):
    g = np.random.default_rng(6)
    w2 = theano.shared(g.standard_normal((30, columns)), "W2")      # no static shape
    gz, a = T.dmatrix("gz"), T.dmatrix("a")
    h = T.tanh(a)
    f = theano.function([gz, a], [T.dot(gz, w2.T) * (1 - h ** 2)],
                        updates=[(w2, w2 - 0.1 * T.dot(h.T, gz))], mode="FAST_RUN")
    assert fired(f, RULE) == applied
    gzv, av = g.standard_normal((8, columns)), g.standard_normal((8, 30))
    before = w2.get_value()
    (got,) = f(gzv, av)
    np.testing.assert_allclose(got, (gzv @ before.T) * (1 - np.tanh(av) ** 2), rtol=1e-12)
    np.testing.assert_allclose(w2.get_value(), before - 0.1 * np.tanh(av).T @ gzv, rtol=1e-12)


@needs_avx512
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_column_sums_are_numpys_bit_for_bit(dtype):
    # rows added in order, as NumPy's axis-0 reduction of a C-ordered matrix does
    dense._load()
    gz, w2, a = _values(np.random.default_rng(5), 37, 45, 7, dtype)
    h = np.tanh(a)
    gpre, gw2, sums = dense_backward.call(dense_backward.entry(gz, w2, h), gz, w2, h,
                                          column_sums=True)
    np.testing.assert_array_equal(sums, np.add.reduce(gpre, axis=0))


def test_the_kernel_against_the_composition_on_specials():
    # rows of h at 0, +-1 (zero derivative) and NaN; the C loop's dh times (1 - h*h)
    dense._load()
    rng = np.random.default_rng(4)
    gz = rng.standard_normal((9, 3))
    w2 = rng.standard_normal((17, 3))
    h = np.tanh(rng.standard_normal((9, 17)))
    h[0, :4] = [0.0, 1.0, -1.0, np.nan]
    fn = dense_backward.entry(gz, w2, h)
    assert fn is not None
    gpre, gw2 = dense_backward.call(fn, gz, w2, h)
    with np.errstate(invalid="ignore"):
        want_pre = (gz @ w2.T) * (1 - h * h)
        want_w2 = h.T @ gz
    np.testing.assert_allclose(gpre, want_pre, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(gw2, want_w2, rtol=1e-13, atol=1e-15)
    assert np.isnan(gpre[0, 3]) and gpre[0, 1] == 0 and gpre[0, 2] == 0
