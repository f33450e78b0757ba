"""DebugMode and NanGuardMode: each planted fault is reported by the right check; clean graphs pass."""
from __future__ import annotations

import time

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks import (
    BadDestroyMap, BadOptimization, BadThunkOutput, BadViewMap, CheckError, InvalidValue,
    NonFinite, ShapeMismatchError, StochasticOrder)
from verigraph.modes import FAST_RUN, get_mode
from verigraph.modes.debug import DebugMode, NanGuardMode
from verigraph.tensor import nnet

from checks.faulty_ops import Identity, Twice, registered_rule

X = np.arange(12.0).reshape(3, 4) / 7.0


def test_get_mode_builds_debug_and_nanguard():
    assert isinstance(get_mode("DebugMode"), DebugMode)
    assert isinstance(get_mode("NanGuardMode"), NanGuardMode)


def test_correct_op_passes_and_returns_reference_values():
    x = T.dmatrix("x")
    f = vg.function([x], Twice()(x) + 1, mode="DebugMode")
    np.testing.assert_allclose(f(X), 2 * X + 1)
    assert f.findings == []


FAULTS = [
    (Twice("thunk"), BadThunkOutput, "differs from perform"),
    (Twice("strided"), BadThunkOutput, "non-contiguous"),
    (Twice("mutate"), BadDestroyMap, "destroy_map"),
    (Identity("view"), BadViewMap, "view_map"),
    (Twice("shape"), ShapeMismatchError, "infer_shape says output 0 has shape (4, 4)"),
    (Twice("dtype"), InvalidValue, "perform's output 0"),
    (Twice("fast_dtype"), InvalidValue, "fast implementation's output 0"),
]


@pytest.mark.parametrize("op, cls, words", FAULTS, ids=lambda v: getattr(v, "fault", None))
def test_planted_op_fault_is_reported(op, cls, words):
    x = T.dmatrix("x")
    f = vg.function([x], op(x).sum(), mode="DebugMode")
    arg = X.copy()
    with pytest.raises(cls) as info:
        f(arg)
    err = info.value
    assert words in str(err)
    assert type(op).__name__ in err.data.op
    # A user-defined Op: the line that applied it (this test), not the Op's make_node.
    assert err.data.source.startswith(__file__)
    assert err.data.input_shapes == [(3, 4)] and err.data.input_dtypes == ["float64"]
    np.testing.assert_array_equal(arg, X)  # DebugMode never lets an Op write into user data
    if cls is BadThunkOutput:
        assert err.data.max_abs_diff > 0


@pytest.mark.parametrize("op, cls, words", FAULTS, ids=lambda v: getattr(v, "fault", None))
def test_collect_mode_keeps_findings_and_returns_reference(op, cls, words):
    x = T.dmatrix("x")
    f = vg.function([x], op(x).sum(), mode=DebugMode(on_error="collect"))
    ref = np.asarray(op(x).sum().eval({x: X}) if cls is not InvalidValue else 0)
    got = f(X)
    if cls is not InvalidValue:
        np.testing.assert_allclose(got, ref)
    assert any(isinstance(e, cls) for e in f.findings)
    f(X)
    # One finding per call; layout checks run once per input-shape signature.
    assert len(f.findings) >= (1 if op.fault == "strided" else 2)


def test_wrong_rewrite_rule_is_a_bad_optimization():
    x = T.dmatrix("x")
    with registered_rule("wrong") as name:
        out = T.exp(x) * 3
        with vg.config.change_flags(crosscheck="off"):
            fast = vg.function([x], out, mode=FAST_RUN.including("test_bad"))
            assert not np.allclose(fast(X), np.exp(X) * 3)  # the rule really is wrong
        f = vg.function([x], out, mode=DebugMode().including("test_bad"))
        with pytest.raises(BadOptimization) as info:
            f(X)
        err = info.value
        assert err.data.rule == name
        text = str(err)
        assert "old graph" in text and "new graph" in text and "exp" in text
        assert err.data.max_abs_diff == pytest.approx(np.max(np.abs(np.exp(X) - X - 1)))
        g = vg.function([x], out, mode=DebugMode(on_error="collect").including("test_bad"))
        np.testing.assert_allclose(g(X), np.exp(X) * 3)  # the original graph's answer
        assert [type(e) for e in g.findings] == [BadOptimization]
    # Without the rule, the same graph passes.
    np.testing.assert_allclose(vg.function([x], out, mode="DebugMode")(X), np.exp(X) * 3)


def test_correct_rewrite_rule_passes():
    x = T.dmatrix("x")
    with registered_rule("right", tag="test_good") as name:
        f = vg.function([x], T.sqr(x) + 1, mode=DebugMode(on_error="collect")
                        .including("test_good"))
        assert any(r.rule == name for r in f.maker.fgraph.replacements)
        np.testing.assert_allclose(f(X), X ** 2 + 1)
        assert f.findings == []


def test_order_dependent_rule_is_stochastic_order():
    x = T.dmatrix("x")
    with registered_rule("flaky") as name:
        with pytest.raises(StochasticOrder) as info:
            vg.function([x], T.sqr(x) + 1, mode=DebugMode().including("test_bad"))
        assert name in str(info.value)
        f = vg.function([x], T.sqr(x) + 1, mode=DebugMode(on_error="collect").including("test_bad"))
        assert [type(e) for e in f.findings] == [StochasticOrder]
        quiet = DebugMode(check_stochastic_order=False).including("test_bad")
        np.testing.assert_allclose(vg.function([x], T.sqr(x) + 1, mode=quiet)(X), X ** 2 + 1)


def test_nan_from_finite_inputs():
    x = T.dmatrix("x")
    y = T.sqrt(x - 2)  # NaN for x < 2
    # Off by default in DebugMode.
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.isnan(vg.function([x], y, mode="DebugMode")(X)), True)
    for mode in (DebugMode(check_nonfinite=True), NanGuardMode()):
        f = vg.function([x], y * 2, mode=mode)
        with pytest.raises(NonFinite) as info, np.errstate(invalid="ignore"):
            f(X)
        assert "NaN" in str(info.value) and info.value.data.source.startswith(__file__)
        assert "sqrt" in info.value.data.op
    with vg.config.change_flags(nan_guard=True), np.errstate(invalid="ignore"):
        with pytest.raises(NonFinite):
            vg.function([x], y, mode="DebugMode")(X)
    # A NaN arriving from the inputs is propagated, not produced: no finding.
    bad = X.copy()
    bad[0, 0] = np.nan
    assert np.isnan(vg.function([x], x * 2, mode=NanGuardMode())(bad)[0, 0])


def test_join_shape_example():
    x, y = T.dmatrices("x", "y")
    f = vg.function([x, y], T.join(0, x, y).shape, mode="DebugMode")
    np.testing.assert_array_equal(f(np.ones((5, 4)), np.ones((3, 4))), [8, 4])
    with pytest.raises(ShapeMismatchError) as info:
        f(np.ones((5, 4)), np.ones((3, 3)))
    err = info.value
    assert isinstance(err, ValueError)
    text = str(err)
    for part in ("Join", "(5, 4)", "(3, 3)", "local_shape_to_shape_i"):
        assert part in text
    assert err.data.rule == "local_shape_to_shape_i"
    assert err.data.input_shapes == [(5, 4), (3, 3)]


def _logistic_step(mode, n=30, d=6, k=3):
    rng = np.random.RandomState(0)
    x, y = T.dmatrix("x"), T.ivector("y")
    w = vg.shared(0.1 * rng.randn(d, k), name="w")
    b = vg.shared(np.zeros(k), name="b")
    p = nnet.softmax(T.dot(x, w) + b)
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y]) + 0.01 * T.sum(w ** 2)
    gw, gb = T.grad(cost, [w, b])
    both = T.join(0, x[:2], x[-2:])
    outs = [cost, T.argmax(p, axis=1), both.max(axis=0), x.T[1:3, ::2].sum(), T.mean(x ** 2)]
    f = vg.function([x, y], outs, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)], mode=mode)
    args = (rng.randn(n, d), rng.randint(0, k, size=n).astype("int32"))
    return f, args, w


def test_correct_program_has_no_findings():
    f, args, w = _logistic_step(DebugMode(on_error="collect", check_nonfinite=True))
    g, _, w2 = _logistic_step("FAST_COMPILE")
    for _ in range(3):
        for a, b in zip(f(*args), g(*args)):
            np.testing.assert_allclose(a, b, rtol=1e-10)
    np.testing.assert_allclose(w.get_value(), w2.get_value(), rtol=1e-10)
    assert f.findings == []


def test_debugmode_cost_is_a_few_reference_calls():
    rng = np.random.RandomState(1)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = vg.shared(0.01 * rng.randn(200), name="w")
    b = vg.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    cost = (-y * T.log(p_1) - (1 - y) * T.log(1 - p_1)).mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    args = (rng.randn(200, 200), rng.randint(0, 2, size=200).astype("float64"))

    def build(mode):
        return vg.function([x, y], [p_1 > 0.5, cost], mode=mode,
                           updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    fast_compile, debug = build("FAST_COMPILE"), build("DebugMode")
    best = {"fc": np.inf, "dbg": np.inf}
    for _ in range(15):  # interleaved, best of: robust to a busy machine
        for key, fn in (("fc", fast_compile), ("dbg", debug)):
            t0 = time.perf_counter()
            fn(*args)
            best[key] = min(best[key], time.perf_counter() - t0)
    assert best["dbg"] <= 5 * best["fc"], best


def test_findings_are_check_errors_with_builtin_bases():
    assert issubclass(BadThunkOutput, CheckError)
    assert issubclass(ShapeMismatchError, ValueError) and issubclass(InvalidValue, TypeError)
