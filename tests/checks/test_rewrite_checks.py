"""The rewrite plan: old vs new values of logged replacements, root causes first, determinism."""
from __future__ import annotations

import numpy as np

import verigraph.tensor as T
from verigraph.checks import BadOptimization
from verigraph.checks.rewrite_checks import RewritePlan, check_determinism
from verigraph.graph.fgraph import FunctionGraph
from verigraph.rewriting.db import rules as rule_db

X = np.arange(6.0).reshape(2, 3) / 5.0


def _graph():
    x = T.dmatrix("x")
    fg = FunctionGraph([x], [T.exp(x) * 2], clone=False)
    return fg, x


def test_correct_replacements_pass():
    fg, x = _graph()
    a = fg.outputs[0]
    c = a.owner.inputs[0]
    fg.replace(a, c + c, reason="double_as_add")
    plan = RewritePlan(fg)
    assert len(plan.pairs) == 1
    assert plan.check({id(x): X}) == []


def test_a_later_wrong_rule_is_reported_before_its_consequences():
    fg, x = _graph()
    a = fg.outputs[0]
    c = a.owner.inputs[0]
    fg.replace(a, c + c, reason="rule_A")  # right on its own
    fg.replace(c, x + 1, reason="rule_B")  # wrong: exp(x) is not x + 1; A's new node now reads it
    found = RewritePlan(fg).check({id(x): X})
    assert [f.data.rule for f in found] == ["rule_B", "rule_A"]
    assert all(isinstance(f, BadOptimization) for f in found)
    assert found[1].data.extra["consequence_of"] == ["rule_B"]
    np.testing.assert_allclose(found[0].data.max_abs_diff, np.max(np.abs(np.exp(X) - X - 1)))


def test_a_rewrite_that_hides_an_error_is_reported():
    x, y = T.dmatrices("x", "y")
    fg = FunctionGraph([x, y], [T.join(0, x, y).sum()], clone=False)
    out = fg.outputs[0]
    fg.replace(out, x.sum() + y.sum(), reason="sum_of_join")  # skips Join's shape check
    found = RewritePlan(fg).check({id(x): np.ones((2, 3)), id(y): np.ones((1, 2))})
    assert len(found) == 1 and found[0].data.rule == "sum_of_join"
    assert "original computation raises ShapeMismatchError" in str(found[0])


def test_determinism_of_the_default_rules():
    x = T.dmatrix("x")
    original = FunctionGraph([x], [T.exp(x) * 2 + T.exp(x)])
    chosen = rule_db.query(include=("default",))
    fg = original.clone()
    from verigraph.rewriting.driver import rewrite
    rewrite(fg, chosen)
    assert check_determinism(original, chosen, fg, repeats=2) is None
