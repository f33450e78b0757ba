"""Gemm (``z + alpha * dot(x, y)`` as one BLAS call), its BLAS binding and the rule making it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as vg
import verigraph.tensor as T
from verigraph.checks.errors import ShapeMismatchError
from verigraph.tensor import cblas
from verigraph.tensor.gemm import Gemm
from verigraph.tensor.type import TensorType
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired

needs_blas = pytest.mark.skipif(not cblas.functions(),
                                reason="NumPy's bundled OpenBLAS was not found on this platform")


def gemms(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Gemm)]


@needs_blas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("a_layout,b_layout", [("C", "C"), ("F", "C"), ("C", "F"), ("F", "F")])
def test_gemm_into_adds_the_product_for_every_layout(dtype, a_layout, b_layout):
    g = np.random.default_rng(1)
    a = np.asarray(g.standard_normal((5, 7)), dtype, order=a_layout)
    b = np.asarray(g.standard_normal((7, 3)), dtype, order=b_layout)
    c = g.standard_normal((5, 3)).astype(dtype)
    want = c + np.asarray(-0.25, dtype) * (a @ b)
    assert cblas.gemm_into(c, -0.25, a, b)
    np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == "float32" else 1e-12)


def test_gemm_into_refuses_what_blas_cannot_take():
    a, b = np.ones((4, 3)), np.ones((3, 4))
    c = np.zeros((4, 4))
    before = c.copy()
    assert not cblas.gemm_into(c, 1.0, a[:, ::2], b[::2])          # strided operands
    assert not cblas.gemm_into(c[:, ::2], 1.0, a, b[:, ::2])       # strided output
    assert not cblas.gemm_into(c, 1.0, a, np.ones((2, 4)))         # shapes do not chain
    assert not cblas.gemm_into(c, 1.0, a.astype("float32"), b)     # mixed dtypes
    square = np.ones((4, 4))
    assert not cblas.gemm_into(square, 1.0, square, square)        # output overlaps an input
    np.testing.assert_array_equal(c, before)


def test_op_checks_types_and_shapes():
    z, x = T.dmatrix("z"), T.dmatrix("x")
    with pytest.raises(TypeError, match="alpha must be a one-element float64"):
        Gemm()(z, T.dvector("a"), x, x)
    with pytest.raises(TypeError, match="x must be a matrix of z's dtype float64"):
        Gemm()(z, 1.0, T.fmatrix("x"), x)
    f = vg.function([z, x], Gemm()(z, np.float64(1.0), x, x), mode="FAST_RUN")
    with pytest.raises(ShapeMismatchError, match=r"z \(2, 2\), x \(3, 3\)"):
        f(np.zeros((2, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("blas", [True, False])
def test_rule_turns_the_update_form_into_gemm(monkeypatch, blas):
    if not blas:   # NumPy's dot plus two in-place ufuncs, as where no BLAS library is found
        monkeypatch.setattr(cblas, "gemm_into", lambda *a: False)
    z, x, y = T.fmatrices("z", "x", "y")
    lr = np.float32(0.1)
    f = compile_fast([z, x, y], [z - lr * T.dot(x.T, y), z + T.dot(x, y.T) * lr, T.dot(y, x) + z])
    assert fired(f, "local_gemm_accumulate")
    assert len(gemms(f)) == 3
    g = np.random.default_rng(2)
    zv, xv, yv = (g.standard_normal((4, 4)).astype("float32") for _ in range(3))
    assert_matches_reference(f, zv, xv, yv)


def test_rule_leaves_other_forms_alone():
    z, x, y = T.dmatrices("z", "x", "y")
    d = T.dot(x, y)
    f = compile_fast([z, x, y], [z - 0.5 * d, d])          # the product is also an output
    assert not gemms(f)
    zf, xf = T.fmatrix("zf"), T.fmatrix("xf")
    a64 = T.dscalar("a")
    f = compile_fast([zf, xf, a64], zf - a64 * T.dot(xf, xf))   # computed in float64
    assert f.maker.fgraph.outputs[0].dtype == "float64" and not gemms(f)
    row = T.TensorType("float64", (1, None))("row")
    f = compile_fast([row, x, y], row - T.dot(x, y))       # z broadcasts along rows
    assert not gemms(f)
    f = compile_fast([z, x, y], T.dot(x, y) - z)           # -z + a*dot is not this form
    assert not gemms(f)


@settings(max_examples=25, deadline=None)
@given(m=hst.integers(1, 6), k=hst.integers(0, 6), n=hst.integers(1, 6),
       dtype=hst.sampled_from(["float32", "float64"]), alpha=hst.floats(-3, 3),
       symbolic=hst.booleans(), seed=hst.integers(0, 2 ** 16))
def test_gemm_matches_the_reference_on_drawn_inputs(m, k, n, dtype, alpha, symbolic, seed):
    z, x, y = (TensorType(dtype, (None, None))(name) for name in "zxy")
    g = np.random.default_rng(seed)
    values = [g.standard_normal(s).astype(dtype) for s in ((m, n), (m, k), (k, n))]
    if symbolic:
        a = TensorType(dtype, ())("a")
        f = compile_fast([z, x, y, a], z - a * T.dot(x, y))
        values.append(np.asarray(alpha, dtype))
    else:
        f = compile_fast([z, x, y], z - np.asarray(alpha, dtype) * T.dot(x, y))
    assert gemms(f)
    kept = [v.copy() for v in values]
    assert_matches_reference(f, *values)
    for v, w in zip(values, kept):
        np.testing.assert_array_equal(v, w)   # user arguments are never overwritten


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transposed_left_products_with_few_columns_run_transposed(dtype):
    # dot(h.T, dz) with few output columns is computed as (dz.T @ h).T (BLAS's kernels
    # prefer wide outputs); the answer is the same product, whatever the route.
    from verigraph.tensor.blas import transposed_product
    g = np.random.default_rng(2)
    h = g.standard_normal((256, 500)).astype(dtype)
    dz = g.standard_normal((256, 10)).astype(dtype)
    got = transposed_product(h.T, dz)
    assert got is not None and got.shape == (500, 10)
    np.testing.assert_allclose(got, h.T.astype(np.float64) @ dz,
                               rtol=1e-4 if dtype == "float32" else 1e-10, atol=1e-3)
    # Not taken: a C-ordered left operand, wide outputs, tiny products, mixed dtypes.
    assert transposed_product(np.ascontiguousarray(h.T), dz) is None
    assert transposed_product(h.T, g.standard_normal((256, 17)).astype(dtype)) is None
    assert transposed_product(h[:4, :8].copy().T, dz[:4, :2].copy()) is None
    other = "float32" if dtype == "float64" else "float64"
    assert transposed_product(h.T, dz.astype(other)) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_and_gemm_of_a_transposed_left_operand_match_the_reference(dtype):
    # The weight-gradient shapes of an MLP's last layer: dot(h.T, dz), and the SGD update
    # W - lr * dot(h.T, dz) (a Gemm, in place into the shared W), on drawn sizes.
    h, dz = TensorType(dtype, (None, None))("h"), TensorType(dtype, (None, None))("dz")
    product = compile_fast([h, dz], T.dot(h.T, dz))
    w = vg.shared(np.zeros((1, 1), dtype), name="w")
    step = vg.function([h, dz], [], updates=[(w, w - np.asarray(0.1, dtype) * T.dot(h.T, dz))],
                       mode="FAST_RUN")
    assert gemms(step)

    @settings(max_examples=25, deadline=None)
    @given(hst.integers(1, 300), hst.integers(1, 120), hst.integers(1, 20),
           hst.integers(0, 2**32 - 1))
    def run(k, m, n, seed):
        g = np.random.default_rng(seed)
        hv = g.standard_normal((k, m)).astype(dtype)
        dzv = g.standard_normal((k, n)).astype(dtype)
        assert_matches_reference(product, hv, dzv)
        before = g.standard_normal((m, n)).astype(dtype)
        w.set_value(before)
        step(hv, dzv)
        want = before - 0.1 * (hv.T.astype(np.float64) @ dzv)
        scale = 1 + 0.1 * np.abs(hv.T) @ np.abs(dzv)
        rtol = 1e-5 if dtype == "float32" else 1e-12
        assert np.all(np.abs(w.get_value() - want) <= rtol * scale)
    run()
