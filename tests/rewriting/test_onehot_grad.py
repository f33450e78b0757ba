"""The cross-entropy gradient against integer labels as one node (``local_log_softmax_onehot_grad``)
and ``MakeVector(...)[i]`` answered by the entry (``local_subtensor_make_vector``)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import verigraph as vg
import verigraph.tensor as T
from verigraph.tensor import nnet
from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad
from tests.rewriting.helpers import assert_matches_reference, compile_fast, fired, op_names

FAST = settings(max_examples=30, deadline=None)
RULE = "local_log_softmax_onehot_grad"


def _nll_grad(dtype, label_dtype, rows_of="labels", reduce="mean"):
    z = T.matrix("z", dtype=dtype)
    y = T.vector("y", dtype=label_dtype)
    rows = T.arange((y if rows_of == "labels" else z).shape[0])
    picked = T.log(nnet.softmax(z))[rows, y]
    cost = -(T.mean(picked) if reduce == "mean" else T.sum(picked))
    return z, y, cost, vg.grad(cost, z)


def _onehot_nodes(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, LogSoftmaxOneHotGrad)]


def test_fires_on_the_cross_entropy_gradient_and_drops_the_zero_matrix():
    z, y, cost, g = _nll_grad("float64", "int64")
    f = compile_fast([z, y], [cost, g])
    assert fired(f, RULE)
    assert fired(f, "local_pick_labels") and fired(f, "local_onehot_grad_label_rows")
    nodes = _onehot_nodes(f)
    assert len(nodes) == 1 and nodes[0].op.label_rows
    names = op_names(f)
    # the zeros, their increment, the row sums and the shape nodes the zeros needed are
    # gone, and so is the row range (both nodes take it from the labels' length)
    assert not any(n.startswith(("Alloc", "IncSubtensor", "ShapeGuard", "ARange",
                                 "AdvancedSubtensor")) for n in names), names
    assert sum(n == "PickLabels" for n in names) == 1
    zv = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    yv = np.array([2, 0])
    p = np.exp(zv - zv.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = p.copy()
    want[[0, 1], yv] -= 1
    np.testing.assert_allclose(f(zv, yv)[1], want / 2, rtol=1e-13, atol=1e-16)


@FAST
@given(n=hst.integers(1, 17), k=hst.integers(1, 12), data=hst.data(),
       dtype=hst.sampled_from(["float32", "float64"]),
       label_dtype=hst.sampled_from(["int32", "int64", "uint8"]),
       rows_of=hst.sampled_from(["labels", "logits"]), reduce=hst.sampled_from(["mean", "sum"]))
def test_matches_the_reference_on_drawn_shapes_and_labels(n, k, data, dtype, label_dtype,
                                                         rows_of, reduce):
    z, y, cost, g = _nll_grad(dtype, label_dtype, rows_of, reduce)
    f = compile_fast([z, y], [cost, g])
    assert fired(f, RULE)
    # rows = arange(len(y)): the pick and the gradient take the rows from the labels
    assert fired(f, "local_pick_labels") == fired(f, "local_onehot_grad_label_rows") == \
        (rows_of == "labels")
    low = 0 if label_dtype == "uint8" else -k     # negative labels count from the end
    zv = np.asarray(data.draw(hst.lists(hst.floats(-30, 30), min_size=n * k, max_size=n * k)),
                    dtype).reshape(n, k)
    yv = np.asarray(data.draw(hst.lists(hst.integers(low, k - 1), min_size=n, max_size=n)),
                    label_dtype)
    for _ in range(2):        # the first call is cross-checked, the second is not
        assert_matches_reference(f, zv, yv)


@pytest.mark.parametrize("label", [3, -4])
def test_a_label_out_of_range_raises_the_index_error(label):
    z, y, cost, g = _nll_grad("float64", "int64")
    f = compile_fast([z, y], g)
    zv = np.zeros((2, 3))
    f(zv, np.array([0, 1]))
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        f(zv, np.array([0, label]))


def test_fewer_labels_than_rows_raises_as_the_original_does():
    # rows = arange(z.shape[0]) has 3 entries, y 2: the indexing cannot broadcast them.
    z, y, cost, g = _nll_grad("float64", "int64", rows_of="logits")
    fast = compile_fast([z, y], g)
    slow = vg.function([z, y], g, mode="FAST_COMPILE")
    args = (np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(Exception) as want:
        slow(*args)
    with pytest.raises(type(want.value)):
        fast(*args)


def test_rows_of_the_logits_keep_the_row_input():
    # categorical_crossentropy ranges over the coding matrix's rows, not the labels'
    z, y = T.dmatrix("z"), T.lvector("y")
    cost = T.mean(nnet.categorical_crossentropy(nnet.softmax(z), y))
    f = compile_fast([z, y], [cost, vg.grad(cost, z)])
    assert fired(f, RULE) and not fired(f, "local_pick_labels")
    assert not _onehot_nodes(f)[0].op.label_rows
    assert_matches_reference(f, np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 3.0]]),
                             np.array([1, 0, -1]))


def test_pick_labels_raises_the_index_errors():
    x, y = T.dmatrix("x"), T.lvector("y")
    f = compile_fast([x, y], x[T.arange(y.shape[0]), y])
    assert fired(f, "local_pick_labels")
    xv = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(f(xv, np.array([1, -1])), [1.0, 3.0])
    with pytest.raises(IndexError, match=r"shape \(3, 2\)"):
        f(xv, np.array([0, 2]))
    with pytest.raises(IndexError, match=r"shape \(3, 2\)"):
        f(xv, np.array([0, 0, 0, 0]))


def test_pick_labels_shape_is_read_from_the_value():
    # no infer_shape: asking the length of a pick that fails raises instead of answering
    x, y = T.dmatrix("x"), T.lvector("y")
    f = compile_fast([x, y], x[T.arange(y.shape[0]), y].shape)
    assert int(f(np.zeros((3, 2)), np.array([1, 0]))[0]) == 2
    with pytest.raises(IndexError):
        f(np.zeros((3, 2)), np.array([2, 0]))


def _op_call(values, logsm, rows, labels):
    v, ls = T.vector("v", dtype=values.dtype), T.matrix("ls", dtype=logsm.dtype)
    r, lab = T.vector("r", dtype=rows.dtype), T.vector("lab", dtype=labels.dtype)
    node = LogSoftmaxOneHotGrad()(v, ls, r, lab).owner
    fast = node.op.make_fast_fn(node)(values, logsm, rows, labels)
    storage = [[None]]
    node.op.perform(node, [values, logsm, rows, labels], storage)
    return fast, storage[0][0]


@FAST
@given(n=hst.integers(1, 9), k=hst.integers(1, 6), data=hst.data())
def test_any_rows_give_the_composition(n, k, data):
    # Rows that are not 0..n-1 (repeated, missing, negative) take the general path: the
    # zeros incremented at every (row, label), duplicates accumulating.
    m = data.draw(hst.sampled_from([n, n, data.draw(hst.integers(0, 12))]))  # often n: the fast path's own shape
    rows = np.asarray(data.draw(hst.lists(hst.integers(-n, n - 1), min_size=m, max_size=m)),
                      "int64")
    labels = np.asarray(data.draw(hst.lists(hst.integers(-k, k - 1), min_size=m,
                                            max_size=m)), "int64")
    values = np.asarray(data.draw(hst.lists(hst.floats(-3, 3), min_size=m, max_size=m)))
    logsm = np.log(np.random.default_rng(m).dirichlet(np.ones(k), size=n))
    fast, ref = _op_call(values, logsm, rows, labels)
    g = np.zeros((n, k))
    np.add.at(g, (rows, labels), values)
    want = g - g.sum(1, keepdims=True) * np.exp(logsm)
    np.testing.assert_allclose(ref, want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(fast, want, rtol=1e-14, atol=1e-15)


def test_the_fast_path_is_the_composition_bit_for_bit():
    rng = np.random.default_rng(3)
    logsm = np.log(rng.dirichlet(np.ones(7), size=40)).astype("float32")
    values = rng.standard_normal(40).astype("float32")
    labels = rng.integers(-7, 7, 40).astype("int32")
    fast, ref = _op_call(values, logsm, np.arange(40), labels)
    assert fast.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(fast, ref)


def test_not_applied_to_a_set_or_to_zeros_of_another_shape():
    z, y = T.dmatrix("z"), T.lvector("y")
    ls = nnet.log_softmax(z)
    rows = T.arange(y.shape[0])
    gz = T.set_subtensor(T.zeros_like(ls)[rows, y], 1.0)
    expr = gz - T.sum(gz, axis=1, keepdims=True) * T.exp(ls)
    f = compile_fast([z, y], expr)
    assert not fired(f, RULE)
    assert_matches_reference(f, np.array([[1.0, 2.0], [3.0, 0.0]]), np.array([1, 1]))


def test_debugmode_checks_the_replacement():
    z, y, cost, g = _nll_grad("float64", "int32")
    f = vg.function([z, y], [cost, g], mode="DebugMode")
    out = f(np.array([[0.2, 0.1], [1.0, -2.0], [0.0, 0.0]]), np.array([1, 0, 1], "int32"))
    assert np.isfinite(out[1]).all()


# --- MakeVector(...)[i] ---------------------------------------------------------------

def test_shape_entry_is_read_without_building_the_shape_vector():
    x = T.dmatrix("x")
    f = compile_fast([x], [x.shape[0] * 2, x.shape[-1] + 1])
    assert fired(f, "local_subtensor_make_vector")
    assert not any(n.startswith(("MakeVector", "Subtensor")) for n in op_names(f))
    assert [int(v) for v in f(np.zeros((3, 5)))] == [6, 6]


@FAST
@given(shape=hst.lists(hst.integers(0, 5), min_size=1, max_size=4), data=hst.data())
def test_shape_entries_match_the_reference(shape, data):
    x = T.TensorType("float64", (None,) * len(shape))("x")
    picks = data.draw(hst.lists(hst.integers(-len(shape), len(shape) - 1), min_size=1,
                                max_size=4))
    f = compile_fast([x], [x.shape[i] * 3 - 1 for i in picks])
    assert fired(f, "local_subtensor_make_vector")
    assert_matches_reference(f, np.zeros(shape))


def test_make_vector_index_out_of_range_still_raises():
    x = T.dmatrix("x")
    f = compile_fast([x], x.shape[2])
    assert not fired(f, "local_subtensor_make_vector")
    with pytest.raises(IndexError):
        f(np.zeros((3, 5)))
