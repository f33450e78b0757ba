"""The rewrite driver: which rules look at which nodes, sweeps until nothing changes."""
from __future__ import annotations

import verigraph.tensor as T
from verigraph.graph.fgraph import FunctionGraph
from verigraph.rewriting.db import Rule
from verigraph.rewriting.driver import RewriteStats, run_phase
from verigraph.tensor import scalar_table as st
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.reduction import Reduce


def _exp_to_log(fgraph, node):
    if node.op == Elemwise(st.exp):
        return T.log(node.inputs[0])
    return None


def _graph():
    x = T.dvector("x")
    return FunctionGraph([x], [T.exp(x) + T.sum(T.exp(2 * x))])


def _ops(fg):
    return [str(n.op) for n in fg.toposort()]


def test_rules_see_only_the_op_classes_they_track():
    seen = []

    def record(fgraph, node):
        seen.append(type(node.op))

    fg = _graph()
    stats = RewriteStats()
    run_phase(fg, [Rule("record_reduce", record, ("canonicalize",), (Reduce,)),
                   Rule("exp_to_log", _exp_to_log, ("canonicalize",), (Elemwise,))], stats)
    assert seen and set(seen) == {Reduce}
    assert "Elemwise{exp}" not in _ops(fg) and _ops(fg).count("Elemwise{log}") == 2
    assert stats.fired["exp_to_log"] == 2


def test_a_rule_tracking_an_op_instance_sees_only_equal_ops():
    seen = []

    def record(fgraph, node):
        seen.append(node.op)
        return _exp_to_log(fgraph, node)

    fg = _graph()
    run_phase(fg, [Rule("exp_only", record, ("canonicalize",), (Elemwise(st.exp),))],
              RewriteStats())
    assert seen == [Elemwise(st.exp)] * 2
    assert _ops(fg).count("Elemwise{log}") == 2
