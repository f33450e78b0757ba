"""Two dense layers, the second narrow, as one ``DensePair`` node (rule ``local_dense_pair``):
the second product accumulated from each block of the first layer's output in the C loop."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as theano
import verigraph.tensor as T
from tests.link.helpers import built_in_the_call
from tests.link.test_dense_kernel import _any_size, _fast_fns, needs_avx512
from tests.rewriting.helpers import assert_matches_reference, fired
from verigraph.link.ckernels import dense, small
from verigraph.tensor.dense import DensePair


@pytest.fixture(autouse=True)
def _built_in_the_call(tmp_path_factory, monkeypatch):
    yield from built_in_the_call(dense, "vg-dense-pair", tmp_path_factory, monkeypatch)


def _model(dtype, n_in, n_hid, n_out, act=T.tanh, static_out=False, seed=0):
    g = np.random.default_rng(seed)
    x = T.matrix("x", dtype=dtype)
    w1 = theano.shared((g.standard_normal((n_in, n_hid)) / np.sqrt(n_in)).astype(dtype), "W1")
    b1 = theano.shared(g.standard_normal(n_hid).astype(dtype), "b1")
    w2_value = (g.standard_normal((n_hid, n_out)) / np.sqrt(n_hid)).astype(dtype)
    w2 = theano.shared(w2_value, "W2", shape=w2_value.shape if static_out else None)
    b2 = theano.shared(g.standard_normal(n_out).astype(dtype), "b2")
    h = act(T.dot(x, w1) + b1)
    _model.shared = [w1, b1, w2, b2]
    return x, h, T.dot(h, w2) + b2


def _pair_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, DensePair)]


@needs_avx512
@settings(max_examples=25, deadline=None)
@given(m=hst.integers(1, 15), k=hst.integers(1, 40), n=hst.integers(1, 150),
       n_out=hst.integers(1, 36), dtype=hst.sampled_from(["float32", "float64"]),
       act=hst.sampled_from([T.tanh, T.nnet.sigmoid, T.nnet.relu, lambda z: z]),
       seed=hst.integers(0, 2 ** 16))
def test_both_outputs_match_the_reference(m, k, n, n_out, dtype, act, seed):
    with pytest.MonkeyPatch.context() as mp:
        _any_size(mp)
        x, h, z = _model(dtype, k, n, n_out, act, seed=seed)
        f = theano.function([x], [h, z], mode="FAST_RUN")
        assert len(_pair_nodes(f)) == 1
        xv = np.random.default_rng(seed).standard_normal((m, k)).astype(dtype)
        for _ in range(3):   # the first call is cross-checked, the second is the C switch
            assert_matches_reference(f, xv)


@needs_avx512
def test_the_head_runs_in_the_loop_and_a_wrong_one_is_caught(monkeypatch):
    _any_size(monkeypatch)
    monkeypatch.setattr(dense, "_HEAD", dense._HEAD.replace("_mm512_fmadd_SUF(e, w0, z0[r])",
                                                            "_mm512_fnmadd_SUF(e, w0, z0[r])"))
    dense.forget()
    x, h, z = _model("float32", 30, 70, 10)
    f = theano.function([x], [h, z], mode="FAST_RUN")
    xv = np.random.default_rng(1).standard_normal((20, 30)).astype("float32")
    f(xv)
    with pytest.warns(small.KernelMismatchWarning, match="DensePair"):
        f(xv)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_matches_reference(f, xv)       # composed from the two layers from now on
    assert [small.describe_kernel(fn) for fn in _fast_fns(f)] == \
        ["NumPy (C dense pair disagreed)"]


@needs_avx512
def test_the_right_head_switches_on(monkeypatch):
    _any_size(monkeypatch)
    x, h, z = _model("float64", 30, 70, 10)
    f = theano.function([x], [h, z], mode="FAST_RUN")
    xv = np.random.default_rng(2).standard_normal((20, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            assert_matches_reference(f, xv)
    assert [small.describe_kernel(fn) for fn in _fast_fns(f)] == ["C dense pair"]


def test_not_applied_to_a_statically_wide_second_layer():
    x, h, z = _model("float32", 30, 70, 40, static_out=True)
    f = theano.function([x], z, mode="FAST_RUN")
    assert not fired(f, "local_dense_pair")
    assert not _pair_nodes(f)


def test_the_training_step_agrees_with_the_reference():
    # The MLP step: the pair's h also feeds the backward pass (tanh', the weight gradient).
    x, h, z = _model("float32", 784, 500, 10)
    shared = _model.shared
    y = T.ivector("y")
    cost = -T.mean(T.log(T.nnet.softmax(z))[T.arange(y.shape[0]), y])
    updates = [(p, p - np.float32(0.01) * g) for p, g in zip(shared, theano.grad(cost, shared))]
    f = theano.function([x, y], cost, updates=updates)
    assert _pair_nodes(f)
    g = np.random.default_rng(4)
    xv = g.standard_normal((256, 784)).astype("float32")
    yv = g.integers(0, 10, 256).astype("int32")
    before = [p.get_value() for p in shared]
    for _ in range(3):   # the first call is cross-checked, updates included
        assert np.isfinite(f(xv, yv))
    assert all(not np.array_equal(b, p.get_value()) for b, p in zip(before, shared))


@pytest.mark.parametrize("act", ["tanh", "relu", "identity"])
def test_the_pair_gradient_matches_finite_differences(act):
    g = np.random.default_rng(7)

    def both(x, w, b, w2, b2):
        h, z = DensePair(act)(x, w, b, w2, b2)
        return T.sum(h * h) + T.sum(z * T.arange(3))
    values = [g.standard_normal((4, 5)), g.standard_normal((5, 6)), g.standard_normal(6) + 0.3,
              g.standard_normal((6, 3)), g.standard_normal(3)]
    theano.gradient.verify_grad(both, values, rng=g)


@needs_avx512
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_debugmode_finds_nothing_on_the_pair_in_c(monkeypatch, dtype):
    # DebugMode compares every C call of the node with perform, output by output, at the
    # rounding a reordered product and the C tanh may differ by.
    _any_size(monkeypatch)
    # (784 inputs: sums long enough that the fixed tolerance alone would call the C
    # product's order of summation a mismatch)
    x, h, z = _model(dtype, 784, 200, 10)
    f = theano.function([x], [h, T.nnet.softmax(z)], mode="DebugMode")
    assert _pair_nodes(f)
    xv = (np.random.default_rng(3).standard_normal((25, 784)) * 3).astype(dtype)
    for _ in range(2):
        hv, pv = f(xv)
    np.testing.assert_allclose(pv.sum(axis=1), 1, rtol=1e-5)
