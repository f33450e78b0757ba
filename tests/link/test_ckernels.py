"""The optional C backend for fused elementwise work (verigraph/link/ckernels) and FusedSum."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst
from hypothesis.extra import numpy as hnp

import verigraph as theano
import verigraph.tensor as T
from verigraph.checks.precision import loosest
from verigraph.checks.tolerance import compare
from verigraph.configparser import config
from verigraph.link import ckernels
from verigraph.link.ckernels import codegen, compiler, loader
from verigraph.tensor.fused import FusedElemwise
from verigraph.tensor.fused_sum import FusedSum
from verigraph.tensor.type import TensorType

HAS_CC = compiler.compiler() is not None
needs_cc = pytest.mark.skipif(not HAS_CC, reason="no C compiler on this machine")

# name -> (steps over inputs x = ("i", 0), y = ("i", 1)); every row the backend maps.
X, Y = ("i", 0), ("i", 1)
CHAINS = {
    # Exact IEEE operations and selections: the C kernel is bit-for-bit NumPy's.
    "exact": [("add", (X, Y)), ("sub", (("s", 0), X)), ("mul", (("s", 1), Y)),
              ("true_div", (("s", 2), X)), ("neg", (("s", 3),)), ("abs", (("s", 4),)),
              ("sqr", (("s", 5),)), ("maximum", (("s", 6), Y)), ("minimum", (("s", 7), X)),
              ("sqrt", (("s", 8),)), ("lt", (X, Y)), ("switch", (("s", 10), ("s", 9), Y)),
              ("sign", (X,)), ("mul", (("s", 11), ("s", 12)))],
    # libm rows, combined by products (relative errors add, never amplify).
    "libm_a": [("exp", (X,)), ("tanh", (Y,)), ("mul", (("s", 0), ("s", 1))),
               ("sigmoid", (X,)), ("mul", (("s", 2), ("s", 3))), ("softplus", (Y,)),
               ("mul", (("s", 4), ("s", 5))), ("expm1", (X,)), ("mul", (("s", 6), ("s", 7)))],
    "libm_b": [("abs", (X,)), ("log1p", (("s", 0),)), ("sin", (Y,)), ("mul", (("s", 1), ("s", 2))),
               ("cos", (X,)), ("mul", (("s", 3), ("s", 4))), ("log", (("s", 0),)),
               ("mul", (("s", 5), ("s", 6))), ("tan", (Y,)), ("mul", (("s", 7), ("s", 8)))],
}
POW = [("abs", (X,)), ("pow", (("s", 0), Y))]
SQDEV = [("sub", (X, Y)), ("sqr", (("s", 0),))]


@pytest.fixture(autouse=True)
def _c_setup(tmp_path_factory, monkeypatch):
    """Every size uses C, expensive rows too; one kernel cache for the whole file."""
    cache = tmp_path_factory.getbasetemp() / "vg-kernels"
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(cache))
    monkeypatch.setattr(ckernels, "MIN_SIZE", 0)
    monkeypatch.setattr(ckernels, "MAX_EXPENSIVE_SHARE", 1.0)
    monkeypatch.setattr(ckernels, "ROW_MIN_COLS", 0)
    with config.change_flags(c_kernels=True):
        yield


def _with_dtypes(steps, dtype):
    return [(name, refs, "bool" if name == "lt" else dtype) for name, refs in steps]


def _node(steps, dtype, y_scalar=False, inplace=None):
    x = TensorType(dtype, (None, None))("x")
    y = TensorType(dtype, (1, 1) if y_scalar else (None, None))("y")
    return FusedElemwise(_with_dtypes(steps, dtype), inplace_input=inplace).make_node(x, y)


def _reference(node, values):
    store = [[None]]
    node.op.perform(node, values, store)
    return store[0][0]


def _check(node, fast, values, dtype):
    want = _reference(node, [v.copy() for v in values])
    got = fast(*values)
    assert got.dtype == want.dtype and got.shape == want.shape
    bad = compare(got, want, loosest(node.op.working_dtypes()))
    assert bad is None, (bad, values, got, want)


def _specials(dtype, lo, hi):
    finite = hst.floats(lo, hi, width=32 if dtype == "float32" else 64)
    return hst.one_of(finite, finite, finite, hst.sampled_from([np.inf, -np.inf, np.nan, 0.0]))


def _pair(dtype, lo, hi, y_scalar=False):
    shapes = hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=9)
    elements = _specials(dtype, lo, hi)
    return shapes.flatmap(lambda s: hst.tuples(
        hnp.arrays(dtype, s, elements=elements),
        hnp.arrays(dtype, (1, 1) if y_scalar else s, elements=elements)))


def _fast(node):
    fn = node.op.make_fast_fn(node)
    assert hasattr(fn, "c_source"), "expected a C kernel for this chain"
    return fn


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_c_kernel_matches_reference(chain, dtype):
    node = _node(CHAINS[chain], dtype)
    fast = _fast(node)
    lo, hi = (-1e3, 1e3) if chain == "exact" else (-20, 20)

    @settings(max_examples=40, deadline=None)
    @given(_pair(dtype, lo, hi))
    def run(pair):
        _check(node, fast, list(pair), dtype)
    run()
    assert loader.load(codegen.plan(node.op, node)) is not None


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_scalar_input_and_pow(dtype):
    node = _node(POW, dtype, y_scalar=True)
    fast = _fast(node)

    @settings(max_examples=40, deadline=None)
    @given(_pair(dtype, -4, 4, y_scalar=True))
    def run(pair):
        _check(node, fast, list(pair), dtype)
    run()


@needs_cc
def test_exact_chain_is_bit_for_bit():
    node = _node(CHAINS["exact"], "float64")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 70)), rng.standard_normal((300, 70))
    np.testing.assert_array_equal(_fast(node)(x, y), _reference(node, [x, y]))


@needs_cc
def test_non_contiguous_and_inplace():
    node = _node(SQDEV, "float64")
    fast = _fast(node)
    x = np.arange(40.0).reshape(5, 8)
    y = np.ones((8, 5)).T                      # not C-contiguous: NumPy kernel
    np.testing.assert_array_equal(fast(x, y), (x - y) ** 2)
    inode = _node(SQDEV, "float64", inplace=0)
    x2 = x.copy()
    out = _fast(inode)(x2, np.full((5, 8), 2.0))
    assert out is x2
    np.testing.assert_array_equal(out, (x - 2.0) ** 2)


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_sum_matches_reference(dtype):
    x = TensorType(dtype, (None, None))("x")
    y = TensorType(dtype, (1, 1))("y")
    node = FusedSum(_with_dtypes(SQDEV, dtype), dtype).make_node(x, y)
    fast = _fast(node)

    @settings(max_examples=40, deadline=None)
    @given(hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=40),
           hst.booleans(), hst.sampled_from([np.inf, np.nan, 1.5]))
    def run(shape, special, value):
        rng = np.random.default_rng(shape[0] * 100 + shape[1])
        a = rng.standard_normal(shape).astype(dtype) * 10
        if special and a.size:
            a.flat[a.size // 2] = value
        m = np.full((1, 1), 0.25, dtype)
        want = _reference(node, [a, m])
        got = fast(a, m)
        assert got.dtype == np.dtype(dtype)
        assert compare(np.asarray(got), want, dtype) is None, (got, want)
    run()


def test_sum_rewrite_and_values():
    a = T.dmatrix("a")
    out = ((a - a.mean()) ** 2).sum()
    f = theano.function([a], out)
    assert any(isinstance(n.op, FusedSum) for n in f.maker.fgraph.toposort())
    v = np.random.default_rng(1).standard_normal((300, 200))
    np.testing.assert_allclose(f(v), ((v - v.mean()) ** 2).sum(), rtol=1e-12)
    # A chain with another consumer keeps its Sum.
    sq = (a - 1) ** 2
    g = theano.function([a], [sq.sum(), sq])
    assert not any(isinstance(n.op, FusedSum) for n in g.maker.fgraph.toposort())
    r = g(v)
    np.testing.assert_allclose(r[0], ((v - 1) ** 2).sum(), rtol=1e-12)


def test_flag_off_uses_numpy_kernel():
    node = _node(SQDEV, "float64")
    with config.change_flags(c_kernels=False):
        fn = node.op.make_fast_fn(node)
    assert not hasattr(fn, "c_source")
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(fn(x, x + 1), np.ones((2, 3)))


def test_missing_compiler_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiler, "COMPILER", str(tmp_path / "no-such-cc"))
    monkeypatch.setattr(loader, "_loaded", {})
    node = _node(SQDEV, "float64")
    fn = node.op.make_fast_fn(node)
    x = np.arange(6.0).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(2):
            np.testing.assert_array_equal(fn(x, x - 1), np.ones((2, 3)))
    assert loader._loaded and all(v is None for v in loader._loaded.values())
    assert not any(p.suffix == ".so" for p in tmp_path.rglob("*"))


@needs_cc
def test_compile_error_is_remembered(monkeypatch, tmp_path):
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path))
    calls = []
    real = compiler.subprocess.run
    monkeypatch.setattr(compiler.subprocess, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert compiler.library("this is not C;") is None
    assert compiler.library("this is not C;") is None
    # Once per build variant (with vector math, then plain), never again.
    assert len(calls) == len(compiler.variants())


@needs_cc
def test_cache_is_reused(monkeypatch, tmp_path):
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path))
    source = "double vg_probe(double x) { return x + 1.0; }\n"
    path = compiler.library(source)
    assert path is not None and os.path.dirname(path) == os.path.join(str(tmp_path), "kernels")
    flags, libs = compiler.variants()[0]
    assert os.path.basename(path) == compiler.key(source, compiler.compiler(), flags, libs) + ".so"

    def no_compiling(*a, **k):
        raise AssertionError("compiled again instead of using the cache")
    monkeypatch.setattr(compiler.subprocess, "run", no_compiling)
    assert compiler.library(source) == path


@needs_cc
def test_large_outputs_are_reused_only_when_dropped():
    x, y = T.dvector("x"), T.dvector("y")
    f = theano.function([x, y], (x + y) * x - y * 0.5)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(20000), rng.standard_normal(20000)
    kept = [f(a, b * k) for k in range(3)]          # live results: each its own memory
    for k, r in enumerate(kept):
        np.testing.assert_array_equal(r, (a + b * k) * a - (b * k) * 0.5)
    assert len({r.base.ctypes.data for r in kept}) == 3
    first = f(a, b)
    address = first.base.ctypes.data
    del first                                       # dropped: the next call may write there
    again = f(a, b)
    assert again.base.ctypes.data == address
    assert again.ctypes.data % 64 == a.ctypes.data % 64   # the inputs' offset: aligned loop


@needs_cc
def test_stale_build_directories_are_swept(monkeypatch, tmp_path):
    monkeypatch.setenv("VERIGRAPH_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiler, "_swept", set())
    kernels = tmp_path / "kernels"
    stale, fresh = kernels / "build-stale", kernels / "build-fresh"
    stale.mkdir(parents=True)
    fresh.mkdir()
    (stale / "kernel.c").write_text("left over")
    old = os.path.getmtime(stale) - compiler.STALE_BUILD_SECONDS - 10
    os.utime(stale, (old, old))
    assert compiler.library("double vg_probe2(double x) { return x * 2.0; }\n") is not None
    assert not stale.exists() and fresh.exists()      # a recent one may be a live build


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tanh_kernel_is_within_a_few_ulps_and_keeps_specials(dtype):
    node = _node([("tanh", (X,))], dtype)
    fast = _fast(node)
    g = np.random.default_rng(3)
    v = np.concatenate([g.standard_normal(20000) * 3, g.standard_normal(5000) * 1e-4,
                        g.uniform(-30, 30, 5000), g.uniform(0, 21, 20000),
                        [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300,
                                                   -1e-30, 20.0, 19.0, 9.0, 8.9]])
    bound = 4
    if dtype == "float32":
        # The rational form's worst cases lie where tanh is close to 1 (6.26 ulp at
        # 6.76395464 in the exhaustive check); every float32 between 5 and 9.1 with a
        # step of 2**-17, and the correctly rounded value as reference.
        v = np.concatenate([v, np.arange(5, 9.1, 2.0 ** -17), [6.76395464, 9.02, 9.0201]])
        bound = 6.3
    v = v.astype(dtype)[None, :]
    got = fast(v, v)
    want = np.tanh(v.astype("float64")).astype(dtype) if dtype == "float32" else np.tanh(v)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.signbit(got), np.signbit(want))     # -0 stays -0
    ok = ~np.isnan(want)
    ulp = np.spacing(np.abs(want[ok])).astype("float64")
    err = np.abs(got[ok].astype("float64") - want[ok]) / ulp
    assert err.max() <= bound, (err.max(), v[0][ok[0]][err.argmax()])


@needs_cc
def test_inline_float64_exp_is_within_one_ulp_and_keeps_specials():
    # vg_exp_d (the float64 softmax rows' exp): over the whole finite range, the subnormal
    # results below -708.4, the edges of overflow, and the specials.
    import ctypes
    source = (codegen.PROLOGUE + codegen._helpers()
              + "VG_CLONES void vg_probe_exp(vg_int n, const double *x, double *out) {\n"
                "    VG_SIMD\n    for (vg_int i = 0; i < n; i++) out[i] = vg_exp_d(x[i]);\n}\n")
    path = compiler.library(source)
    assert path is not None
    fn = ctypes.CDLL(path).vg_probe_exp
    fn.argtypes = [ctypes.c_longlong, ctypes.c_void_p, ctypes.c_void_p]
    g = np.random.default_rng(11)
    v = np.concatenate([g.uniform(-750, 712, 200000), g.standard_normal(50000),
                        g.uniform(-745.2, -708, 50000), g.uniform(700, 709.78, 20000),
                        [0.0, -0.0, 1e-300, -1e-300, 709.782712893384, 709.7827128933841, 710.0,
                         -708.3964185322641, -745.1332191019411, -745.1332191019412, -745.2,
                         -746.0, np.inf, -np.inf, np.nan]])
    got = np.empty_like(v)
    fn(v.size, v.ctypes.data, got.ctypes.data)
    with np.errstate(over="ignore"):
        want = np.exp(v.astype(np.longdouble))
        want64 = np.exp(v)
    assert np.array_equal(np.isnan(got), np.isnan(v))
    big = ~np.isfinite(want64) & ~np.isnan(v)
    assert np.array_equal(got[big], want64[big])                  # inf where exp overflows
    ok = np.isfinite(want64)
    # In ulps of the float64 result (subnormal results: in subnormal ulps).
    diff = (got[ok].astype(np.longdouble) - want[ok]).astype(np.float64)
    err = np.abs(diff) / np.spacing(want64[ok])
    assert err.max() <= 1.0, (err.max(), v[ok][err.argmax()])
    assert got[v == -746.0][0] == 0.0 and got[v == -np.inf][0] == 0.0


ROWS = [("add", (X, Y)), ("tanh", (("s", 0),)), ("mul", (("s", 1), Y)), ("sub", (("s", 2), X))]


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ndim,row_axis", [(2, 1), (3, 1), (3, 2)])
def test_row_inputs_run_in_c_and_match_reference(dtype, ndim, row_axis):
    """A bias broadcast along leading axes (``x @ W + b``) is a row input of the C kernel."""
    x = TensorType(dtype, (None,) * ndim)("x")
    b = TensorType(dtype, (1,) * row_axis + (None,) * (ndim - row_axis))("b")
    node = FusedElemwise(_with_dtypes(ROWS, dtype)).make_node(x, b)
    kernel = codegen.plan(node.op, node)
    assert kernel.kinds == ["full", "row"] and kernel.row_axis == row_axis
    fast = _fast(node)
    width = 32 if dtype == "float32" else 64

    @settings(max_examples=40, deadline=None)
    @given(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=0, max_side=7),
           hst.integers(0, 2 ** 16))
    def run(shape, seed):
        g = np.random.default_rng(seed)
        xv = (g.standard_normal(shape) * 4).astype(dtype)
        bv = (g.standard_normal((1,) * row_axis + shape[row_axis:]) * 4).astype(dtype)
        if xv.size:
            xv.flat[0] = g.choice([np.inf, -np.inf, np.nan, -0.0])
        _check(node, fast, [xv, bv], dtype)
    run()
    # A row input of the wrong shape is NumPy's to reject, as without C.
    xv = np.ones((3,) * ndim, dtype)
    bad = np.ones((1,) * row_axis + (4,) * (ndim - row_axis), dtype)
    with pytest.raises(ValueError):
        fast(xv, bad)


def test_rows_from_different_axes_or_without_a_full_input_are_not_planned():
    x = TensorType("float64", (None, None, None))("x")
    b1 = TensorType("float64", (1, None, None))("b1")
    b2 = TensorType("float64", (1, 1, None))("b2")
    node = FusedElemwise([("add", (X, Y), "float64"), ("add", (("s", 0), ("i", 2)), "float64")]
                         ).make_node(x, b1, b2)
    with pytest.raises(codegen.Unsupported, match="different axes"):
        codegen.plan(node.op, node)
    col = TensorType("float64", (None, 1))("col")      # broadcast along trailing axes: no
    m = TensorType("float64", (None, None))("m")
    node = FusedElemwise([("add", (X, Y), "float64")]).make_node(m, col)
    with pytest.raises(codegen.Unsupported):
        codegen.plan(node.op, node)


@needs_cc
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_streaming_stores_write_the_same_bits(dtype, monkeypatch):
    # Large outputs are computed a cache line at a time and written with non-temporal
    # stores; with the
    # threshold lowered, every length (blocks, the unaligned head, the tail) and every
    # input offset is reachable on small arrays.
    monkeypatch.setattr(codegen, "STREAM_MIN_BYTES", 256)
    node = _node(CHAINS["exact"], dtype)
    assert "vg_stream_lines" in codegen.plan(node.op, node).source
    fast = _fast(node)
    inplace = _node(SQDEV, dtype, inplace=0)      # reads x through the output: no streaming
    assert "vg_stream_lines" not in codegen.plan(inplace.op, inplace).source
    rng = np.random.default_rng(7)
    base = rng.standard_normal((2, 9000)).astype(dtype)

    @settings(max_examples=60, deadline=None)
    @given(hst.integers(1, 8000), hst.integers(0, 7), hst.integers(0, 7))
    def run(n, off_x, off_y):
        x = base[0, off_x:off_x + n].reshape(1, n)
        y = base[1, off_y:off_y + n].reshape(1, n)
        np.testing.assert_array_equal(fast(x, y), _reference(node, [x, y]))
    run()


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f
                         if line.startswith("flags")), set())
    except OSError:
        return set()


_LEVEL_FLAGS = {4: {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma"},
                3: {"avx2", "fma"}, 1: set()}


@needs_cc
@pytest.mark.parametrize("level", [4, 3, 1])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_every_streaming_level_computes_the_chain(chain, level, dtype, monkeypatch):
    # The streaming loop exists once per instruction-set level (its own store width and
    # vector width, libmvec's variant for it) and the CPU picks one; each level this CPU
    # can run is forced here in turn, over lengths and input offsets that reach the
    # unaligned head, whole lines and the tail. Exact rows give NumPy's bits; libm rows
    # agree at the kernels' tolerance.
    if not _LEVEL_FLAGS[level] <= _cpu_flags():
        pytest.skip(f"this CPU cannot run the level-{level} copy")
    monkeypatch.setattr(codegen, "STREAM_MIN_BYTES", 256)
    node = _node(CHAINS[chain], dtype)
    kernel = codegen.plan(node.op, node)
    chooser = "int level = vg_isa_level();"
    assert chooser in kernel.source
    kernel.source = kernel.source.replace(chooser, f"int level = {level};")
    fn = loader.load(kernel)
    assert fn is not None
    rng = np.random.default_rng(level)
    base = rng.standard_normal((2, 3008)).astype(dtype)
    for n in (1, 7, 33, 64, 65, 100, 257, 1000, 2999):
        for off in range(0, 8, 3):
            x, y = base[0, off:off + n], base[1, :n]
            out = np.full(n, np.nan, dtype)
            fn(n, x.ctypes.data, y.ctypes.data, out.ctypes.data)
            want = _reference(node, [x.reshape(1, n), y.reshape(1, n)]).reshape(n)
            if chain == "exact":
                np.testing.assert_array_equal(out, want)
            else:
                assert compare(out, want, loosest(node.op.working_dtypes())) is None, (n, off)


def test_float32_tanh_is_not_counted_as_a_libm_call():
    # vg_tanh_f is plain arithmetic, so a float32 chain with tanh runs in C even without
    # libmvec; float64 tanh counts as a libm step (plain FMA arithmetic only in the
    # x86-64 instruction-set copies, libm's tanh elsewhere).
    n32, n64 = _node([("tanh", (X,))], "float32"), _node([("tanh", (X,))], "float64")
    assert codegen.plan(n32.op, n32).expensive == 0
    assert codegen.plan(n64.op, n64).expensive == 1


@needs_cc
def test_short_rows_stay_on_numpy(monkeypatch):
    # One vector loop per row is slow for rows of a few elements: those calls run NumPy.
    monkeypatch.setattr(ckernels, "ROW_MIN_COLS", 16)
    x = TensorType("float64", (None, None))("x")
    b = TensorType("float64", (1, None))("b")
    node = FusedElemwise(_with_dtypes(ROWS, "float64")).make_node(x, b)
    c_call = ckernels.large_path(node.op, node)
    g = np.random.default_rng(4)
    assert c_call(g.standard_normal((50, 3)), g.standard_normal((1, 3))) is None
    xv, bv = g.standard_normal((50, 16)), g.standard_normal((1, 16))
    _check(node, lambda *a: c_call(*a), [xv, bv], "float64")


@needs_cc
@pytest.mark.skipif(not compiler.vector_math(), reason="no libmvec on this machine")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_lone_rows_that_win_in_c_become_kernels_and_agree(dtype):
    # A lone sin/sqrt/... becomes a one-step FusedElemwise whose calls run the C loop;
    # rows where NumPy's ufunc is as fast (exp) stay plain Elemwise nodes, and so does
    # every row with the C kernels off.
    x = T.matrix("x", dtype=dtype)
    v = np.random.default_rng(5).uniform(0.05, 1.5, (300, 200)).astype(dtype)
    for name in sorted(ckernels.LONE_ROWS[dtype]):
        f = theano.function([x], getattr(T, name)(x), mode="FAST_RUN")
        op = f.maker.fgraph.toposort()[0].op
        assert [type(n.op).__name__ for n in f.maker.fgraph.toposort()] == ["FusedElemwise"]
        assert [s[0] for s in op.steps] == [name]
        want = getattr(np, name)(v.astype("float64"))
        assert compare(f(v), want.astype(dtype), loosest([dtype])) is None, name
    exp = theano.function([x], T.exp(x), mode="FAST_RUN")
    assert [type(n.op).__name__ for n in exp.maker.fgraph.toposort()] == ["Elemwise"]
    with config.change_flags(c_kernels=False):
        sin = theano.function([x], T.sin(x), mode="FAST_RUN")
    assert [type(n.op).__name__ for n in sin.maker.fgraph.toposort()] == ["Elemwise"]
