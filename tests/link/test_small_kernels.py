"""Small calls in C (ckernels.small through the trampoline), vector math, softmax rows."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph as theano
import verigraph.tensor as T
from tests.link.helpers import small_kernels_built_in_the_call
from verigraph.checks.precision import loosest
from verigraph.checks.tolerance import compare
from verigraph.link.ckernels import codegen, compiler, small, trampoline
from verigraph.link.ckernels import softmax as softmax_kernels
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.fused_sum import FusedSum
from verigraph.tensor.nnet_ops import LogSoftmax, Softmax
from verigraph.tensor.type import TensorType

HAS_TRAMPOLINE = compiler.compiler() is not None and trampoline._flags() is not None
needs_c = pytest.mark.skipif(not HAS_TRAMPOLINE, reason="no C compiler or Python headers")

X, Y = ("i", 0), ("i", 1)
# The logistic-regression gradient's shape of chain: libm rows, arithmetic, a scalar input.
LOGISTIC = [("neg", (X,)), ("sigmoid", (("s", 0),)), ("sub", (("s", 1), Y)),
            ("mul", (("s", 2), ("i", 2))), ("softplus", (X,)), ("add", (("s", 3), ("s", 4)))]


@pytest.fixture(autouse=True)
def _built_on_first_call(tmp_path_factory, monkeypatch):
    """Kernels are built inside the first call, synchronously, into a per-session cache."""
    yield from small_kernels_built_in_the_call("vg-small", tmp_path_factory, monkeypatch)


def _node(steps, dtype, inplace=None):
    x = TensorType(dtype, (None,))("x")
    y = TensorType(dtype, (None,))("y")
    c = TensorType(dtype, (1,))("c")
    typed = [(name, refs, dtype) for name, refs in steps]
    return FusedElemwise(typed, inplace_input=inplace).make_node(x, y, c)


def _reference(node, values):
    store = [[None]]
    node.op.perform(node, [v.copy() for v in values], store)
    return store[0][0]


def _warm(fn, *args):
    """Call twice (the first builds the kernel, the second checks and adopts it)."""
    fn(*args)
    fn(*args)
    return fn.small_state


@needs_c
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_calls_run_in_c_and_match_reference(dtype):
    node = _node(LOGISTIC, dtype)
    fn = node.op.make_fast_fn(node)
    size = hst.integers(0, 700)

    @settings(max_examples=60, deadline=None)
    @given(size.flatmap(lambda n: hst.tuples(
        hnp.arrays(dtype, n, elements=hst.one_of(
            hst.floats(-40, 40, width=32 if dtype == "float32" else 64),
            hst.sampled_from([np.inf, -np.inf, np.nan, 0.0]))),
        hnp.arrays(dtype, n, elements=hst.floats(0, 1, width=32 if dtype == "float32" else 64)))),
        hst.floats(-3, 3, width=32 if dtype == "float32" else 64))
    def run(xy, c):
        x, y = xy
        cv = np.array([c], dtype)
        want = _reference(node, [x, y, cv])
        got = fn(x, y, cv)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert compare(got, want, loosest(node.op.working_dtypes())) is None, (x, y, c, got, want)
    _warm(fn, np.ones(4, dtype), np.ones(4, dtype), np.ones(1, dtype))
    assert type(fn.small_state[0]).__name__ == "Kernel", "the small kernel was not built"
    run()


@needs_c
def test_arguments_that_do_not_fit_fall_back_to_numpy():
    node = _node(LOGISTIC, "float64")
    fn = node.op.make_fast_fn(node)
    kernel = _warm(fn, np.ones(3), np.ones(3), np.ones(1))[0]
    x = np.linspace(-2, 2, 12)
    c = np.array([0.5])
    assert kernel(x[::2], x[:6], c) is None                       # not contiguous
    assert kernel(x.astype("float32"), x, c) is None              # another dtype
    assert kernel(x, x[:6], c) is None                            # shapes differ
    assert kernel(x, x, np.ones(2)) is None                       # "scalar" with two elements
    assert kernel(x, x) is None                                   # too few arguments
    np.testing.assert_allclose(fn(x[::2], x[1::2], c), _reference(node, [x[::2], x[1::2], c]))
    with pytest.raises(ValueError):
        fn(x, x[:6], c)                                           # NumPy's path raises


@needs_c
def test_inplace_small_kernel_writes_its_input():
    steps = [("mul", (X, ("i", 2))), ("sub", (Y, ("s", 0)))]
    node = _node(steps, "float64", inplace=1)
    fn = node.op.make_fast_fn(node)
    _warm(fn, np.ones(5), np.ones(5), np.ones(1))
    x, y = np.arange(6.0), np.full(6, 10.0)
    out = fn(x, y, np.array([2.0]))
    assert out is y
    np.testing.assert_array_equal(out, 10.0 - 2.0 * np.arange(6.0))


@needs_c
def test_fused_sum_small_calls():
    x = TensorType("float64", (None,))("x")
    c = TensorType("float64", (1,))("c")
    node = FusedSum([("sub", (X, Y), "float64"), ("sqr", (("s", 0),), "float64")],
                    "float64").make_node(x, c)
    fn = node.op.make_fast_fn(node)
    assert type(_warm(fn, np.ones(3), np.ones(1))[0]).__name__ == "Kernel"
    v = np.random.default_rng(0).standard_normal(500)
    got = fn(v, np.array([0.3]))
    assert type(got) is np.float64
    np.testing.assert_allclose(got, ((v - 0.3) ** 2).sum(), rtol=1e-13)


@needs_c
def test_compiled_function_switches_to_c_in_background(monkeypatch):
    monkeypatch.setattr(small, "BACKGROUND", True)
    monkeypatch.setattr(small, "SMALL_AFTER_CALLS", 3)
    x, y = T.dvector("x"), T.dvector("y")
    out = T.nnet.sigmoid(x) * y + T.nnet.softplus(-x)
    f = theano.function([x, y], out)
    xv, yv = np.linspace(-30, 30, 400), np.linspace(0, 1, 400)
    want = 1 / (1 + np.exp(-xv)) * yv + np.log1p(np.exp(-xv))
    for _ in range(5):
        np.testing.assert_allclose(f(xv, yv), want, rtol=1e-12)
    small.wait()
    np.testing.assert_allclose(f(xv, yv), want, rtol=1e-12)   # the checked first C call
    fns = f.maker.program.fns
    assert any(getattr(fn, "small_state", [None])[0] is not None for fn in fns), \
        "no node moved to C after the background build"
    np.testing.assert_allclose(f(xv, yv), want, rtol=1e-12)


@needs_c
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # the reference on inf - inf
@pytest.mark.parametrize("op_class", [Softmax, LogSoftmax])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_rows_in_c_match_reference(op_class, dtype):
    x = TensorType(dtype, (None, None))("x")
    node = op_class(axis=-1).make_node(x)
    fn = node.op.make_fast_fn(node)
    assert type(_warm(fn, np.ones((2, 3), dtype))[0]).__name__ == "Kernel"
    width = 32 if dtype == "float32" else 64

    def check(v):
        store = [[None]]
        node.op.perform(node, [v.copy()], store)
        want = store[0][0]
        got = fn(v)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert compare(got, want, dtype) is None, (v, got, want)
    # Found by hypothesis: 1 + 23 tiny terms summed in float32 drifted by 8 ulps of 1.
    check(np.array([[17.0] + [2.0] * 23], dtype))
    settings(max_examples=60, deadline=None)(given(hnp.arrays(
        dtype, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=70),
        elements=hst.one_of(hst.floats(-80, 80, width=width),
                            hst.sampled_from([np.inf, -np.inf, np.nan]))))(check))()


@needs_c
def test_softmax_other_axes_and_layouts_stay_on_numpy():
    x = T.tensor3("x")
    f = theano.function([x], Softmax(axis=1)(x))
    v = np.random.default_rng(2).standard_normal((3, 4, 5))
    e = np.exp(v - v.max(axis=1, keepdims=True))
    for _ in range(3):
        np.testing.assert_allclose(f(v), e / e.sum(axis=1, keepdims=True), rtol=1e-13)
    node = Softmax(axis=-1).make_node(TensorType("float64", (None, None))("m"))
    fn = node.op.make_fast_fn(node)
    kernel = _warm(fn, np.ones((2, 2)))[0]
    m = np.random.default_rng(3).standard_normal((6, 8))
    assert kernel(m[:, ::2], 4) is None                 # not contiguous: the NumPy kernel
    np.testing.assert_allclose(fn(m[:, ::2]), softmax_kernels_reference(m[:, ::2]), rtol=1e-13)


def softmax_kernels_reference(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@needs_c
def test_vector_math_build_calls_libmvec():
    if not compiler.vector_math():
        pytest.skip("no libmvec on this platform: kernels use scalar libm")
    # float32 rows call libmvec's expf (float64 rows use the inline vg_exp_d instead).
    kernel = softmax_kernels.kernel("softmax", "float32")
    path = compiler.library(kernel.source)
    assert path is not None
    with open(path, "rb") as f:
        assert b"_ZGV" in f.read(), "the exp loop was not vectorized with libmvec"


def test_trampoline_source_fits_the_packed_entry():
    node = _node(LOGISTIC, "float64")
    kernel = codegen.plan(node.op, node)
    assert f"void {kernel.entry}_packed(vg_int n, void **a)" in kernel.source
    assert trampoline.kinds_of(kernel) == [trampoline.KIND_FULL, trampoline.KIND_FULL,
                                           trampoline.KIND_FLOAT]


@needs_c
def test_built_on_first_call_runs_c_from_the_second_call(monkeypatch):
    monkeypatch.setattr(small, "SMALL_AFTER_CALLS", 64)
    monkeypatch.setattr(small, "BACKGROUND", True)
    x = T.dvector("x")
    with small.built_on_first_call():
        f = theano.function([x], T.exp(-x) * 2 + x)
    assert (small.SMALL_AFTER_CALLS, small.BACKGROUND) == (64, True)   # restored
    fns = [fn for fn in f.maker.program.fns if hasattr(fn, "small_state")]
    assert fns and all(fn.small_state[0] is None for fn in fns)
    v = np.linspace(-3, 3, 50)
    f(v)                                   # builds, synchronously
    assert all(fn.small_state[2] is not None for fn in fns)
    np.testing.assert_allclose(f(v), np.exp(-v) * 2 + v, rtol=1e-14)
    assert all(fn.small_state[0] is not None for fn in fns)   # adopted without a NumPy re-run


@needs_c
def test_debugmode_checks_the_small_c_kernels(monkeypatch):
    """A planted bug in the C form of `add` is caught by DebugMode from the second call."""
    from verigraph.checks.errors import BadThunkOutput
    monkeypatch.setattr(small, "SMALL_AFTER_CALLS", 64)      # DebugMode must not wait for 64
    monkeypatch.setitem(codegen.INFIX, "add", "-")          # C kernels now subtract
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], T.exp(x) * 2 + y, mode="DebugMode")
    v = np.linspace(-1, 1, 30)
    np.testing.assert_allclose(f(v, v), np.exp(v) * 2 + v)   # first call: NumPy kernels
    with pytest.raises(BadThunkOutput):
        f(v, v)                                              # second call: the C kernel


def test_without_python_headers_small_calls_stay_on_numpy(monkeypatch):
    """No Python.h (or no compiler): nothing is built, results come from NumPy, no error."""
    monkeypatch.setattr(trampoline, "_flags", lambda: None)
    monkeypatch.setattr(trampoline, "_module", [])
    node = _node(LOGISTIC, "float64")
    fn = node.op.make_fast_fn(node)
    x, y, c = np.linspace(-5, 5, 40), np.linspace(0, 1, 40), np.array([0.5])
    for _ in range(3):
        np.testing.assert_allclose(fn(x, y, c), _reference(node, [x, y, c]), rtol=1e-12)
    assert fn.small_state[0] is None
    assert trampoline._module == [None]
    from verigraph.rewriting import fusion
    assert not fusion._c_kernels()      # and fusion stores shared steps instead of recomputing


@needs_c
def test_a_wrong_kernel_is_caught_at_the_switch_and_never_used(monkeypatch):
    """FAST_RUN checks a kernel's first call against NumPy: a planted bug warns, never answers."""
    monkeypatch.setitem(codegen.INFIX, "add", "-")          # C kernels now subtract
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], T.exp(x) * 2 + y)
    v = np.linspace(-1, 1, 30)
    want = np.exp(v) * 2 + v
    np.testing.assert_allclose(f(v, v), want)                 # builds the (wrong) kernel
    with pytest.warns(small.KernelMismatchWarning, match="disagrees with its NumPy kernel"):
        np.testing.assert_allclose(f(v, v), want)             # checked: NumPy's answer
    for _ in range(3):
        np.testing.assert_allclose(f(v, v), want)             # and NumPy from then on
    assert all(fn.small_state[0] is None for fn in f.maker.program.fns
               if hasattr(fn, "small_state"))


@needs_c
def test_switch_check_copies_the_destroyed_input():
    steps = [("mul", (X, ("i", 2))), ("sub", (Y, ("s", 0)))]
    node = _node(steps, "float64", inplace=1)
    fn = node.op.make_fast_fn(node)
    fn(np.ones(5), np.ones(5), np.ones(1))                    # builds
    x, y = np.arange(6.0), np.full(6, 10.0)
    out = fn(x, y, np.array([2.0]))                           # checked first C call
    assert fn.small_state[0] is not None
    assert out is y
    np.testing.assert_array_equal(out, 10.0 - 2.0 * np.arange(6.0))


@needs_c
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bias_tanh_small_calls_use_the_row_kernel(dtype):
    """`tanh(x @ W + b)`'s epilogue: the bias row goes through the trampoline too."""
    h, b = T.matrix(dtype=dtype), T.vector(dtype=dtype)
    f = theano.function([h, b], T.tanh(h + b))
    g = np.random.default_rng(4)
    for shape in [(5, 7), (30, 11), (2, 1)]:
        hv = g.standard_normal(shape).astype(dtype)
        bv = g.standard_normal(shape[1]).astype(dtype)
        want = np.tanh(hv + bv)
        for _ in range(3):                                    # build, check, run in C
            got = f(hv, bv)
            assert compare(got, want, dtype) is None
    fns = [fn for fn in f.maker.program.fns if hasattr(fn, "small_state")]
    assert fns and all(fn.small_state[0] is not None for fn in fns)
    kernel = fns[0].small_state[0]
    assert kernel(np.ones((3, 4), dtype), np.ones((1, 5), dtype)) is None   # wrong row
    with pytest.raises(ValueError):
        f(np.ones((3, 4), dtype), np.ones(5, dtype))          # NumPy's path raises


@needs_c
def test_trampoline_writes_into_a_given_output_and_softmax_reuses_its_buffer(monkeypatch):
    from verigraph.link import ckernels
    monkeypatch.setattr(ckernels, "MIN_SIZE", 64)
    node = Softmax(axis=-1).make_node(TensorType("float64", (None, None))("m"))
    fn = node.op.make_fast_fn(node)
    kernel = _warm(fn, np.ones((2, 3)))[0]
    m = np.random.default_rng(6).standard_normal((20, 10))
    out = np.empty((20, 10))
    assert kernel(m, 10, out) is out
    np.testing.assert_allclose(out, softmax_kernels_reference(m), rtol=1e-13)
    assert kernel(m, 10, np.empty((20, 10), "float32")) is None     # wrong dtype
    assert kernel(m, 10, np.empty((10, 20))) is None                # wrong shape
    first = fn(m)
    address = first.base.ctypes.data
    kept = fn(m)                                    # `first` alive: another buffer
    assert kept.base.ctypes.data != address
    del first
    third = fn(m)
    address = third.base.ctypes.data
    del third
    again = fn(m)                                   # a dropped result's buffer comes back
    assert again.base.ctypes.data == address
    np.testing.assert_allclose(again, softmax_kernels_reference(m), rtol=1e-13)
    np.testing.assert_allclose(kept, softmax_kernels_reference(m), rtol=1e-13)
