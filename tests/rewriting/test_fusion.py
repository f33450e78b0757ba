"""Fusion: elementwise trees become one FusedElemwise whose kernels all agree with perform."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.checks.tolerance import compare
from verigraph.link.reference import evaluate, run_node_reference
from verigraph.tensor import api
from verigraph.tensor.fused import CHUNK_MIN_SIZE, SMALL_SIZE, FusedElemwise
from tests.rewriting.helpers import assert_matches_reference, compile_fast, op_names

FAST = settings(max_examples=20, deadline=None)


def chain(a, b):
    """The benchmark's ten-op arithmetic chain."""
    t = a + b
    t = t * a
    t = t - b
    t = t * 0.5
    t = t + 1.0
    t = t * t
    t = t - a
    t = t * b
    t = t + a
    return t * 0.25


def fused_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, FusedElemwise)]


def test_chain_becomes_one_node():
    a, b = T.dvector("a"), T.dvector("b")
    f = compile_fast([a, b], chain(a, b))
    assert op_names(f) == [str(fused_nodes(f)[0].op)]
    assert len(fused_nodes(f)[0].op.steps) == 10


@pytest.mark.parametrize("n", [0, 5, SMALL_SIZE + 3, CHUNK_MIN_SIZE + 12345])
def test_every_size_variant_matches_numpy(n):
    a, b = T.dvector("a"), T.dvector("b")
    f = compile_fast([a, b], chain(a, b))
    g = np.random.default_rng(n)
    av, bv = g.standard_normal(n), g.standard_normal(n)
    np.testing.assert_allclose(f(av, bv), chain(av, bv), rtol=1e-13)


def test_broadcasting_matrix_kernel_chunks_rows():
    m = T.dmatrix("m")
    row = T.TensorType("float64", (1, None))("row")
    col = T.TensorType("float64", (None, 1))("col")
    out = T.exp(m * row - col) + T.sqr(m)
    f = compile_fast([m, row, col], out)
    assert len(fused_nodes(f)) == 1
    g = np.random.default_rng(0)
    for shape in [(3, 4), (400, 300)]:
        mv = g.standard_normal(shape)
        rv, cv = g.standard_normal((1, shape[1])), g.standard_normal((shape[0], 1))
        np.testing.assert_allclose(f(mv, rv, cv), np.exp(mv * rv - cv) + mv ** 2, rtol=1e-13)


def test_shared_intermediate_is_not_fused_twice():
    x = T.dvector("x")
    e = T.exp(x)
    f = compile_fast([x], [e * 2 + 1, e])
    np.testing.assert_allclose(f(np.array([0.0, 1.0]))[0], 2 * np.exp([0.0, 1.0]) + 1)
    assert any("exp" in n for n in op_names(f))


def test_shape_mismatch_raises_like_unfused():
    a, b = T.dvector("a"), T.dvector("b")
    f = compile_fast([a, b], (a + b) * 2)
    with pytest.raises(ShapeMismatchError):
        f(np.ones(3), np.ones(4))
    with pytest.raises(ShapeMismatchError):
        f(np.ones(3), np.ones(1))  # no run-time broadcasting of a non-broadcastable axis


def test_scalar_kernel_keeps_dtype_and_returns_arrays():
    x = T.fscalar("x")
    f = compile_fast([x], x * 2 + 1)
    out = f(np.float32(1.5))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out == 4.0
    y = T.dscalar("y")
    g = compile_fast([y], y + 1)
    assert fused_nodes(g)  # the scalar-operator kernel
    assert g(2.0) == 3.0 and g(np.asarray(2.0)) == 3.0


def test_nary_add_is_split_into_pairs():
    a, b, c = T.dvector("a"), T.dvector("b"), T.dvector("c")
    f = compile_fast([a, b, c], api.add(a, b, c) * 2)
    np.testing.assert_allclose(f(np.ones(2), np.ones(2), np.ones(2)), [6.0, 6.0])


def _kernel_and_perform(node, values):
    """Outputs of the fast kernel (on copies: it may be in place) and of perform for one node."""
    fast = node.op.make_fast_fn(node)(*[np.array(v, copy=True) for v in values])
    ref = run_node_reference(node, values)[0]
    return np.asarray(fast), ref


special_rows = hst.sampled_from(["sigmoid", "softplus", "exp", "tanh", "neg", "sqr"])


@FAST
@given(hst.lists(special_rows, min_size=1, max_size=5),
       hst.sampled_from([3, SMALL_SIZE + 1, CHUNK_MIN_SIZE + 7]), hst.integers(0, 2 ** 16))
def test_fused_kernels_agree_with_perform(rows, n, seed):
    x, y = T.dvector("x"), T.dvector("y")
    t = x
    for r in rows:
        t = getattr(api, r)(t)
    t = T.switch(T.gt(t, y), t, y * 2) + api.cast(T.gt(x, 0), "float64")
    t = api.second(x, t) - y
    f = compile_fast([x, y], t)
    fg = f.maker.fgraph
    g = np.random.default_rng(seed)
    given_values = [np.clip(g.standard_normal(n) * 20, -50, 50), g.standard_normal(n)]
    for node in fused_nodes(f):
        with np.errstate(all="ignore"):
            values = evaluate(node.inputs, dict(zip(fg.inputs, given_values)))
            fast, ref = _kernel_and_perform(node, values)
            # The checks' float64 tolerance, not equality: a C kernel calls libmvec's exp
            # (within 4 ulp), and exp(exp(exp(x))) multiplies an ulp's relative error by
            # the arguments (1.7e-12 relative was seen).
            assert compare(fast, ref) is None, (rows, n, seed)
            # ... and each in-place variant, on copies (the kernel overwrites input k).
            for k, inp in enumerate(node.inputs):
                if inp.type == node.outputs[0].type and np.ndim(values[k]):
                    op = FusedElemwise(node.op.steps, inplace_input=k)
                    inplace_node = op.make_node(*node.inputs)
                    copies = [np.array(v, copy=True) for v in values]
                    got = op.make_fast_fn(inplace_node)(*copies)
                    assert got is copies[k]
                    assert compare(got, ref) is None, (rows, n, seed, k)


@FAST
@given(hnp.arrays("float64", hst.integers(0, 40), elements=hst.floats(-100, 100)),
       hnp.arrays("float64", hst.integers(0, 40), elements=hst.floats(-100, 100)))
def test_fused_graph_matches_reference(av, bv):
    n = min(len(av), len(bv))
    a, b = T.dvector("a"), T.dvector("b")
    f = compile_fast([a, b], [chain(a, b), T.tanh(a) * b - T.sigmoid(b) / 3,
                              T.switch(T.gt(a, b), a, b) ** 2])
    assert_matches_reference(f, av[:n], bv[:n])


def _recompute_graph():
    # z = a + b has three elementwise consumers (the logistic-regression shape: dot + bias
    # feeding the prediction, the loss and the gradient).
    a, b = T.dvector("a"), T.dvector("b")
    z = a + b
    return [a, b], [T.sigmoid(z), T.softplus(-z) * b, (z * 3 - a) ** 2]


def test_cheap_shared_node_is_recomputed_in_each_consumer_with_c_kernels():
    from verigraph.rewriting import fusion
    if not fusion._c_kernels():
        pytest.skip("no C compiler or Python headers: cheap nodes are stored, not recomputed")
    inputs, outputs = _recompute_graph()
    f = compile_fast(inputs, outputs)
    nodes = f.maker.fgraph.toposort()
    assert all(isinstance(n.op, FusedElemwise) for n in nodes), op_names(f)
    assert len(nodes) == 3 and all(n.op.steps[0][0] == "add" for n in nodes)


def test_cheap_shared_node_is_stored_once_without_c_kernels():
    from verigraph.configparser import config
    inputs, outputs = _recompute_graph()
    with config.change_flags(c_kernels=False):
        f = compile_fast(inputs, outputs)
    plain_adds = sum(name.startswith("Elemwise{add") for name in op_names(f))
    fused_adds = sum(s[0] == "add" for n in fused_nodes(f) for s in n.op.steps)
    assert plain_adds + fused_adds == 1, op_names(f)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # inf - inf in both evaluators
@FAST
@given(hnp.arrays("float64", hst.integers(0, 40),
                  elements=hst.one_of(hst.floats(-50, 50), hst.sampled_from([np.inf, -np.inf]))),
       hst.floats(-50, 50))
def test_recomputed_graph_matches_reference(av, shift):
    from unittest import mock

    from verigraph.link.ckernels import small
    inputs, outputs = _recompute_graph()
    with mock.patch.object(small, "SMALL_AFTER_CALLS", 1):
        f = compile_fast(inputs, outputs)
    for _ in range(2):   # the first call builds the small kernels, the second runs them
        assert_matches_reference(f, av, av * 0.5 + shift)
