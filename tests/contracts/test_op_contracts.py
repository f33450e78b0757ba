"""Every Op class in verigraph.tensor (and the gradient stoppers) against one checklist:

props define equality and hash; the Op and a compiled function using it survive pickling;
``infer_shape`` (evaluated by the reference evaluator) equals the computed shape; the fast
path (``make_fast_fn``) agrees with ``perform`` (the reference) in value, dtype and shape;
neither mutates an input it did not declare in ``destroy_map``.

An example builds a small graph and returns ``(inputs, node, values)``: the node is the
Apply of the Op under test. ``EXAMPLES`` must cover every Op class the walk finds.
"""
from __future__ import annotations

import copy
import importlib
import inspect
import pickle
import pkgutil

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.graph.op import Op
from verigraph.link.reference import evaluate, run_node_reference
from verigraph.rewriting.shape import inferred_shape
from verigraph.tensor import nnet
from verigraph.tensor import scalar_table as st
from verigraph.tensor.elemwise import Elemwise
from verigraph.tensor.type import TensorType

RNG = np.random.default_rng(7)


def _walk_op_classes():
    import verigraph.gradient
    import verigraph.tensor
    modules = [verigraph.gradient]
    for info in pkgutil.walk_packages(verigraph.tensor.__path__, "verigraph.tensor."):
        modules.append(importlib.import_module(info.name))
    found = {}
    for mod in modules:
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, Op) and cls.__module__ == mod.__name__ and not name.startswith("Bad"):
                found[f"{cls.__module__}.{name}"] = cls
    return found


OP_CLASSES = _walk_op_classes()


def _node(out):
    return out.owner


def _ex(inputs, out, values):
    return inputs, _node(out), values


def _m(*shape, dtype="float64"):
    return RNG.uniform(-1, 1, shape).astype(dtype)


def _dmatrix_ex(fn, shape=(2, 3)):
    def build():
        x = T.dmatrix("x")
        return _ex([x], fn(x), [_m(*shape)])
    return build


def _onehot_grad_example():
    from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad
    v, ls = T.dvector("v"), T.dmatrix("ls")
    rows, labels = T.lvectors("rows", "labels")
    logsm = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))
    return _ex([v, ls, rows, labels], LogSoftmaxOneHotGrad()(v, ls, rows, labels),
               [np.array([-0.5, 0.25]), logsm, np.array([0, 1]), np.array([2, -3])])


def _onehot_label_rows_example():
    from verigraph.tensor.crossentropy import LogSoftmaxOneHotGrad
    v, ls, labels = T.dvector("v"), T.dmatrix("ls"), T.lvector("labels")
    logsm = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))
    return _ex([v, ls, labels], LogSoftmaxOneHotGrad(label_rows=True)(v, ls, labels),
               [np.array([-0.5, 0.25]), logsm, np.array([2, -3])])


def _pick_labels_example():
    from verigraph.tensor.crossentropy import PickLabels
    x, labels = T.dmatrix("x"), T.lvector("labels")
    return _ex([x, labels], PickLabels()(x, labels), [_m(3, 4), np.array([3, 0, -1])])


def _fused_example():
    x, y = T.dvectors("x", "y")
    f = vg.function([x, y], T.exp(x) * 2 + T.sin(y) / 3, mode="FAST_RUN")
    nodes = [n for n in f.maker.fgraph.toposort() if type(n.op).__name__ == "FusedElemwise"]
    assert nodes, "the fusion rewrite produced no FusedElemwise node"
    return f.maker.fgraph.inputs, nodes[0], [_m(4), _m(4)]


def _fused_sum_example():
    x = T.dmatrix("x")
    f = vg.function([x], ((x - x.mean()) ** 2).sum(), mode="FAST_RUN")
    nodes = [n for n in f.maker.fgraph.toposort() if type(n.op).__name__ == "FusedSum"]
    assert nodes, "the sum fusion rewrite produced no FusedSum node"
    node = nodes[0]
    values = [_m(3, 4) if i.ndim == 2 and i.type.shape != (1, 1) else np.full((1, 1), 0.5)
              for i in node.inputs]
    return f.maker.fgraph.inputs, node, values


def _gemm(inplace, dtype, alpha=None):
    def build():
        from verigraph.tensor.gemm import Gemm
        z, x, y = (TensorType(dtype, (None, None))(n) for n in "zxy")
        values = [_m(2, 4, dtype=dtype), _m(2, 3, dtype=dtype), _m(3, 4, dtype=dtype)]
        if alpha is None:   # a symbolic (1, 1) alpha: a learning rate passed in
            a = TensorType(dtype, (1, 1))("a")
            return _ex([z, a, x, y], Gemm(inplace)(z, a, x, y),
                       [values[0], np.full((1, 1), -0.25, dtype), *values[1:]])
        a = T.constant(np.asarray(alpha, dtype))
        return _ex([z, x, y], Gemm(inplace)(z, a, x, y), values)
    return build


def _dense(act, dtype, shapes=((3, 4), (4, 5))):
    def build():
        from verigraph.tensor.dense import Dense
        x, w = (TensorType(dtype, (None, None))(n) for n in "xw")
        b = TensorType(dtype, (None,))("b")
        (m, k), (_, n) = shapes
        return _ex([x, w, b], Dense(act)(x, w, b),
                   [_m(m, k, dtype=dtype), _m(k, n, dtype=dtype), _m(n, dtype=dtype)])
    return build


def _dense_pair(act, dtype, n2=3):
    def build():
        from verigraph.tensor.dense import DensePair
        x, w, w2 = (TensorType(dtype, (None, None))(n) for n in ("x", "w", "w2"))
        b, b2 = (TensorType(dtype, (None,))(n) for n in ("b", "b2"))
        h, _ = DensePair(act)(x, w, b, w2, b2)
        return [x, w, b, w2, b2], h.owner, [_m(3, 4, dtype=dtype), _m(4, 5, dtype=dtype),
                                            _m(5, dtype=dtype), _m(5, n2, dtype=dtype),
                                            _m(n2, dtype=dtype)]
    return build


def _narrow_tanh_grad(dtype):
    def build():
        from verigraph.tensor.dense_grad import NarrowTanhGrad
        gz, w2, h = (TensorType(dtype, (None, None))(n) for n in ("gz", "w2", "h"))
        gpre, _ = NarrowTanhGrad()(gz, w2, h)
        return [gz, w2, h], gpre.owner, [_m(3, 2, dtype=dtype), _m(5, 2, dtype=dtype),
                                         np.tanh(_m(3, 5, dtype=dtype))]
    return build


def _random_example():
    from verigraph.tensor.random import RandomStreams
    rs = RandomStreams(seed=3)
    out = rs.uniform(size=(2, 3), low=-1.0, high=2.0)
    return [], out.owner, []


def _grad_stop(mode):
    def build():
        from verigraph.gradient import _GradStop
        x = T.dvector("x")
        return _ex([x], _GradStop(mode)(x), [_m(3)])
    return build


def _shape_guard():
    from verigraph.tensor.guards import ShapeGuard
    a, b = T.lscalars("a", "b")
    return _ex([a, b], ShapeGuard("Join", "sizes agree", ["a", "b"])(a, b),
               [np.int64(3), np.int64(3)])


def _carry_guard():
    from verigraph.tensor.guards import ShapeGuard
    v, a, b = T.lscalars("v", "a", "b")
    return _ex([v, a, b], ShapeGuard("Dot", "inner sizes agree", ["a", "b"], carry=True)(v, a, b),
               [np.int64(5), np.int64(2), np.int64(2)])


def _index_ops(kind):
    def build():
        from verigraph.tensor.subtensor import IndexBounds, SliceLength
        n, a, b, c = T.lscalars("n", "a", "b", "c")
        if kind == "slice":
            return _ex([n, a, b, c], SliceLength(True, True, True)(n, a, b, c),
                       [np.int64(7), np.int64(-1), np.int64(0), np.int64(-2)])
        return _ex([n, a], IndexBounds(1)(n, n, a), [np.int64(4), np.int64(-4)])
    return build


def _reshape_target():
    from verigraph.tensor.shape import ReshapeTarget
    s, t = T.lvectors("s", "t")
    return _ex([s, t], ReshapeTarget()(s, t), [np.array([2, 6]), np.array([3, -1, 2])])


def _binary(fn, sa, sb, da="float64", db="float64"):
    def build():
        x, y = TensorType(da, (None,) * len(sa))("x"), TensorType(db, (None,) * len(sb))("y")
        return _ex([x, y], fn(x, y), [_m(*sa, dtype=da), _m(*sb, dtype=db)])
    return build


def _split():
    x = T.dmatrix("x")
    out = T.split(x, [1, 0, 2], 3, axis=1)
    return [x], out[0].owner, [_m(2, 3)]


def _scalar_ints(fn, *vals):
    def build():
        syms = [T.lscalar() for _ in vals]
        return _ex(syms, fn(*syms), [np.int64(v) for v in vals])
    return build


EXAMPLES = {
    "verigraph.tensor.elemwise.Elemwise": [
        _binary(lambda x, y: x + y, (2, 3), (2, 3)),
        _binary(lambda x, y: T.mul(x, y, x), (3,), (3,)),
        _binary(lambda x, y: T.true_div(x, T.specify_shape(y, (1, None))), (2, 3), (1, 3),
                "float32", "float64"),
        _dmatrix_ex(lambda x: T.exp(x)),
        _dmatrix_ex(lambda x: T.switch(x > 0, x, -x)),
        _dmatrix_ex(lambda x: T.cast(x, "int32")),
        _dmatrix_ex(lambda x: T.clip(x, -0.5, 0.5), (0, 3)),
    ],
    "verigraph.tensor.elemwise.DimShuffle": [
        _dmatrix_ex(lambda x: x.T),
        _dmatrix_ex(lambda x: x.dimshuffle("x", 1, "x", 0)),
        _dmatrix_ex(lambda x: T.specify_shape(x, (1, None)).dimshuffle(1), (1, 3)),
    ],
    "verigraph.tensor.reduction.Reduce": [
        _dmatrix_ex(lambda x: x.sum(axis=0)),
        _dmatrix_ex(lambda x: x.prod(axis=(0, 1))),
        _dmatrix_ex(lambda x: x.max(axis=1), (0, 2)),
        _dmatrix_ex(lambda x: (x > 0).any(axis=0)),
    ],
    "verigraph.tensor.reduction.ArgReduce": [
        _dmatrix_ex(lambda x: x.argmax(axis=1)),
        _dmatrix_ex(lambda x: x.argmin()),
    ],
    "verigraph.tensor.blas.Dot": [
        _binary(T.dot, (2, 3), (3, 4)), _binary(T.dot, (3,), (3, 2)), _binary(T.dot, (3,), (3,)),
        _binary(T.dot, (2, 0), (0, 4), "float32", "float64"),
    ],
    "verigraph.tensor.dense.Dense": [_dense("identity", "float64"), _dense("tanh", "float32"),
                                     _dense("tanh", "float64", ((0, 3), (3, 2))),
                                     _dense("sigmoid", "float64"), _dense("relu", "float32")],
    "verigraph.tensor.dense_grad.NarrowTanhGrad": [_narrow_tanh_grad("float64"),
                                                   _narrow_tanh_grad("float32")],
    "verigraph.tensor.dense.DensePair": [_dense_pair("tanh", "float64"),
                                         _dense_pair("relu", "float32", 10)],
    "verigraph.tensor.gemm.Gemm": [_gemm(False, "float64", -0.5), _gemm(True, "float32", 2.0),
                                   _gemm(False, "float32")],
    "verigraph.tensor.blas.Matmul": [
        _binary(T.matmul, (2, 2, 3), (2, 3, 4)),
        _binary(lambda x, y: T.matmul(T.specify_shape(x, (1, None, None)), y), (1, 2, 3),
                (3, 3, 2)),
    ],
    "verigraph.tensor.shape.Shape": [_dmatrix_ex(lambda x: x.shape)],
    "verigraph.tensor.shape.Shape_i": [_dmatrix_ex(lambda x: T.Shape_i(1)(x))],
    "verigraph.tensor.shape.MakeVector": [_scalar_ints(lambda a, b: T.MakeVector("int64")(a, b),
                                                       2, 5)],
    "verigraph.tensor.shape.Reshape": [
        _dmatrix_ex(lambda x: x.reshape((3, -1))),
        _dmatrix_ex(lambda x: x.reshape((-1, 1, 3)), (0, 3)),
    ],
    "verigraph.tensor.shape.ReshapeTarget": [_reshape_target],
    "verigraph.tensor.shape.SpecifyShape": [_dmatrix_ex(lambda x: T.specify_shape(x, (2, None)))],
    "verigraph.tensor.shape.Alloc": [
        _scalar_ints(lambda a, b: T.alloc(np.float32(1.5), a, b), 2, 3),
        _dmatrix_ex(lambda x: T.alloc(x[0], 4, x.shape[1])),
    ],
    "verigraph.tensor.shape.Eye": [_scalar_ints(lambda n, m, k: T.Eye("float32")(n, m, k), 3, 4, 1)],
    "verigraph.tensor.shape.ARange": [
        _scalar_ints(lambda a, b, c: T.arange(a, b, c), 1, 10, 3),
        _scalar_ints(lambda a, b, c: T.arange(a, b, c), 5, -3, -2),
    ],
    "verigraph.tensor.join.Join": [
        _binary(lambda x, y: T.join(1, x, y), (2, 3), (2, 0)),
        _binary(lambda x, y: T.concatenate([x, y, x]), (2, 3), (1, 3), "int32", "float32"),
    ],
    "verigraph.tensor.join.Split": [_split],
    "verigraph.tensor.sort.Sort": [_dmatrix_ex(lambda x: T.sort(x, axis=0), (3, 2)),
                                   _dmatrix_ex(lambda x: T.sort(x), (0, 2))],
    "verigraph.tensor.sort.ArgSort": [_dmatrix_ex(lambda x: T.argsort(x, axis=1), (3, 4))],
    "verigraph.tensor.sort.UnsortGrad": [
        _binary(lambda x, g: T.sort(x, axis=1).owner.op.L_op([x], [x], [g])[0], (2, 3), (2, 3))],
    "verigraph.tensor.sort.Nonzero": [_dmatrix_ex(lambda x: T.nonzero(x > 0)[1], (3, 4))],
    "verigraph.tensor.extra_ops.CumOp": [_dmatrix_ex(lambda x: T.cumsum(x, axis=1)),
                                         _dmatrix_ex(lambda x: T.cumprod(x), (0, 3)),
                                         _dmatrix_ex(lambda x: T.cumsum(x > 0, axis=0))],
    "verigraph.tensor.extra_ops.Repeat": [
        _dmatrix_ex(lambda x: T.repeat(x, 2, axis=0)),
        _dmatrix_ex(lambda x: T.repeat(x, np.array([0, 3, 1]), axis=1)),
        _dmatrix_ex(lambda x: T.repeat(x, T.shape_i(x, 0), axis=None), (0, 2))],
    "verigraph.tensor.extra_ops.BinCount": [
        _scalar_ints(lambda a, b: T.bincount(T.stack([a, b, a])), 2, 5),
        _binary(lambda x, w: T.bincount(T.cast(T.abs(x) * 4, "int64"), w, minlength=6),
                (4,), (4,))],
    "verigraph.tensor.broadcast.Unbroadcast": [
        _dmatrix_ex(lambda x: T.unbroadcast(T.addbroadcast(x, 0), 0), (1, 3))],
    "verigraph.tensor.subtensor.Subtensor": [
        _dmatrix_ex(lambda x: x[1:, ::-2], (3, 4)),
        _dmatrix_ex(lambda x: x[-1, 1]),
        _dmatrix_ex(lambda x: x[np.array([2, 0, 2])], (3, 2)),
        _dmatrix_ex(lambda x: x[x > 0]),
    ],
    "verigraph.tensor.subtensor.IncSubtensor": [
        _binary(lambda x, y: T.inc_subtensor(x[1:], y), (3, 2), (2, 2)),
        _binary(lambda x, y: T.set_subtensor(x[:, 0], y), (3, 2), (3,)),
        _binary(lambda x, y: T.inc_subtensor(x[np.array([1, 1, 0])], y), (3, 2), (3, 2)),
    ],
    "verigraph.tensor.subtensor.SliceLength": [_index_ops("slice")],
    "verigraph.tensor.subtensor.IndexBounds": [_index_ops("bounds")],
    "verigraph.tensor.guards.ShapeGuard": [_shape_guard, _carry_guard],
    "verigraph.tensor.nnet_ops.Softmax": [_dmatrix_ex(nnet.softmax),
                                         _dmatrix_ex(lambda x: nnet.softmax(x, axis=0), (0, 3))],
    "verigraph.tensor.nnet_ops.LogSoftmax": [_dmatrix_ex(nnet.log_softmax)],
    "verigraph.tensor.crossentropy.LogSoftmaxOneHotGrad": [_onehot_grad_example,
                                                           _onehot_label_rows_example],
    "verigraph.tensor.crossentropy.PickLabels": [_pick_labels_example],
    "verigraph.tensor.fused.FusedElemwise": [_fused_example],
    "verigraph.tensor.fused_sum.FusedSum": [_fused_sum_example],
    "verigraph.tensor.random.op.RandomVariable": [_random_example],
    "verigraph.gradient._GradStop": [_grad_stop("zero"), _grad_stop("disconnected")],
}

CASES = [(name, k) for name in sorted(EXAMPLES) for k in range(len(EXAMPLES[name]))
         if name in OP_CLASSES]
# FusedElemwise and FusedSum exist only inside a rewritten graph: pickled separately.
STANDALONE_CASES = [c for c in CASES if not c[0].endswith(("FusedElemwise", "FusedSum"))]
SHAPE_CASES = [c for c in CASES if OP_CLASSES[c[0]].infer_shape is not Op.infer_shape]


def test_every_op_class_has_examples():
    missing = sorted(set(OP_CLASSES) - set(EXAMPLES))
    assert not missing, f"Op classes without contract examples: {missing}"
    stale = sorted(set(EXAMPLES) - set(OP_CLASSES))
    assert not stale, f"examples for classes that no longer exist: {stale}"


def _build(name, k):
    inputs, node, values = EXAMPLES[name][k]()
    assert type(node.op) is OP_CLASSES[name], f"example built {type(node.op)}, not {name}"
    return inputs, node, values


def _givens(inputs, node, values):
    from verigraph.compile.shared import SharedVariable
    from verigraph.graph.traversal import ancestors
    givens = dict(zip(inputs, values))
    for v in ancestors(node.inputs):
        if isinstance(v, SharedVariable) and v not in givens:
            givens[v] = copy.deepcopy(v.container[0])
    return givens


def _node_input_values(inputs, node, values):
    return evaluate(node.inputs, _givens(inputs, node, values))


def _copy(vals):
    return [copy.deepcopy(v) for v in vals]


def _same(a, b, what):
    if isinstance(a, np.random.Generator):
        assert a.bit_generator.state == b.bit_generator.state, what
        return
    if isinstance(a, np.random.RandomState):
        sa, sb = a.get_state(legacy=False), b.get_state(legacy=False)
        assert sa["state"]["pos"] == sb["state"]["pos"], what
        np.testing.assert_array_equal(sa["state"]["key"], sb["state"]["key"], err_msg=what)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
    if a.dtype.kind == "f":
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=what)
    else:
        np.testing.assert_array_equal(a, b, err_msg=what)


@pytest.mark.parametrize("name,k", CASES)
def test_props_define_equality_and_hash(name, k):
    _, node, _ = _build(name, k)
    _, node2, _ = _build(name, k)
    op, op2 = node.op, node2.op
    assert op == op2 and hash(op) == hash(op2), "the same example must build equal Ops"
    for p in type(op).__props__:
        hash(getattr(op, p))  # every prop is hashable (merge keys on it)
    assert op != object()
    others = [n.op for n, _ in _all_nodes() if type(n.op) is not type(op)][:5]
    assert all(op != o for o in others)


def _all_nodes():
    out = []
    for name in EXAMPLES:
        if name in OP_CLASSES:
            try:
                out.append((EXAMPLES[name][0]()[1], name))
            except Exception:  # noqa: BLE001 - another class's example is checked elsewhere
                pass
    return out


@pytest.mark.parametrize("name,k", CASES)
def test_op_pickles(name, k):
    _, node, _ = _build(name, k)
    op2 = pickle.loads(pickle.dumps(node.op))
    assert op2 == node.op and hash(op2) == hash(node.op)


@pytest.mark.parametrize("name,k", STANDALONE_CASES)
def test_compiled_function_pickles(name, k):
    inputs, node, values = _build(name, k)
    outs = [o for o in node.outputs]
    f = vg.function(inputs, outs, mode="FAST_COMPILE", on_unused_input="ignore",
                    no_default_updates=True)
    g = pickle.loads(pickle.dumps(f))
    for a, b in zip(f(*_copy(values)), g(*_copy(values))):
        _same(a, b, "pickled function")


@pytest.mark.parametrize("name,k", SHAPE_CASES)
def test_infer_shape_matches_computed_shape(name, k):
    inputs, node, values = _build(name, k)
    in_vals = _node_input_values(inputs, node, values)
    outs = run_node_reference(node, _copy(in_vals))
    for var, val in zip(node.outputs, outs):
        if not hasattr(var.type, "ndim"):
            continue
        shape = inferred_shape(None, var)
        if shape is None:
            continue
        assert len(shape) == np.ndim(val)
        got = evaluate(list(shape), _givens(inputs, node, values)) if shape else []
        assert tuple(int(s) for s in got) == np.shape(val), f"{node}: infer_shape {got}"


@pytest.mark.parametrize("name,k", CASES)
def test_fast_fn_agrees_with_perform_and_mutates_nothing(name, k):
    inputs, node, values = _build(name, k)
    in_vals = _node_input_values(inputs, node, values)
    ref = run_node_reference(node, _copy(in_vals))
    for var, val in zip(node.outputs, ref):
        t = var.type
        if hasattr(t, "ndim"):
            assert np.ndim(val) == t.ndim and str(np.asarray(val).dtype) == t.dtype
    fast_in = _copy(in_vals)
    fast = node.op.make_fast_fn(node)(*fast_in)
    fast = list(fast) if len(node.outputs) > 1 else [fast]
    for j, (a, b) in enumerate(zip(fast, ref)):
        _same(a, b, f"{node}: fast output {j} vs perform")
    destroyed = {i for ins in node.op.destroy_map.values() for i in ins}
    for j, (before, after) in enumerate(zip(in_vals, fast_in)):
        if j not in destroyed:
            _same(before, after, f"{node}: fast path mutated input {j}")


@pytest.mark.parametrize("name,k", CASES)
def test_perform_leaves_inputs_alone_and_returns_fresh_outputs(name, k):
    inputs, node, values = _build(name, k)
    in_vals = _node_input_values(inputs, node, values)
    given = _copy(in_vals)
    outs = run_node_reference(node, given)
    for j, (before, after) in enumerate(zip(in_vals, given)):
        _same(before, after, f"{node}: perform mutated input {j}")
    for k, o in enumerate(outs):
        if k in node.op.view_map:
            continue  # a declared view (DimShuffle, basic Subtensor) may alias its input
        for i in given:
            if isinstance(o, np.ndarray) and isinstance(i, np.ndarray) and o.size:
                assert not np.shares_memory(o, i), f"{node}: perform output {k} aliases an input"


def test_elemwise_variadic_add_does_not_write_into_its_third_input():
    x, y, z = T.dvectors("x", "y", "z")
    out = Elemwise(st.add)(x, y, z)
    vals = [np.ones(2), np.ones(2), np.ones(2)]
    for mode in ("FAST_RUN", "FAST_COMPILE"):
        got = vg.function([x, y, z], out, mode=mode)(*vals)
        assert got.tolist() == [3.0, 3.0]
        assert vals[2].tolist() == [1.0, 1.0]


def test_function_with_fused_kernel_pickles():
    x, y = T.dvectors("x", "y")
    f = vg.function([x, y], T.exp(x) * 2 + T.sin(y) / 3, mode="FAST_RUN")
    g = pickle.loads(pickle.dumps(f))
    a, b = _m(4), _m(4)
    _same(f(a, b), g(a, b), "pickled fused function")
    _same(g(a, b), np.exp(a) * 2 + np.sin(b) / 3, "fused vs NumPy")
