"""A Gemm writing a shared variable's update into that variable's own storage.

The SGD update ``W - lr * dot(a.T, b)`` runs as one BLAS call adding into ``W``'s array.
What must hold: the values equal the reference's; other readers of ``W`` see the old
values; a failed call (a shape check, a cross-check, NaN in NanGuardMode) leaves ``W``
unchanged; arguments that alias ``W`` are not corrupted; DebugMode agrees.
"""
from __future__ import annotations

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import CrossCheckError, ShapeMismatchError
from verigraph.configparser import config
from verigraph.tensor import cblas
from verigraph.tensor.gemm import Gemm

LR = 0.1


def _writers(f):
    return [n for n in f.maker.fgraph.toposort()
            if isinstance(n.op, Gemm) and n.op.inplace and n.inputs[0] in f.maker.fgraph.inputs]


def _layer(seed=0, mode="FAST_RUN"):
    """``h = tanh(x @ W)``, cost ``sum(h @ v)``, one SGD step on W: W is read before its update."""
    g = np.random.default_rng(seed)
    W = vg.shared(g.standard_normal((4, 3)), "W")
    v = g.standard_normal((3, 2))
    x = T.dmatrix("x")
    cost = T.sum(T.dot(T.tanh(T.dot(x, W)), v))
    gW = vg.grad(cost, W)
    f = vg.function([x], cost, updates=[(W, W - LR * gW)], mode=mode)
    return f, W, v, g.standard_normal((5, 4))


def _numpy_step(Wv, v, xv):
    h = np.tanh(xv @ Wv)
    return np.sum(h @ v), Wv - LR * (xv.T @ ((1 - h * h) * v.sum(axis=1)))


def test_update_is_written_into_the_shared_storage_and_matches_numpy():
    f, W, v, xv = _layer()
    assert len(_writers(f)) == 1
    storage = W.get_value(borrow=True)
    Wv = W.get_value()
    for _ in range(3):
        cost = f(xv)
        want_cost, Wv = _numpy_step(Wv, v, xv)
        np.testing.assert_allclose(cost, want_cost, rtol=1e-12)
        np.testing.assert_allclose(W.get_value(), Wv, rtol=1e-12)
    assert W.get_value(borrow=True) is storage   # no new array: the storage itself changed


def test_a_reader_running_after_the_update_keeps_it_out_of_place():
    # W.T feeds a product that is not needed for W's own update (as W2 in an MLP), so the
    # update may run first in some order: it must not overwrite W.
    W = vg.shared(np.ones((3, 3)), "W")
    x, y = T.dmatrices("x", "y")
    f = vg.function([x, y], T.dot(y, W.T), updates=[(W, W - LR * T.dot(x.T, x))])
    assert not _writers(f)
    storage = W.get_value(borrow=True)
    out = f(np.eye(3), np.eye(3))
    np.testing.assert_array_equal(out, np.ones((3, 3)))
    assert W.get_value(borrow=True) is not storage
    np.testing.assert_array_equal(storage, np.ones((3, 3)))


def test_a_failing_check_leaves_every_shared_variable_unchanged():
    # Two in-place updates; the second one's shapes do not chain at run time. Both check
    # their arguments before either writes, so the first one writes nothing either.
    A = vg.shared(np.zeros((2, 2)), "A")
    B = vg.shared(np.zeros((2, 2)), "B")
    x, y = T.dmatrices("x", "y")
    f = vg.function([x, y], [], updates=[(A, A - LR * T.dot(x.T, x)), (B, B - LR * T.dot(y.T, y))])
    assert len(_writers(f)) == 2
    f(np.ones((3, 2)), np.ones((3, 2)))
    a_before, b_before = A.get_value(), B.get_value()
    with pytest.raises(ShapeMismatchError, match="gemm"):
        f(np.ones((3, 2)), np.ones((3, 5)))
    np.testing.assert_array_equal(A.get_value(), a_before)
    np.testing.assert_array_equal(B.get_value(), b_before)


def test_a_failed_crosscheck_restores_the_storage(monkeypatch):
    def wrong(c, alpha, a, b):   # a broken BLAS: adds twice the product
        c += 2 * alpha * (a @ b)
        return True
    monkeypatch.setattr(cblas, "gemm_into", wrong)
    with config.change_flags(crosscheck="first"):
        f, W, v, xv = _layer()
    before = W.get_value()
    storage = W.get_value(borrow=True)
    with pytest.raises(CrossCheckError, match="update of W"):
        f(xv)
    np.testing.assert_array_equal(W.get_value(), before)
    assert W.get_value(borrow=True) is storage


def test_an_argument_aliasing_the_storage_is_not_corrupted():
    # The user passes W's own array as x: the program must not read what it overwrites.
    W = vg.shared(np.arange(9.0).reshape(3, 3) / 10, "W")
    x = T.dmatrix("x")
    f = vg.function([x], T.sum(x), updates=[(W, W - LR * T.dot(x.T, x))])
    assert _writers(f)
    alias = W.get_value(borrow=True)
    start = alias.copy()
    total = f(alias)
    np.testing.assert_allclose(total, start.sum())
    np.testing.assert_allclose(W.get_value(), start - LR * (start.T @ start), rtol=1e-12)
    np.testing.assert_array_equal(alias, start)   # the argument the user passed is unchanged


def test_debugmode_agrees_and_nanguard_keeps_the_storage_on_failure():
    f, W, v, xv = _layer(mode="DebugMode")
    Wv = W.get_value()
    f(xv)
    np.testing.assert_allclose(W.get_value(), _numpy_step(Wv, v, xv)[1], rtol=1e-12)
    # NanGuardMode: a NaN in the new W is reported and W keeps its old values.
    W2 = vg.shared(np.ones((2, 2)), "W2")
    x = T.dmatrix("x")
    f = vg.function([x], [], updates=[(W2, W2 - LR * T.dot(x.T, x))], mode="NanGuardMode")
    with pytest.raises(Exception, match="(?i)inf"):
        f(np.array([[1e200, 1.0], [1.0, 1.0]]))   # x.T @ x overflows in the Gemm
    np.testing.assert_array_equal(W2.get_value(), np.ones((2, 2)))


def test_read_only_and_fortran_ordered_storage_get_a_fresh_result():
    x = T.dmatrix("x")
    for value in (np.asfortranarray(np.ones((2, 2))), np.ones((2, 2))):
        W = vg.shared(value, "W", borrow=True)
        if value.flags.c_contiguous:
            value.flags.writeable = False
        f = vg.function([x], [], updates=[(W, W - LR * T.dot(x.T, x))])
        assert _writers(f)
        f(np.eye(2))
        np.testing.assert_allclose(W.get_value(), np.ones((2, 2)) - LR * np.eye(2))
        np.testing.assert_array_equal(value, np.ones((2, 2)))   # the original is untouched


def test_an_update_reading_its_own_target_in_the_product_stays_out_of_place():
    # The product reads W itself, or a view of it: the node must not write into W.
    W = vg.shared(np.arange(4.0).reshape(2, 2) / 10, "W")
    x = T.dmatrix("x")
    for product in (T.dot(W.T, W), T.dot(W.T, x)):
        f = vg.function([x], [], updates=[(W, W - LR * product)], on_unused_input="ignore")
        assert not _writers(f)
        start = W.get_value()
        f(np.eye(2))
        want = start - LR * (start.T @ (start if product.owner.inputs[1] is W else np.eye(2)))
        np.testing.assert_allclose(W.get_value(), want, rtol=1e-12)
