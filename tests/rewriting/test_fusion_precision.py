"""Fused kernels keep each step's dtype; a float64 output built from float32 steps is checked at float32 tolerance."""
from __future__ import annotations

import numpy as np

import verigraph as vg
import verigraph.tensor as T
from verigraph.configparser import config
from verigraph.graph.fgraph import FunctionGraph
from verigraph.link.reference import evaluate
from verigraph.modes.debug import DebugMode
from verigraph.tensor.fused import FusedElemwise
from tests.rewriting.helpers import compile_fast


def _fuzz_graph():
    # Found by `verigraph fuzz --seed 5 --max-steps 10`: float32 softplus/neg switched
    # into a float64 result.
    x1 = T.tensor("float32", shape=(2, 3), name="x1")
    x3 = T.tensor("float64", shape=(), name="x3")
    x4 = T.tensor("float32", shape=(None, None), name="x4")
    out = T.switch(T.gt(x4, 0.0), T.neg(T.softplus(x1)), x3)
    values = [np.full((2, 3), -1, "float32"), np.float64(0), np.ones((2, 3), "float32")]
    return [x1, x3, x4], out, values


def test_steps_keep_the_unfused_dtypes_and_perform_is_exact():
    inputs, out, values = _fuzz_graph()
    f = compile_fast(inputs, out)
    (node,) = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, FusedElemwise)]
    assert [d for _, _, d in node.op.steps] == ["bool", "float32", "float32", "float64"]
    # perform == the original Elemwise nodes one by one, bit for bit.
    env = dict(zip(f.maker.fgraph.inputs, values))
    fused_ref = evaluate(f.maker.fgraph.outputs, env)[0]
    unfused = evaluate([out], dict(zip(inputs, values)))[0]
    assert fused_ref.dtype == unfused.dtype == np.float64
    np.testing.assert_array_equal(fused_ref, unfused)
    # The fast kernel's float32 softplus is within float32 rounding of it.
    np.testing.assert_allclose(f(*values), unfused, rtol=1e-6)


def test_fast_run_crosscheck_and_debugmode_accept_float32_rounding():
    inputs, out, values = _fuzz_graph()
    expected = evaluate([out], dict(zip(inputs, values)))[0]
    with config.change_flags(crosscheck="always"):
        got = vg.function(inputs, out, mode="FAST_RUN")(*values)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    got = vg.function(inputs, out, mode=DebugMode())(*values)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_float64_only_graph_still_checked_at_float64_tolerance():
    from verigraph.checks.precision import working_dtypes
    x = T.dvector("x")
    y = T.fvector("y")
    mixed = T.cast(T.exp(y), "float64") + x
    g = FunctionGraph([x, y], [T.exp(x) * 2.0, mixed, T.cast(y, "float64") + x], clone=False)
    assert working_dtypes(g.outputs) == ["float64", "float32", "float64"]
