"""tensor.nnet against NumPy: sigmoid, softmax, log_softmax, relu and the cross-entropies."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import verigraph as vg
import verigraph.tensor as T
from verigraph.tensor import nnet

from ._strategies import FLOATS, MODES, assert_matches, sizes, tensor_var


def np_softmax(v, axis=-1):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(shape=hs.lists(sizes, min_size=1, max_size=3), dtype=hs.sampled_from(FLOATS),
       mode=hs.sampled_from(MODES), data=hs.data())
def test_softmax_and_log_softmax(shape, dtype, mode, data):
    axis = data.draw(hs.integers(-len(shape), len(shape) - 1))
    if 0 in shape:
        axis = -1
    v = (np.random.default_rng(0).normal(size=shape) * 5).astype(dtype)
    x = tensor_var(dtype, (None,) * len(shape))
    got = vg.function([x], [nnet.softmax(x, axis=axis), nnet.log_softmax(x, axis=axis)],
                      mode=mode)(v)
    want = np_softmax(v.astype("float64"), axis).astype(dtype) if v.size else v
    assert_matches(got[0], want)
    if v.size:
        assert_matches(got[1], np.log(np_softmax(v.astype("float64"), axis)).astype(dtype),
                       rtol=1e-4 if dtype == "float32" else 1e-9, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_softmax_is_stable_for_large_inputs(mode):
    x = T.dmatrix()
    v = np.array([[1000.0, 0.0, -1000.0], [-800.0, -800.0, -800.0]])
    sm, lsm = vg.function([x], [nnet.softmax(x), nnet.log_softmax(x)], mode=mode)(v)
    assert np.isfinite(sm).all() and np.isfinite(lsm).all()
    np.testing.assert_allclose(sm[1], [1 / 3] * 3)
    np.testing.assert_allclose(lsm[0], [0.0, -1000.0, -2000.0])


@settings(max_examples=30, deadline=None)
@given(n=sizes, dtype=hs.sampled_from(FLOATS), mode=hs.sampled_from(MODES))
def test_sigmoid_relu(n, dtype, mode):
    v = np.linspace(-30, 30, n).astype(dtype)
    x = tensor_var(dtype, (None,))
    got = vg.function([x], [nnet.sigmoid(x), nnet.relu(x), nnet.relu(x, 0.1),
                            nnet.softplus(x)], mode=mode)(v)
    assert_matches(got[0], (1 / (1 + np.exp(-v.astype("float64")))).astype(dtype))
    assert_matches(got[1], np.maximum(v, 0))
    assert_matches(got[2], np.where(v > 0, v, 0.1 * v).astype(dtype))
    assert_matches(got[3], np.log1p(np.exp(v.astype("float64"))).astype(dtype))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("label_dtype", ["int32", "int64"])
def test_categorical_crossentropy_int_labels_and_one_hot(mode, label_dtype):
    x = T.dmatrix("x")
    y = T.vector(dtype=label_dtype)
    oh = T.dmatrix("oh")
    p = nnet.softmax(x)
    f = vg.function([x, y, oh], [nnet.categorical_crossentropy(p, y),
                                 nnet.categorical_crossentropy(p, oh)], mode=mode)
    v = np.random.default_rng(3).normal(size=(4, 3))
    labels = np.array([0, 2, 1, 2], dtype=label_dtype)
    one_hot = np.eye(3)[labels]
    a, b = f(v, labels, one_hot)
    want = -np.log(np_softmax(v)[np.arange(4), labels])
    assert_matches(a, want)
    assert_matches(b, want)


def test_categorical_crossentropy_rejects_float_vector_labels():
    with pytest.raises(TypeError, match="int vector"):
        nnet.categorical_crossentropy(T.dmatrix(), T.dvector())


@pytest.mark.parametrize("mode", MODES)
def test_binary_crossentropy(mode):
    o, t = T.dvectors("o", "t")
    f = vg.function([o, t], nnet.binary_crossentropy(o, t), mode=mode)
    ov, tv = np.array([0.1, 0.5, 0.9]), np.array([0.0, 1.0, 1.0])
    assert_matches(f(ov, tv), -(tv * np.log(ov) + (1 - tv) * np.log(1 - ov)))
    fo = T.fvector()
    assert nnet.binary_crossentropy(fo, fo).dtype == "float32"


@pytest.mark.parametrize("shape", [(300, 400), (3, 70000), (70000, 2)])
def test_large_row_softmax_matches_numpy(shape):
    """Large and oddly shaped matrices: the fast path must equal NumPy."""
    import verigraph as vg
    import verigraph.tensor as T
    x = T.dmatrix("x")
    a = np.random.default_rng(3).standard_normal(shape) * 30
    want = np.exp(a - a.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    for mode in ("FAST_RUN", "DebugMode"):
        np.testing.assert_allclose(vg.function([x], T.nnet.softmax(x), mode=mode)(a), want,
                                   rtol=1e-12, atol=1e-300)
