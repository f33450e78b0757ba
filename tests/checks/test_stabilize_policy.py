"""The stabilization policy: DebugMode accepts accurate stabilize rules, reports wrong ones."""
from __future__ import annotations

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks import BadOptimization
from verigraph.checks.reproducer import write_reproducer
from verigraph.checks.tolerance import compare, compare_stabilized, stabilize_tolerance
from verigraph.modes.debug import DebugMode
from verigraph.rewriting.db import rules as rule_db
from verigraph.rewriting.patterns import elemwise_name, is_constant_value, is_elemwise
from verigraph.tensor import api

# The band where log(1 - sigmoid(z)) is still finite naively but has lost digits (z in
# ~[34, 36.7]), the region where it is -inf, and ordinary values.
Z = np.array([-800.0, -30.0, -1.0, 0.0, 2.0, 28.0, 34.5, 35.0, 36.0, 36.5, 40.0, 800.0])


def _naive_log1m_sigmoid(z):
    with np.errstate(all="ignore"):
        return np.log(1 - 1 / (1 + np.exp(-z)))


def test_policy_accepts_what_the_naive_formula_gets_wrong():
    exact = -np.logaddexp(0, Z)
    naive = _naive_log1m_sigmoid(Z)
    assert compare(exact, naive) is not None  # the strict tolerance would call it wrong
    assert compare_stabilized(exact, naive) is None
    # -inf or NaN before, finite now; equal values; values near 0 (log(1 + 1e-17) is 0).
    assert compare_stabilized(np.array([-800.0, 1.0, 1e-17]),
                              np.array([-np.inf, np.nan, 0.0])) is None


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_policy_bound_holds_for_log1m_sigmoid_in_each_dtype(dtype):
    # The worst case of the cancellation (checks/tolerance.py) fits with its factor 2 margin.
    z = np.linspace(0, 60 if dtype != "float16" else 12, 20001).astype(dtype)
    with np.errstate(all="ignore"):
        one = np.asarray(1, dtype)
        naive = np.log(one - one / (one + np.exp(-z)))
    exact = (-np.logaddexp(0, z.astype("float64"))).astype(dtype)
    assert compare_stabilized(exact, naive) is None
    rtol, _ = stabilize_tolerance(dtype)
    fin = np.isfinite(naive)
    worst = (np.abs(naive - exact)[fin] / np.abs(exact[fin])).max()
    assert rtol / 2.2 < worst < rtol / 2 * 1.01  # the bound is tight: not looser than needed


def test_policy_rejects_wrong_values():
    old = np.array([0.5, 2.0, -3.0])
    assert compare_stabilized(old * 1.5, old) is not None  # off by a factor
    assert compare_stabilized(-old, old) is not None  # wrong sign
    assert compare_stabilized(np.array([np.inf, 2.0, -3.0]), old) is not None  # finite -> inf
    assert compare_stabilized(np.array([np.nan, 2.0, -3.0]), old) is not None  # finite -> NaN
    assert compare_stabilized(old.astype("float32"), old) is not None  # dtype changed
    diff = compare_stabilized(np.array([0.5, 2.0, -3.3]), old)
    assert diff is not None and "stabilization tolerance" in diff[2]
    assert diff[0] == pytest.approx(0.3)


def test_debugmode_accepts_the_stabilize_rules_everywhere():
    x, y = T.dvector("x"), T.dvector("y")
    p = 1 / (1 + T.exp(-x))
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    outs = [xent, T.log(T.sigmoid(x)), T.log(1 - T.sigmoid(x)), T.log(1 + x * 1e-20),
            T.log(1 + T.exp(x)), T.exp(x) / (1 + T.exp(x)), 1 / (1 + T.exp(x))]
    f = vg.function([x, y], outs, mode=DebugMode(on_error="collect"))
    yv = (np.arange(Z.size) % 2).astype("float64")
    with np.errstate(all="ignore"):
        f(Z, yv)
    fired = {r.rule for r in f.maker.fgraph.replacements}
    assert {"local_sigmoid_from_exp", "local_log_sigmoid", "local_log1m_sigmoid", "local_log1p",
            "local_softplus_from_log1p_exp", "local_sigmoid_from_exp_ratio"} <= fired
    assert f.maker.program.findings == []


@pytest.fixture
def planted():
    """Register rules for one test, then remove them (the rule database is global)."""
    names = []

    def plant(name, fn, phase):
        rule_db.node_rule(name, tags=(phase, "planted"))(fn)
        names.append(name)
        return name

    yield plant
    for n in names:
        del rule_db.rules[n]


def _wrong_log1p(fgraph, node):
    """``log(1 + x)`` -> ``log1p(2 * x)``: wrong."""
    if not is_elemwise(node, "log"):
        return None
    arg = node.inputs[0]
    if elemwise_name(arg) != "add" or not is_constant_value(arg.owner.inputs[0], 1):
        return None
    return api.log1p(2 * arg.owner.inputs[1])


def _right_log1m_sigmoid(fgraph, node):
    """``log(1 - sigmoid(x))`` -> ``-softplus(x)``: right, but not registered as stabilize."""
    if not is_elemwise(node, "log") or elemwise_name(node.inputs[0]) != "sub":
        return None
    s = node.inputs[0].owner.inputs[1]
    if elemwise_name(s) != "sigmoid":
        return None
    return api.neg(api.softplus(s.owner.inputs[0]))


def test_a_wrong_stabilize_rule_is_still_reported(planted, tmp_path):
    name = planted("planted_log1p_times_two", _wrong_log1p, "stabilize")
    x = T.dvector("x")
    mode = DebugMode().including(name).excluding("local_log1p")
    f = vg.function([x], T.log(1 + x), mode=mode)
    assert any(r.rule == name for r in f.maker.fgraph.replacements)
    with pytest.raises(BadOptimization) as info:
        f(np.array([0.001, 0.5, 3.0]))
    assert info.value.data.rule == name
    assert "stabilization tolerance" in str(info.value)
    # Its reproducer judges the replacement the same way.
    path = write_reproducer(info.value, str(tmp_path))
    assert "import compare_stabilized as judge" in open(path).read()


def test_the_policy_is_only_for_the_stabilize_phase(planted):
    # The same accurate replacement, registered in another phase, is judged strictly.
    name = planted("planted_log1m_sigmoid_specialize", _right_log1m_sigmoid, "specialize")
    x = T.dvector("x")
    mode = DebugMode().including(name).excluding("local_log1m_sigmoid")
    f = vg.function([x], T.log(1 - T.sigmoid(x)), mode=mode)
    assert any(r.rule == name for r in f.maker.fgraph.replacements)
    f(np.array([0.0, 2.0]))  # where the naive value is accurate, both agree
    with pytest.raises(BadOptimization) as info:
        f(np.array([35.0]))  # lost digits in the naive old value
    assert info.value.data.rule == name


def test_crosscheck_agrees_with_debugmode_on_the_tutorial_pattern():
    # FAST_RUN's cross-check judges against the original graph with the stabilize rules
    # applied, so the accurate values pass there too (crosscheck=always: every call).
    x, y = T.dvector("x"), T.dvector("y")
    p = 1 / (1 + T.exp(-x))
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    with vg.change_flags(crosscheck="always"):
        f = vg.function([x, y], [xent, T.grad(xent.sum(), x)], mode="FAST_RUN")
        yv = (np.arange(Z.size) % 2).astype("float64")
        got, g = f(Z, yv)
    np.testing.assert_allclose(got, yv * np.logaddexp(0, -Z) + (1 - yv) * np.logaddexp(0, Z),
                               rtol=1e-12)
    assert np.all(np.isfinite(g))
