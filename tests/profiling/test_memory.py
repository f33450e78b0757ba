"""Peak-memory simulation against hand-computed schedules, and its invariants."""
import numpy as np
from hypothesis import given, settings, strategies as st

import verigraph as vg
import verigraph.tensor as T


def _memory(f):
    return f.profile.to_dict()["functions"][0]["memory"]


def test_chain_frees_intermediates_after_last_use():
    x = T.dmatrix("x")
    a = T.exp(x)            # 800 B, dies after b
    b = T.tanh(a)           # 800 B, dies after c
    c = b.sum()             # 8 B, output
    f = vg.function([x], c, mode=vg.Mode("fast", "merge"), profile=True)
    f(np.zeros((10, 10)))
    m = _memory(f)
    assert m["peak_bytes"] == 1600          # a and b live together while tanh runs
    assert m["peak_bytes_no_free"] == 1608
    assert m["output_bytes"] == 8
    assert [c["bytes"] for c in m["largest"]] == [800, 800, 8]
    assert m["largest"][-1]["is_output"]


def test_views_add_no_bytes():
    x = T.dmatrix("x")
    y = (T.exp(x).T * 2)     # DimShuffle output is a view of exp's buffer
    f = vg.function([x], y, mode=vg.Mode("fast", "merge"), profile=True)
    f(np.zeros((10, 10)))
    m = _memory(f)
    views = [c for c in m["largest"] if c["is_view"]]
    assert views and views[0]["op"].startswith("DimShuffle")
    assert m["peak_bytes_no_free"] == 1600   # exp and mul only
    assert m["peak_bytes"] == 1600


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 8), st.integers(1, 12))
def test_peak_bounds(n, rows):
    x = T.dmatrix("x")
    y, outs = x, []
    for k in range(n):
        y = T.tanh(y) if k % 2 else y * 1.5
        if k % 3 == 2:
            outs.append(y.sum())
    f = vg.function([x], outs + [y], mode=vg.Mode("fast", "merge"), profile=True)
    f(np.zeros((rows, 3)))
    m = _memory(f)
    biggest = max(c["bytes"] for c in m["largest"])
    assert biggest <= m["peak_bytes"] <= m["peak_bytes_no_free"]
    assert m["output_bytes"] <= m["peak_bytes"]


def test_view_of_a_view_of_an_input_adds_no_bytes():
    """A transpose of a slice of an input shares the caller's buffer (regression: KeyError)."""
    import numpy as np

    import verigraph as vg
    import verigraph.tensor as T

    x = T.dmatrix("x")
    f = vg.function([x], (x[1:].T * 2).sum(), profile=True)
    f(np.ones((4, 3)))
    assert f.profile.to_dict()  # building the memory summary must not raise


def test_an_in_place_update_is_labelled_as_living_in_the_input():
    W = vg.shared(np.ones((30, 20)), "W")
    x = T.dmatrix("x")
    f = vg.function([x], [], updates=[(W, W - 0.1 * T.dot(x.T, x[:, :20]))], profile=True)
    f(np.ones((5, 30)))
    m = _memory(f)
    gemm = [c for c in m["largest"] if c["op"].startswith("Gemm")]
    assert gemm and gemm[0]["in_input"] and gemm[0]["is_output"]
    from verigraph.profiling.tables import _memory_kind
    assert _memory_kind(gemm[0]) == "output, in input"
    assert m["peak_bytes"] < gemm[0]["bytes"]   # the update allocates no new W
