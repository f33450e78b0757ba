"""Per-node checks and their helpers: layouts, read-only views, shape plans, graph text."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks import (
    BadDestroyMap, BadThunkOutput, BadViewMap, InvalidValue, ShapeMismatchError)
from verigraph.checks.graph_text import graph_text, structure_signature
from verigraph.checks.node_checks import (
    ShapePlan, check_node, close_enough, readonly, same_value, strided_copy)
from verigraph.modes.debug import DebugMode

from .faulty_ops import Identity, Twice

X = np.arange(12.0).reshape(3, 4) / 7.0

arrays = hnp.arrays(hs.sampled_from(["float64", "float32", "int64", "bool"]),
                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@settings(max_examples=40, deadline=None)
@given(arrays)
def test_strided_copy_has_same_values_and_is_read_only(a):
    c = strided_copy(a)
    assert c.shape == a.shape and c.dtype == a.dtype
    np.testing.assert_array_equal(c, a)
    assert not np.may_share_memory(c, a)
    if a.ndim and a.size:
        assert not c.flags.writeable
        assert a.shape[-1] == 1 or not c.flags.c_contiguous


@settings(max_examples=40, deadline=None)
@given(arrays)
def test_readonly_view_shares_memory_and_refuses_writes(a):
    v = readonly(a)
    assert not v.flags.writeable and a.flags.writeable
    assert a.size == 0 or np.may_share_memory(v, a)
    with pytest.raises(ValueError, match="read-only"):
        v[...] = 0
    assert same_value(a, v)


def test_same_value_and_close_enough():
    a = np.array([1.0, np.nan])
    assert same_value(a, a.copy())
    assert not same_value(a, np.array([2.0, np.nan]))
    assert close_enough(np.float64(3.0) * np.ones(3), np.full(3, 3.0 + 1e-12))
    assert not close_enough(np.ones(3), np.full(3, 1.1))
    assert not close_enough(a, a.copy())  # NaN: left to tolerance.compare


@pytest.mark.parametrize("op, cls", [
    (Twice(), None), (Twice("thunk"), BadThunkOutput), (Twice("mutate"), BadDestroyMap),
    (Identity("view"), BadViewMap), (Twice("shape"), ShapeMismatchError),
    (Twice("dtype"), InvalidValue), (Twice("fast_dtype"), InvalidValue),
    (Twice("strided"), BadThunkOutput)], ids=lambda v: getattr(v, "fault", None) or "")
def test_check_node_reports_each_fault(op, cls):
    x = T.dmatrix("x")
    node = op(x).owner
    arg = X.copy()
    found = check_node(node, [arg])
    assert [type(f) for f in found][:1] == ([cls] if cls else [])
    np.testing.assert_array_equal(arg, X)
    for f in found:
        assert f.context["node"] is node and f.data.input_shapes == [(3, 4)]


def test_shape_plan_evaluates_guarded_join_shape():
    x, y = T.dmatrices("x", "y")
    node = T.join(0, x, y).owner
    plan = ShapePlan(None, node)
    assert plan.evaluate([np.ones((5, 4)), np.ones((3, 4))]) == {0: (8, 4)}
    with pytest.raises(ShapeMismatchError):
        plan.evaluate([np.ones((5, 4)), np.ones((3, 3))])


def test_graph_text_and_structure_signature():
    x = T.dmatrix("x")
    y = T.exp(x) + T.exp(x)
    text = graph_text([y])
    assert "Elemwise{add}" in text and text.count("Elemwise{exp}") == 2 and "|x" in text
    f1 = vg.function([x], y)
    f2 = vg.function([x], y)
    assert structure_signature(f1.maker.fgraph) == structure_signature(f2.maker.fgraph)
    assert any("in0" in line for line in structure_signature(f1.maker.fgraph))


OPS = [lambda a: T.exp(a), lambda a: a * 2 + 1, lambda a: T.sqr(a) - a, lambda a: T.tanh(a),
       lambda a: a.sum(axis=0, keepdims=True) + a, lambda a: T.max(a, axis=1, keepdims=True) - a,
       lambda a: a[::-1], lambda a: a.T.T, lambda a: T.join(0, a, a)[1:],
       lambda a: T.dot(a, a.T)[:, :1].sum() * a, lambda a: a.reshape((-1,)).reshape(a.shape)]


@settings(max_examples=25, deadline=None)
@given(chain=hs.lists(hs.integers(0, len(OPS) - 1), min_size=1, max_size=5),
       shape=hs.tuples(hs.integers(1, 4), hs.integers(1, 4)))
def test_debugmode_has_no_false_alarms_on_random_graphs(chain, shape):
    x = T.dmatrix("x")
    y = x
    for k in chain:
        y = OPS[k](y)
    out = [y, y.sum(), y.shape]
    value = np.linspace(-1, 1, shape[0] * shape[1]).reshape(shape)
    f = vg.function([x], out, mode=DebugMode(on_error="collect"))
    g = vg.function([x], out, mode="FAST_COMPILE")
    for a, b in zip(f(value), g(value)):
        np.testing.assert_allclose(a, b, rtol=1e-7)
    assert f.findings == []
