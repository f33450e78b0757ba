"""Shape bookkeeping written inline in the fast program equals the per-node calls, errors included."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.link.fast import FastProgram
from verigraph.modes.debug import DebugMode
from verigraph.tensor.guards import ShapeGuard
from verigraph.tensor.shape import MakeVector, Shape_i
from verigraph.tensor.subtensor import IndexBounds, SliceLength


class CallsOnly(FastProgram):
    """The same program with every node a call (nothing inlined)."""

    inline_scalars = False


def _bookkeeping_graph():
    x, y = T.dmatrices("x", "y")
    i, a, b = T.lscalars("i", "a", "b")
    outs = [x.shape, T.join(0, x, y).shape, x[a:b].shape, x[i].shape, x[i, a:b].shape,
            x.mean(), T.reshape(x, (x.shape[1], x.shape[0])), (x * y).sum() / x.shape[0],
            x.shape[1], T.cast(x.shape[0], "float64") / T.cast(y.shape[1], "float64")]
    return vg.function([x, y, i, a, b], outs), (x, y, i, a, b)


FN, _ = _bookkeeping_graph()


def _run(prog, args):
    try:
        return "ok", prog.raw(*args)
    except Exception as exc:  # noqa: BLE001 - compared below
        return "raised", type(exc)


def test_bookkeeping_nodes_are_inlined():
    prog = FN.maker.program
    kinds = (Shape_i, ShapeGuard, IndexBounds, SliceLength, MakeVector)
    called = [f"f{k}(" for k, n in enumerate(prog.order) if isinstance(n.op, kinds)]
    assert len(called) >= 6
    for line in prog.source.splitlines():
        # A bookkeeping node's fast fn appears only behind a check that failed.
        assert not any(c in line for c in called) or line.lstrip().startswith("if "), line
    assert ".shape[0]" in prog.source and "float(" in prog.source


@settings(max_examples=80, deadline=None)
@given(n=st.integers(0, 4), k=st.integers(0, 4), m=st.integers(0, 5), k2=st.integers(0, 5),
       i=st.integers(-6, 6), a=st.integers(-6, 6), b=st.integers(-6, 6))
def test_inlined_program_equals_calls_only(n, k, m, k2, i, a, b):
    fg = FN.maker.fgraph
    args = [np.arange(n * k, dtype="float64").reshape(n, k) + 1.0,
            np.ones((m, k2)), np.int64(i), np.asarray(a, dtype="int64"), np.int64(b)]
    inl, calls = FastProgram(fg), CallsOnly(fg)
    assert inl.order == calls.order
    with np.errstate(all="ignore"):
        got, want = _run(inl, args), _run(calls, args)
    assert got[0] == want[0], (got, want)
    if got[0] == "raised":
        assert got[1] is want[1]
        return
    for g, w in zip(got[1], want[1]):
        # Inlined float arithmetic hands a program output over as a 0-d array (what
        # Function stores) where the kernel returns a NumPy scalar; all else is identical.
        assert type(g) is type(w) or (np.ndim(g) == 0 and isinstance(w, np.generic)), (g, w)
        assert np.asarray(g).dtype == np.asarray(w).dtype
        np.testing.assert_array_equal(g, w)


def test_join_mismatch_names_join_and_both_sizes():
    x, y = T.dmatrices("x", "y")
    f = vg.function([x, y], T.join(0, x, y).shape, mode="FAST_RUN")
    assert "if " in f.maker.program.source  # the guard is an inline check
    with pytest.raises(ShapeMismatchError, match="Join") as info:
        f(np.ones((5, 4)), np.ones((3, 3)))
    msg = str(info.value)
    assert "=4" in msg and "=3" in msg, msg
    assert info.value.data.extra["sizes"] == [4, 3]
    assert "ShapeGuard{Join{" in info.value.data.node
    assert info.value.data.input_shapes == [(), ()]


def test_index_out_of_bounds_keeps_node_context():
    m = T.dmatrix("m")
    i = T.lscalar("i")
    f = vg.function([m, i], m[i].shape, mode="FAST_RUN")
    assert "IndexBounds" in str([n.op for n in f.maker.program.order])
    assert list(f(np.ones((4, 5)), -4)) == [5]
    with pytest.raises(IndexError, match="out of bounds") as info:
        f(np.ones((4, 5)), 4)
    assert "in node: IndexBounds" in str(info.value)


def test_debugmode_silent_on_tutorial_logistic_regression():
    rng = np.random.default_rng(0)
    n, feats = 40, 7
    data = (rng.standard_normal((n, feats)), rng.integers(0, 2, n).astype("float64"))
    x, y = T.dmatrix("x"), T.dvector("y")
    w = vg.shared(rng.standard_normal(feats), name="w")
    b = vg.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = vg.grad(cost, [w, b])
    mode = DebugMode(on_error="collect")
    train = vg.function([x, y], [p_1 > 0.5, xent], mode=mode,
                        updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    for _ in range(3):
        train(*data)
    assert train.findings == []
