"""Graph core: Apply source lines, Op props identity, traversal, FunctionGraph bookkeeping."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import verigraph.tensor as T
from verigraph.graph.basic import Constant
from verigraph.graph.fgraph import OUTPUT, FunctionGraph
from verigraph.graph.traversal import ancestors, clone_replace, graph_inputs, io_toposort
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor import scalar_table as st


def test_apply_records_the_user_source_line():
    x = T.dvector("x")
    y = T.exp(x) + 1  # this line
    import inspect
    line = inspect.currentframe().f_lineno - 2
    assert y.owner.source == (__file__, line)
    assert y.owner.inputs[0].owner.source == (__file__, line)
    assert y.owner.source_str() == f"{__file__}:{line}"


def test_op_identity_is_its_props():
    a, b = Elemwise(st.add), Elemwise(st.add)
    assert a == b and hash(a) == hash(b)
    assert a != Elemwise(st.mul)
    assert a != Elemwise(st.add, {0: 0})
    assert pickle.loads(pickle.dumps(a)) == a


def test_io_toposort_is_deterministic_and_ordered():
    x, y = T.dvectors("x", "y")
    z = (x + y) * (x - y)
    w = T.exp(z) + z
    order = io_toposort([x, y], [w])
    assert order == io_toposort([x, y], [w])
    pos = {n: k for k, n in enumerate(order)}
    for n in order:
        for i in n.inputs:
            if i.owner is not None:
                assert pos[i.owner] < pos[n]
    assert len(order) == 5


def test_ancestors_and_graph_inputs():
    x, y = T.dvectors("x", "y")
    z = x * 2 + y
    assert set(graph_inputs([z])) == {x, y}
    assert any(isinstance(v, Constant) for v in ancestors([z]))
    assert set(graph_inputs([z], blockers=[z.owner.inputs[0]])) == {z.owner.inputs[0], y}


def test_clone_replace_substitutes_and_shares_unchanged_nodes():
    x, y, u = T.dvectors("x", "y", "u")
    a = T.exp(y)
    z = x + a
    z2, = clone_replace([z], {x: u})
    assert z2 is not z and z2.owner.inputs[0] is u
    assert z2.owner.inputs[1] is a  # the untouched branch is shared
    assert clone_replace([a], {x: u})[0] is a


def test_function_graph_clients_replace_and_prune():
    x = T.dvector("x")
    y = T.exp(x)
    z = y * 2
    fg = FunctionGraph([x], [z])
    fx, = fg.inputs
    fz, = fg.outputs
    fy = fz.owner.inputs[0]
    assert fg.clients[fz] == [(OUTPUT, 0)]
    assert fg.clients[fy] == [(fz.owner, 0)]
    assert len(fg.apply_nodes) == 3  # exp, mul, and the DimShuffle padding the constant 2
    new = T.sin(fx)
    fg.replace(fy, new, reason="test_rule")
    assert fz.owner.inputs[0] is new
    assert fy.owner not in fg.apply_nodes  # exp was pruned
    assert new.owner in fg.apply_nodes and new.owner.tag_rule == "test_rule"
    assert fg.replacements[-1].rule == "test_rule"
    assert {str(n.op) for n in fg.toposort()} == {"Elemwise{sin}", "Elemwise{mul}",
                                                   "DimShuffle{x}"}


def test_function_graph_rejects_unknown_roots_and_bad_replacements():
    x, y = T.dvectors("x", "y")
    with pytest.raises(ValueError, match="not one of its inputs"):
        FunctionGraph([x], [x + y])
    fg = FunctionGraph([x], [x * 2])
    out = fg.outputs[0]
    with pytest.raises(TypeError, match="incompatible type"):
        fg.replace(out, T.dmatrix(), reason="bad_rule")


def test_function_graph_features_hear_about_changes():
    events = []

    class Listener:
        def on_import(self, fg, node, reason):
            events.append(("import", str(node.op), reason))

        def on_prune(self, fg, node):
            events.append(("prune", str(node.op)))

        def on_change_input(self, fg, node, pos, old, new, reason):
            events.append(("change", pos, reason))

    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x) * 2])
    fg.attach_feature(Listener())
    fx = fg.inputs[0]
    fg.replace(fg.outputs[0].owner.inputs[0], T.cos(fx), reason="r")
    kinds = [e[0] for e in events]
    assert "import" in kinds and "prune" in kinds and "change" in kinds


def test_clone_keeps_graph_independent():
    x = T.dvector("x")
    fg = FunctionGraph([x], [T.exp(x)])
    fg2 = fg.clone()
    assert fg2.outputs[0] is not fg.outputs[0]
    fg2.replace(fg2.outputs[0], T.sin(fg2.inputs[0]), reason="r")
    assert str(fg.outputs[0].owner.op) == "Elemwise{exp}"


def test_variable_eval_uses_the_reference_evaluator():
    x = T.dvector("x")
    np.testing.assert_array_equal((x * 2).eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])
    assert float(T.constant(3.0).eval()) == 3.0


def test_toposort_is_cached_until_the_graph_changes():
    x, y = T.dvectors("x", "y")
    fg = FunctionGraph([x, y], [T.exp(x + y) * y])
    first = fg.toposort()
    assert fg.toposort() == first and fg.toposort() is not first
    first.clear()                      # a caller's list is its own
    assert len(fg.toposort()) == 3
    xi, yi = fg.inputs
    add = next(n for n in fg.toposort() if n.outputs[0].owner.op == Elemwise(st.add))
    fg.replace(add.outputs[0], xi * yi, reason="test")
    ops = [n.op for n in fg.toposort()]
    assert Elemwise(st.add) not in ops and ops.count(Elemwise(st.mul)) == 2
    assert fg.toposort() == io_toposort(fg.inputs, fg.outputs)


def test_import_of_a_new_subgraph_keeps_the_topological_order():
    x, y = T.dvectors("x", "y")
    fg = FunctionGraph([x, y], [x + y])
    xi, yi = fg.inputs
    s = fg.outputs[0]
    new = T.log(T.exp(s) + xi) * yi       # reuses the graph's s; four new nodes
    fg.replace(s, new, reason="test")
    order = fg.toposort()
    assert set(order) == fg.apply_nodes and len(order) == 5
    position = {node: k for k, node in enumerate(order)}
    for node in order:                    # every node after the owners of its inputs
        assert all(position[i.owner] < position[node] for i in node.inputs if i.owner)
    assert [str(n.op) for n in order] == ["Elemwise{add}", "Elemwise{exp}", "Elemwise{add}",
                                          "Elemwise{log}", "Elemwise{mul}"]
