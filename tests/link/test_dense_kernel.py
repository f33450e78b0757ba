"""Dense layers ``act(x @ w + b)`` as one node (tensor/dense.py, rewriting/dense.py) and
its C loop (link/ckernels/dense.py): values, the rule, the first-call switch, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as theano
import verigraph.tensor as T
from tests.link.helpers import built_in_the_call
from verigraph.checks.errors import ShapeMismatchError
from verigraph.checks.rounding import node_output_within
from verigraph.configparser import config
from verigraph.link.ckernels import compiler, dense, small
from verigraph.tensor.dense import Dense

needs_cc = pytest.mark.skipif(compiler.compiler() is None, reason="no C compiler")


@pytest.fixture(autouse=True)
def _built_in_the_call(tmp_path_factory, monkeypatch):
    """The library is built inside the first eligible call into a per-session cache."""
    yield from built_in_the_call(dense, "vg-dense", tmp_path_factory, monkeypatch)


def _cpu_has_avx512():
    from numpy._core._multiarray_umath import __cpu_features__
    return bool(__cpu_features__.get("AVX512F")) and bool(__cpu_features__.get("FMA3"))


# Skipped only where the loop cannot run (no compiler, or a CPU without AVX-512); where it
# can, a library that does not build fails test_the_library_builds_where_it_can.
needs_avx512 = pytest.mark.skipif(compiler.compiler() is None or not _cpu_has_avx512(),
                                  reason="no AVX-512 CPU or no compiler")


@needs_avx512
def test_the_library_builds_where_it_can():
    dense._load()
    assert dense._library[0] is not None
    assert set(dense._entries) == {np.dtype("float32"), np.dtype("float64")}


def _any_size(monkeypatch):
    # Every size qualifies (the thresholds are speed choices, not limits).
    monkeypatch.setattr(dense, "MIN_WORK", 0)
    monkeypatch.setattr(dense, "_MIN_COLS_BY_DTYPE", {np.dtype("float32"): 1,
                                                      np.dtype("float64"): 1})


ACTS = {"identity": lambda z: z, "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "relu": lambda z: np.maximum(z, 0)}
BUILD = {"identity": lambda z: z, "tanh": T.tanh, "sigmoid": T.nnet.sigmoid,
         "relu": T.nnet.relu}


def _reference(x, w, b, act):
    return ACTS[act](x.astype("float64") @ w.astype("float64") + b)


@needs_avx512
def test_the_loop_matches_the_exact_value_for_drawn_shapes_and_layouts(monkeypatch):
    _any_size(monkeypatch)
    dense._load()

    @settings(max_examples=80, deadline=None)
    @given(m=hst.integers(1, 20), k=hst.integers(1, 90), n=hst.integers(1, 150),
           dtype=hst.sampled_from(["float32", "float64"]), act=hst.sampled_from(dense.ACTIVATIONS),
           strided=hst.booleans(), seed=hst.integers(0, 2 ** 16))
    def check(m, k, n, dtype, act, strided, seed):
        g = np.random.default_rng(seed)
        x = g.standard_normal((m, k)).astype(dtype)
        w = (g.standard_normal((k, n)) / np.sqrt(k)).astype(dtype)
        b = g.standard_normal(n).astype(dtype)
        if strided:   # rows of a wider array: contiguous rows, a longer row stride
            x = np.concatenate([x, np.ones((m, 3), dtype)], axis=1)[:, :k]
            w = np.concatenate([w, np.ones((k, 5), dtype)], axis=1)[:, :n]
        fn = dense.entry(x, w, b)
        assert fn is not None
        got = dense.call(fn, x, w, b, act)
        assert got.shape == (m, n) and got.dtype == dtype
        eps = np.finfo(dtype).eps
        bound = 8 * eps * (np.abs(x).astype("float64") @ np.abs(w) + np.abs(b) + 1) * (k + 4)
        assert np.all(np.abs(got - _reference(x, w, b, act)) <= bound), (m, k, n, dtype, act)
        node = Dense(act)(T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype),
                          T.vector("b", dtype=dtype)).owner
        want = Dense(act).make_node(*node.inputs)
        store = [[None]]
        want.op.perform(want, [x, w, b], store)
        assert node_output_within(node, [x, w, b], got, store[0][0], working_dtype=dtype)
    check()


SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf, 9.02, 9.0200005, -9.02, 1e-30, -1e-3, 0.5,
           -2.0, 20.0, 1e30, 1e-40, -7.0, 19.999, -20.5, 1e-310, 0.34657359, -0.6931, 3.0,
           -1e-8, 710.0, 5e-324, -0.125, 17.5, 1.0, -1.0, 2.5e-16, 44.0, -0.9]


@needs_avx512
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", dense.ACTIVATIONS)
def test_whole_blocks_in_registers_give_the_loop_epilogues_bits(monkeypatch, dtype, act):
    # Whole blocks apply the bias and activation to the accumulators; the last, partial
    # panel stores and loops over the block. With k = 1 and x = 1 each output is its
    # weight plus the bias exactly, so columns 0-15 (a whole panel) and 64-79 (the partial
    # panel) hold the same values and must come out as the same bits, specials included.
    _any_size(monkeypatch)
    dense._load()
    lanes = 16 if dtype == "float32" else 8
    for start in range(0, len(SPECIAL), lanes):     # every special value, a vector at a time
        vals = np.array(SPECIAL, dtype)[start:start + lanes]
        w = np.zeros((1, 64 + lanes), dtype)
        w[0, :lanes] = w[0, 64:] = vals
        b = np.zeros(64 + lanes, dtype)
        b[:lanes] = b[64:] = np.array([0.25, -0.0, 1.0, -3.0] * 4, dtype)[:lanes]
        x = np.ones((7, 1), dtype)          # a block of six rows and a block of one
        with np.errstate(invalid="ignore"):
            for bias in (b, None):
                got = dense.call(dense.entry(x, w, bias), x, w, bias, act)
                np.testing.assert_array_equal(got[:, :lanes].view(f"u{w.itemsize}"),
                                              got[:, 64:].view(f"u{w.itemsize}"))


def _compiled(act="tanh", dtype="float64", mode="FAST_RUN"):
    x = T.matrix("x", dtype=dtype)
    w = theano.shared(np.random.default_rng(1).standard_normal((200, 300)).astype(dtype) * 0.1,
                      name="W")
    b = theano.shared(np.random.default_rng(2).standard_normal(300).astype(dtype), name="b")
    return theano.function([x], BUILD[act](T.dot(x, w) + b), mode=mode), w, b


@needs_cc
@pytest.mark.parametrize("act", sorted(ACTS))
def test_the_rule_makes_one_dense_node_and_it_agrees_with_numpy(act):
    f, w, b = _compiled(act)
    ops = [str(n.op) for n in f.maker.fgraph.toposort()]
    assert ops == [f"Dense{{{act}}}"], ops
    assert "local_dense_epilogue" in {r.rule for r in f.maker.fgraph.replacements}
    xv = np.random.default_rng(3).standard_normal((40, 200))
    want = _reference(xv, w.get_value(), b.get_value(), act)
    for _ in range(3):       # NumPy path, checked first C call, then C (AVX-512 machines)
        np.testing.assert_allclose(f(xv), want, rtol=1e-10, atol=1e-10)


@needs_cc
def test_the_rule_leaves_other_shapes_alone():
    x = T.matrix("x")
    w = theano.shared(np.ones((20, 64)), name="W")
    b = theano.shared(np.ones(64), name="b")
    used_twice = T.dot(x, w)
    cases = {
        "product used twice": [T.tanh(used_twice + b), used_twice],
        "softplus": [T.nnet.softplus(T.dot(x, w) + b)],
        "maximum with 1, not 0": [T.maximum(T.dot(x, w) + b, 1.0)],
        "bias of the wrong orientation": [T.tanh(T.dot(x, w) + T.ones((20, 64))[:, :1])],
    }
    for what, outs in cases.items():
        f = theano.function([x], outs)
        assert not any(str(n.op).startswith("Dense") for n in f.maker.fgraph.toposort()), what
    with config.change_flags(c_kernels=False):
        f = theano.function([x], T.tanh(T.dot(x, w) + b))
    assert not any(str(n.op).startswith("Dense") for n in f.maker.fgraph.toposort())


@needs_avx512
def test_the_first_c_call_is_checked_and_a_wrong_kernel_is_caught(monkeypatch):
    f, w, b = _compiled("tanh")
    xv = np.random.default_rng(4).standard_normal((64, 200))
    want = _reference(xv, w.get_value(), b.get_value(), "tanh")
    real = dense.call

    def wrong(fn, x, w_, b_, act, out=None):
        r = real(fn, x, w_, b_, act, out)
        r[3, 7] += 0.5      # one wrong element
        return r
    monkeypatch.setattr(dense, "call", wrong)
    f(xv)                   # NumPy path; the library is built
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = f(xv)         # the checked first C call
    assert any("C dense kernel" in str(w_.message) for w_ in caught), [str(w_.message) for w_ in caught]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(f(xv), want, rtol=1e-10, atol=1e-10)   # stays on NumPy
    assert small.describe_kernel(_fast_fns(f)[0]) == "NumPy (C dense kernel disagreed)"


@needs_avx512
def test_the_profile_names_the_c_dense_kernel():
    x = T.matrix("x")
    w = theano.shared(np.random.default_rng(1).standard_normal((200, 300)) * 0.1, name="W")
    b = theano.shared(np.zeros(300), name="b")
    f = theano.function([x], T.tanh(T.dot(x, w) + b), profile=True)
    xv = np.random.default_rng(3).standard_normal((40, 200))
    for _ in range(3):
        f(xv)
    assert [small.describe_kernel(fn) for fn in _fast_fns(f)] == ["C dense kernel"]


@needs_avx512
def test_a_layer_too_narrow_for_the_loop_is_named_by_the_path_it_takes():
    # 10 output columns: below the loop's fewest, so every call takes Dot's path; the
    # profile says what that runs (float64: the C product for few columns), not that the
    # dense kernel is about to take over.
    x = T.matrix("x")
    w = theano.shared(np.random.default_rng(1).standard_normal((500, 10)) * 0.1, name="W")
    b = theano.shared(np.zeros(10), name="b")
    f = theano.function([x], T.dot(x, w) + b, profile=True)
    xv = np.random.default_rng(3).standard_normal((256, 500))
    f(xv)            # requests the product's library
    small.wait()
    for _ in range(2):
        f(xv)        # the checked first C call, then C
    assert [small.describe_kernel(fn) for fn in _fast_fns(f)] == ["C product"]


def _fast_fns(f):
    for obj in (f, f.maker):
        for v in vars(obj).values():
            if type(v).__name__.endswith("Program"):
                return list(v.fns)
    raise AssertionError("no fast program found")


@needs_cc
@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE", "DebugMode"])
def test_shape_errors_name_the_product_and_the_bias(mode):
    f, _, _ = _compiled("tanh", mode=mode)
    with pytest.raises(ShapeMismatchError, match="inner dimensions"):
        f(np.ones((5, 7)))
    op = Dense("tanh")
    node = op.make_node(T.matrix("x"), T.matrix("w"), T.vector("b"))
    with pytest.raises(ShapeMismatchError, match="bias has 3 elements"):
        op.perform(node, [np.ones((2, 4)), np.ones((4, 5)), np.ones(3)], [[None]])


@needs_cc
def test_debugmode_finds_nothing_on_a_correct_two_layer_model():
    x = T.matrix("x")
    g = np.random.default_rng(5)
    w1 = theano.shared(g.standard_normal((100, 80)) * 0.1)
    b1 = theano.shared(np.zeros(80))
    w2 = theano.shared(g.standard_normal((80, 40)) * 0.1)
    b2 = theano.shared(np.zeros(40))
    h = T.tanh(T.dot(x, w1) + b1)
    out = T.nnet.softmax(T.dot(h, w2) + b2)
    f = theano.function([x], out, mode="DebugMode")
    # the two layers are one DensePair node (the 40 columns are too wide for its loop's
    # head at run time, so it computes them as two Dense layers)
    assert any(str(n.op) == "DensePair{tanh}" for n in f.maker.fgraph.toposort())
    xv = g.standard_normal((30, 100))
    hv = np.tanh(xv @ w1.get_value())
    z = hv @ w2.get_value()
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(f(xv), e / e.sum(axis=1, keepdims=True), rtol=1e-9)


def test_dense_gradient_matches_finite_differences():
    g = np.random.default_rng(6)
    for act in sorted(ACTS):
        theano.gradient.verify_grad(lambda x, w, b: Dense(act)(x, w, b),
                                    [g.standard_normal((3, 4)), g.standard_normal((4, 5)),
                                     g.standard_normal(5)], rng=g)


def test_dense_rejects_mixed_dtypes_and_ranks():
    with pytest.raises(TypeError, match="one float dtype"):
        Dense("tanh")(T.matrix("x", dtype="float32"), T.matrix("w"), T.vector("b"))
    with pytest.raises(TypeError, match="a matrix, a matrix and a vector"):
        Dense("tanh")(T.matrix("x"), T.matrix("w"), T.matrix("b"))
    with pytest.raises(ValueError, match="act must be one of"):
        Dense("softplus")


@needs_cc
def test_without_the_loop_the_node_computes_the_product_then_its_kernel(monkeypatch):
    # A CPU without AVX-512 (or a library that could not be built): the library slot
    # holds None and every call takes Dot's path and the fused elementwise kernel.
    monkeypatch.setattr(dense, "_library", [None])
    for act in sorted(ACTS):
        f, w, b = _compiled(act)
        xv = np.random.default_rng(8).standard_normal((40, 200))
        want = _reference(xv, w.get_value(), b.get_value(), act)
        for _ in range(3):
            np.testing.assert_allclose(f(xv), want, rtol=1e-10, atol=1e-10)
        assert small.describe_kernel(_fast_fns(f)[0]) != "C dense kernel"
