"""Inplace rules: outputs reuse dying intermediates, never inputs, shared storage or constants.

(The one exception, a Gemm writing the update of its own shared variable, is tested in
tests/compile/test_inplace_updates.py.)
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph as vg
import verigraph.tensor as T
from verigraph.tensor import api
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.subtensor import IncSubtensor
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired

FAST = settings(max_examples=20, deadline=None)


def destroyers(f):
    return [n for n in f.maker.fgraph.toposort() if n.op.destroy_map]


def test_elemwise_inplace_on_an_intermediate():
    x = T.dmatrix("x")
    d = T.dot(x, x)                     # fresh memory with one client
    f = compile_fast([x], T.exp(d), exclude=("fusion",))
    assert fired(f, "local_elemwise_inplace")
    node, = destroyers(f)
    assert isinstance(node.op, Elemwise) and node.inputs[0].owner is not None
    xv = np.arange(4.0).reshape(2, 2) / 10
    np.testing.assert_allclose(f(xv), np.exp(xv @ xv))


def test_fused_inplace_on_an_intermediate():
    x = T.dmatrix("x")
    f = compile_fast([x], T.exp(T.dot(x, x)) * 2 + 1)
    assert fired(f, "local_fused_inplace")
    assert isinstance(destroyers(f)[0].op, FusedElemwise)


def test_user_inputs_are_never_destroyed():
    x, y = T.dvector("x"), T.dvector("y")
    f = compile_fast([x, y], [T.exp(x) + y, x * 2, (x + y) * 3])
    assert all(i.owner is not None for n in destroyers(f)
               for k in n.op.destroy_map[0] for i in [n.inputs[k]])
    xv, yv = np.arange(3.0), np.ones(3)
    before = xv.copy(), yv.copy()
    f(xv, yv)
    np.testing.assert_array_equal(xv, before[0])
    np.testing.assert_array_equal(yv, before[1])


def test_elementwise_updates_never_destroy_shared_storage():
    w = vg.shared(np.arange(4.0), "w")
    x = T.dvector("x")
    old = w.get_value(borrow=True)
    keep = old.copy()
    f = compile_fast([x], T.exp(w) + x, updates=[(w, w * 2 + x)])
    for _ in range(3):
        f(np.ones(4))
    np.testing.assert_array_equal(old, keep)  # the first storage array is untouched
    np.testing.assert_allclose(w.get_value(), ((keep * 2 + 1) * 2 + 1) * 2 + 1)


def test_constants_and_view_chains_of_inputs_are_not_destroyed():
    x = T.dmatrix("x")
    c = np.ones((2, 2))
    f = compile_fast([x], [x.T * 2 + c, T.exp(x.T)], exclude=("fusion",))
    assert not destroyers(f)  # x.T is a view of the user's x
    xv = np.arange(4.0).reshape(2, 2)
    f(xv)
    np.testing.assert_array_equal(xv, np.arange(4.0).reshape(2, 2))


def test_view_of_a_fresh_intermediate_is_destroyable():
    x = T.dmatrix("x")
    f = compile_fast([x], T.exp(T.dot(x, x).T), exclude=("fusion",))
    assert fired(f, "local_elemwise_inplace")
    xv = np.arange(4.0).reshape(2, 2) / 10
    np.testing.assert_allclose(f(xv), np.exp((xv @ xv).T))


def test_intermediate_with_two_clients_is_not_destroyed():
    x = T.dmatrix("x")
    d = T.dot(x, x)
    f = compile_fast([x], [T.exp(d), T.sin(d)], exclude=("fusion",))
    assert not destroyers(f)


def test_incsubtensor_inplace_on_fresh_zeros_only():
    x, y = T.dvector("x"), T.dvector("y")
    f = compile_fast([x, y], T.set_subtensor(api.zeros_like(x)[1:3], y))
    assert fired(f, "local_incsubtensor_inplace")
    assert any(isinstance(n.op, IncSubtensor) and n.op.inplace for n in destroyers(f))
    np.testing.assert_array_equal(f(np.ones(4), np.array([5.0, 6.0])), [0, 5, 6, 0])
    g = compile_fast([x, y], T.inc_subtensor(x[1:3], y))
    assert not fired(g, "local_incsubtensor_inplace")
    xv = np.ones(4)
    np.testing.assert_array_equal(g(xv, np.array([5.0, 6.0])), [1, 6, 7, 1])
    np.testing.assert_array_equal(xv, np.ones(4))


@FAST
@given(hnp.arrays("float64", hst.tuples(hst.integers(1, 4), hst.integers(1, 4)),
                  elements=hst.floats(-3, 3)))
def test_inplace_graphs_match_reference_and_keep_inputs(mv):
    m = T.dmatrix("m")
    d = T.dot(m, m.T)
    outs = [T.exp(d) * 2 - 1, T.tanh(d.T) + 1, T.set_subtensor(api.zeros_like(m)[0], m[0] * 3),
            m * 2]
    f = compile_fast([m], outs)
    keep = mv.copy()
    assert_matches_reference(f, mv)
    np.testing.assert_array_equal(mv, keep)
