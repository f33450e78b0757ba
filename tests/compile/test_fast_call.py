"""The generated fast call path of Function behaves exactly like the general one."""
from __future__ import annotations

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.compile.io import In
from verigraph.modes import FAST_COMPILE


def _both(inputs, outputs, **kw):
    """The same function on the fast linker (generated call) and the reference linker."""
    fast = vg.function(inputs, outputs, **kw)
    slow = vg.function(inputs, outputs, mode=FAST_COMPILE, **kw)
    assert fast._fast_call is not None and slow._fast_call is None
    return fast, slow


def test_scalar_inputs_and_outputs():
    x = T.dscalar("x")
    f, g = _both([x], x + 1)
    for arg in (np.float64(2.0), np.asarray(2.0), 2.0, 2):
        a, b = f(arg), g(arg)
        assert type(a) is np.ndarray and a.shape == () and a == b == 3.0


def test_bad_arguments_raise_the_same_errors():
    x, y = T.dvector("x"), T.dvector("y")
    f, g = _both([x, In(y, name="y", value=np.ones(2))], x + y)
    for fn in (f, g):
        with pytest.raises(TypeError, match="'x'"):
            fn(np.ones(2, dtype="int8").astype("complex64"))
        with pytest.raises(TypeError, match="missing|argument"):
            fn()
        with pytest.raises(TypeError, match="unexpected keyword"):
            fn(np.ones(2), z=1)
        with pytest.raises(TypeError):
            fn(np.ones((2, 2)))
        np.testing.assert_array_equal(fn(np.ones(2)), [2.0, 2.0])
        np.testing.assert_array_equal(fn(np.ones(2), y=np.zeros(2)), [1.0, 1.0])
        np.testing.assert_array_equal(fn([1, 2]), [2.0, 3.0])


def test_static_shapes_are_checked():
    x = T.TensorType("float64", (3,))("x")
    f, g = _both([x], x * 2)
    for fn in (f, g):
        with pytest.raises(TypeError, match="static shape"):
            fn(np.ones(4))


def test_output_aliasing_an_input_is_a_copy():
    x = T.dvector("x")
    f, _ = _both([x], x)
    xv = np.ones(3)
    out = f(xv)
    assert out is not xv and not np.shares_memory(out, xv)


def test_updates_dicts_and_lists():
    w = vg.shared(np.asarray(1.0), "w")
    x = T.dscalar("x")
    f = vg.function([x], {"a": x * w, "b": x + w}, updates=[(w, w + x)])
    out = f(2.0)
    assert set(out) == {"a", "b"} and out["a"] == 2.0 and out["b"] == 3.0
    assert type(w.get_value()) is np.ndarray and w.get_value() == 3.0
    g = vg.function([x], [x * 2, x * 3])
    assert [float(v) for v in g(1.0)] == [2.0, 3.0]


def test_failing_call_changes_no_shared_value_and_names_the_node():
    w = vg.shared(np.ones(3), "w")
    x = T.dvector("x")
    f = vg.function([x], T.dot(x, w), updates=[(w, w * 2)])
    with pytest.raises(ValueError) as info:
        f(np.ones(4))
    assert "Dot" in str(info.value)
    np.testing.assert_array_equal(w.get_value(), np.ones(3))


def test_first_call_crosscheck_runs_once(monkeypatch):
    x = T.dvector("x")
    f = vg.function([x], T.exp(x) * 2)
    calls = []
    original = f._maybe_crosscheck
    monkeypatch.setattr(f, "_maybe_crosscheck", lambda v, r: (calls.append(1), original(v, r)))
    for _ in range(3):
        f(np.ones(2))
    assert calls == [1]
