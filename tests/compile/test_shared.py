"""Shared variables: value copies and borrow, set_value checks, types, pickling."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T


def test_shared_copies_unless_borrowed():
    data = np.zeros(3)
    s = vg.shared(data, name="s")
    data[0] = 5.0
    assert s.get_value()[0] == 0.0
    v = s.get_value()
    v[1] = 7.0
    assert s.get_value()[1] == 0.0
    internal = s.get_value(borrow=True)
    assert internal is s.get_value(borrow=True)
    b = vg.shared(data, borrow=True)
    assert b.get_value(borrow=True) is data


def test_set_value_copies_unless_borrowed():
    s = vg.shared(np.zeros(2))
    new = np.array([1.0, 2.0])
    s.set_value(new)
    new[0] = 9.0
    assert s.get_value().tolist() == [1.0, 2.0]
    s.set_value(new, borrow=True)
    assert s.get_value(borrow=True) is new


def test_shared_types_follow_values():
    assert vg.shared(0.0).type.dtype == "float64" and vg.shared(0.0).ndim == 0
    assert vg.shared(np.zeros((2, 3), "float32")).type == T.TensorType("float32", (None, None))
    assert vg.shared(3).dtype == "int64"
    assert vg.shared(np.ones((1, 3)), shape=(1, None)).broadcastable == (True, False)
    with pytest.raises(TypeError, match="None"):
        vg.shared(None)
    with pytest.raises(TypeError, match="symbolic"):
        vg.shared(T.dscalar())
    with pytest.raises(TypeError, match="numeric"):
        vg.shared("text")


@pytest.mark.parametrize("bad,match", [
    (None, "got None"),
    (np.zeros((2, 2)), "1-d"),
    (np.zeros(3, dtype="complex128"), "complex128"),
    ("abc", "numeric"),
])
def test_set_value_rejects_wrong_values_clearly(bad, match):
    w = vg.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match=match) as info:
        w.set_value(bad)
    assert "w" in str(info.value)
    assert w.get_value().tolist() == [0.0, 0.0, 0.0]


def test_set_value_downcast_rules():
    f = vg.shared(np.zeros(2, "float32"), name="f")
    with pytest.raises(TypeError, match="float32"):
        f.set_value(np.ones(2))          # float64 array -> float32 loses precision
    f.set_value([1.5, 2.5])              # Python floats are converted
    assert f.get_value().dtype == np.float32
    i = vg.shared(np.zeros(2, "int64"))
    i.set_value(np.array([1, 2], "int32"))  # safe upcast
    assert i.get_value().dtype == np.int64
    s = vg.shared(np.ones((1, 2)), shape=(1, None))
    with pytest.raises(TypeError, match="static shape"):
        s.set_value(np.ones((2, 2)))


def test_shared_in_several_functions_sees_updates():
    c = vg.shared(0, name="c")
    inc = T.lscalar("inc")
    acc = vg.function([inc], c, updates=[(c, c + inc)])
    dec = vg.function([inc], c, updates=[(c, c - inc)])
    read = vg.function([], c)
    assert int(acc(10)) == 0 and int(read()) == 10
    dec(3)
    assert int(read()) == 7
    c.set_value(-1)
    assert int(acc(1)) == -1 and int(c.get_value()) == 0


def test_pickle_shared_variable_round_trip():
    s = vg.shared(np.arange(3.0), name="s")
    t = pickle.loads(pickle.dumps(s))
    assert t.name == "s" and t.type == s.type and t.get_value().tolist() == [0.0, 1.0, 2.0]
    t.set_value(np.zeros(3))
    assert s.get_value().tolist() == [0.0, 1.0, 2.0]


def test_update_of_0d_float_shared_keeps_an_array():
    s = vg.shared(1.5, name="s")
    f = vg.function([], [], updates=[(s, s * 2)])
    f()
    v = s.get_value()
    assert isinstance(v, np.ndarray) and v.shape == () and float(v) == 3.0
