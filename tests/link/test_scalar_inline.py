"""0-d float64 arithmetic inlined into the fast program on Python floats equals the reference bit for bit."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import verigraph as vg
import verigraph.tensor as T
from verigraph.link.reference import evaluate
from verigraph.link.scalar_inline import inlinable

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _inlined_nodes(f):
    prog = f.maker.program
    return [n for n in prog.order if inlinable(n)]


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and \
        (np.array_equal(a, b) or (np.isnan(a) and np.isnan(b)))


@settings(max_examples=60, deadline=None)
@given(FLOATS, FLOATS, FLOATS)
def test_inlined_chain_equals_reference(a, b, c):
    x, y, z = T.dscalars("x", "y", "z")
    outs = [(x - y) * z + x * x, -(x * 3.0) - y ** 2, (x + y) * (x + y) - z]
    f = vg.function([x, y, z], outs)
    assert _inlined_nodes(f), f.maker.program.source
    assert "float(" in f.maker.program.source
    got = f(a, b, c)
    ref = evaluate(f.maker.original.outputs,
                   dict(zip(f.maker.original.inputs, map(np.asarray, (a, b, c)))))
    for g, r in zip(got, ref):
        assert type(g) is np.ndarray and g.dtype == np.float64
        assert _same(g, r), (a, b, c, g, r)


def test_rosenbrock_updates_equal_reference_and_stay_arrays():
    x, y = vg.shared(np.asarray(-1.2), "x"), vg.shared(np.asarray(1.0), "y")
    cost = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    gx, gy = vg.grad(cost, [x, y])
    step = vg.function([], [], updates=[(x, x - 1e-3 * gx), (y, y - 1e-3 * gy)])
    assert _inlined_nodes(step)
    xs, ys = -1.2, 1.0
    for _ in range(5):
        assert step() == []
        r = ys - xs * xs
        xs, ys = xs - 1e-3 * (-2.0 * (1.0 - xs) - 400.0 * xs * r), ys - 1e-3 * (200.0 * r)
    for var, ref in ((x, xs), (y, ys)):
        v = var.get_value()
        assert type(v) is np.ndarray and v.dtype == np.float64 and v.shape == ()
        assert np.isclose(v, ref, rtol=1e-12)


def test_values_leaving_the_inlined_region_are_numpy():
    # A float32 vector times a 0-d float64 result: NumPy promotion must see a float64.
    x = T.dscalar("x")
    v = T.fvector("v")
    s = x * x + 1.0
    f = vg.function([x, v], [s * v, s])
    out, s_val = f(2.0, np.ones(3, "float32"))
    ref = evaluate(f.maker.original.outputs,
                   dict(zip(f.maker.original.inputs, [np.asarray(2.0), np.ones(3, "float32")])))
    assert out.dtype == ref[0].dtype and np.array_equal(out, ref[0])
    assert type(s_val) is np.ndarray and s_val == 5.0


def test_not_inlined_for_float32():
    a, b = T.fscalars("a", "b")
    f = vg.function([a, b], a * b + a)
    assert not _inlined_nodes(f)


def test_division_inlined_and_ieee_on_zero_divisors():
    # Python's ``/`` raises on 0; the inline form falls back to np.true_divide there.
    x, y = T.dscalars("x", "y")
    g = vg.function([x, y], x / y + x)
    assert _inlined_nodes(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        assert np.isposinf(g(1.0, 0.0)) and np.isneginf(g(1.0, -0.0))
        assert np.isnan(g(0.0, 0.0))
    assert g(3.0, 4.0) == 3.0 / 4.0 + 3.0
