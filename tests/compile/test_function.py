"""function(): outputs, In/Param/Out, updates, givens, argument checking, errors, pickling."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph import In, Out, Param
from verigraph.checks.errors import ShapeMismatchError

MODES = ("FAST_RUN", "FAST_COMPILE")


@pytest.mark.parametrize("mode", MODES)
def test_outputs_as_variable_list_and_dict(mode):
    a, b = T.dscalars("a", "b")
    c = a + 2 * b
    f1 = vg.function([a, b], c, mode=mode)
    out = f1(2, 3)
    assert isinstance(out, np.ndarray) and out.shape == () and float(out) == 8.0
    assert [float(v) for v in vg.function([a, b], [c, a * b], mode=mode)(2, 3)] == [8.0, 6.0]
    assert [float(v) for v in vg.function([a, b], (c,), mode=mode)(2, 3)] == [8.0]
    d = vg.function([a, b], {"sum": c, "prod": a * b}, mode=mode)(2, 3)
    assert set(d) == {"sum", "prod"} and float(d["prod"]) == 6.0
    assert vg.function([a], [], mode=mode, on_unused_input="ignore")(1.0) == []


@pytest.mark.parametrize("mode", MODES)
def test_in_defaults_and_keyword_arguments(mode):
    x, y, w = T.dscalars("x", "y", "w")
    z = (x + y) * w
    f = vg.function([x, In(y, value=1), In(w, value=2, name="w_by_name")], z, mode=mode)
    assert float(f(33)) == 68.0
    assert float(f(33, 2)) == 70.0
    assert float(f(33, 0, 1)) == 33.0
    assert float(f(33, w_by_name=1)) == 34.0
    assert float(f(33, w_by_name=1, y=0)) == 33.0
    g = vg.function([x, Param(y, default=5)], x + y, mode=mode)
    assert float(g(1)) == 6.0


@pytest.mark.parametrize("mode", MODES)
def test_argument_errors_are_clear(mode):
    x, y = T.dscalars("x", "y")
    f = vg.function([x, In(y, value=1.0)], x + y, mode=mode)
    with pytest.raises(TypeError, match="at most 2 argument"):
        f(1, 2, 3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'.*named inputs: x, y"):
        f(1, z=2)
    with pytest.raises(TypeError, match="missing required argument.*x"):
        f()
    with pytest.raises(TypeError, match="multiple values for argument 'x'"):
        f(1, x=2)
    with pytest.raises(TypeError, match="got None"):
        f(None)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'updatez'"):
        vg.function([x], x, updatez=[])
    with pytest.raises(TypeError, match=r"wrap a single input in a list"):
        vg.function(x, x)


@pytest.mark.parametrize("mode", MODES)
def test_downcast_needs_allow_input_downcast(mode):
    x = T.fvector("x")
    f = vg.function([x], x * 2, mode=mode)
    with pytest.raises(TypeError, match="float32.*allow_input_downcast=True"):
        f(np.array([1.0, 2.0]))
    # Python lists of floats are converted (Theano's default for non-arrays).
    assert f([1.0, 2.0]).dtype == np.float32
    g = vg.function([x], x * 2, mode=mode, allow_input_downcast=True)
    out = g(np.array([1.0, 2.0]))
    assert out.dtype == np.float32 and out.tolist() == [2.0, 4.0]
    i = T.ivector("i")
    h = vg.function([i], i + 1, mode=mode)
    with pytest.raises(TypeError, match="int32"):
        h(np.array([1, 2], dtype="int64"))
    with pytest.raises(TypeError, match="1-d"):
        h(np.ones((2, 2), dtype="int32"))


def test_unused_inputs_raise_warn_ignore():
    x, y = T.dscalars("x", "y")
    with pytest.raises(ValueError, match="input y is not used"):
        vg.function([x, y], x * 2)
    with pytest.warns(UserWarning, match="input y is not used"):
        f = vg.function([x, y], x * 2, on_unused_input="warn")
    assert float(f(1, 5)) == 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vg.function([x, y], x * 2, on_unused_input="ignore")
    with pytest.raises(ValueError, match="on_unused_input"):
        vg.function([x, y], x * 2, on_unused_input="maybe")


def test_missing_and_duplicate_inputs():
    x, y = T.dscalars("x", "y")
    with pytest.raises(ValueError, match="depend on y.*not among the inputs"):
        vg.function([x], x + y)
    with pytest.raises(ValueError, match="listed twice"):
        vg.function([x, x], x)


@pytest.mark.parametrize("mode", MODES)
def test_updates_pairs_and_dict_are_applied_after_outputs(mode):
    a, b = T.dscalars("a", "b")
    w2 = vg.shared(0.0, name="w2")
    c = a + 2 * b + w2
    f = vg.function([a, b], c, updates={w2: w2 + 1}, mode=mode)
    assert [float(f(2, 3)) for _ in range(5)] == [8.0, 9.0, 10.0, 11.0, 12.0]
    s = vg.shared(np.array([1.0, 2.0]), name="s")
    t = vg.shared(np.array([10.0, 20.0]), name="t")
    # Swapping: each update reads the values from before the call.
    g = vg.function([], [s, t], updates=[(s, t), (t, s)], mode=mode)
    outs = g()
    assert outs[0].tolist() == [1.0, 2.0] and outs[1].tolist() == [10.0, 20.0]
    assert s.get_value().tolist() == [10.0, 20.0] and t.get_value().tolist() == [1.0, 2.0]


@pytest.mark.parametrize("mode", MODES)
def test_a_call_that_raises_changes_no_shared_variable(mode):
    x, m = T.dvector("x"), T.dmatrix("m")
    acc = vg.shared(np.zeros(2), name="acc")
    total = vg.shared(0.0, name="total")
    # The first update is computable before the second one fails inside dot.
    f = vg.function([x, m], acc + x, updates=[(acc, acc + x), (total, total + T.dot(m, x).sum())],
                    mode=mode)
    f(np.ones(2), np.ones((3, 2)))
    assert acc.get_value().tolist() == [1.0, 1.0] and float(total.get_value()) == 6.0
    with pytest.raises(ShapeMismatchError):
        f(np.ones(2), np.ones((3, 5)))
    assert acc.get_value().tolist() == [1.0, 1.0] and float(total.get_value()) == 6.0


def test_update_errors():
    x = T.dscalar("x")
    s = vg.shared(np.zeros(3), name="s")
    with pytest.raises(TypeError, match="only shared variables"):
        vg.function([x], x, updates=[(x, x + 1)])
    with pytest.raises(TypeError, match="has type.*cast it"):
        vg.function([], s, updates=[(s, s.astype("float32"))])
    with pytest.raises(ValueError, match="updated twice"):
        vg.function([], s, updates=[(s, s + 1), (s, s * 2)])
    with pytest.raises(TypeError, match="pairs"):
        vg.function([], s, updates=[s])


@pytest.mark.parametrize("mode", MODES)
def test_givens(mode):
    a, b, w1 = T.dscalars("a", "b", "w1")
    c = a + w1 * b
    f = vg.function([a, b], c, givens=[(w1, -2.0)], mode=mode)
    assert float(f(2, 3)) == -4.0
    w2 = vg.shared(-2.0, name="w2")
    d = a + w2 * b
    v = T.dscalar("v")
    g = vg.function([a, b, v], d, givens={w2: v}, mode=mode)
    assert float(g(2, 3, 10)) == 32.0
    assert float(w2.get_value()) == -2.0
    with pytest.raises(TypeError, match="types must match"):
        vg.function([a], a + w1, givens={w1: T.dvector()})


def test_shared_variable_as_explicit_input_suggests_givens():
    a = T.dscalar("a")
    w2 = vg.shared(-2.0, name="w2")
    with pytest.raises(TypeError, match="w2.*explicit input.*givens"):
        vg.function([a, w2], a * w2)


@pytest.mark.parametrize("mode", MODES)
def test_out_borrow_and_output_copies(mode):
    x = T.dvector("x")
    s = vg.shared(np.arange(3.0), name="s")
    f = vg.function([x], [x, s, Out(x * 2, borrow=True)], mode=mode)
    v = np.ones(3)
    a, b, c = f(v)
    a[0] = 99.0
    b[0] = 99.0
    assert v[0] == 1.0, "an output aliased the caller's input"
    assert s.get_value()[0] == 0.0, "an output aliased the shared storage"
    assert c.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("mode", MODES)
def test_runtime_error_names_node_shapes_and_user_line(mode):
    x, y = T.dmatrices("x", "y")
    z = T.dot(x, y)  # the line the error must point to
    line = z.owner.source[1]
    f = vg.function([x, y], z * 2, mode=mode)
    with pytest.raises(ValueError) as info:
        f(np.ones((2, 3)), np.ones((4, 5)))
    msg = str(info.value)
    assert "Dot" in msg and "(2, 3)" in msg and "(4, 5)" in msg
    assert f"{__file__}:{line}" in msg


@pytest.mark.parametrize("mode", MODES)
def test_generic_op_exception_is_reraised_with_context(mode):
    from verigraph.graph.basic import Apply
    from verigraph.graph.op import Op

    class Boom(Op):
        def make_node(self, v):
            return Apply(self, [v], [v.type()])

        def perform(self, node, inputs, out):
            raise ZeroDivisionError("boom inside perform")

    x = T.dvector("x")
    y = Boom()(x)
    line = y.owner.source[1]
    f = vg.function([x], y + 1, mode=mode)
    with pytest.raises(ZeroDivisionError) as info:
        f(np.ones(4))
    msg = str(info.value)
    assert "boom inside perform" in msg and "Boom" in msg and "(4,)" in msg
    assert f"{__file__}:{line}" in msg


@pytest.mark.parametrize("mode", MODES)
def test_fgraph_introspection(mode):
    x, y = T.dvectors("x", "y")
    s = vg.shared(np.ones(2), name="s")
    f = vg.function([x, y], (x + y) * s, mode=mode)
    fg = f.maker.fgraph
    assert len(fg.inputs) == 3 and len(fg.outputs) == 1
    assert fg.inputs[0].name == "x" and fg.inputs[2].name == "s"
    nodes = fg.toposort()
    assert nodes and all(n.op is not None for n in nodes)
    position = {n: k for k, n in enumerate(nodes)}
    for n in nodes:
        for i in n.inputs:
            if i.owner is not None:
                assert position[i.owner] < position[n]
    assert f.maker.original.outputs[0] is not fg.outputs[0] or not nodes


@pytest.mark.parametrize("mode", MODES)
def test_pickle_compiled_function_and_shared_variable(mode):
    x = T.dvector("x")
    w = vg.shared(np.array([1.0, 2.0]), name="w")
    y = In(T.dscalar("y"), value=3.0)
    f = vg.function([x, y], [T.dot(x, w) + y.variable], updates=[(w, w * 2)], mode=mode)
    g = pickle.loads(pickle.dumps(f))
    assert float(g(np.ones(2))[0]) == 6.0
    assert float(g(np.ones(2), y=0.0)[0]) == 6.0   # the copy's own w was doubled
    assert w.get_value().tolist() == [1.0, 2.0]    # the original is untouched
    assert float(f(np.ones(2))[0]) == 6.0
    w2 = pickle.loads(pickle.dumps(w))
    assert w2.get_value().tolist() == [2.0, 4.0] and w2.name == "w" and w2.type == w.type


def test_function_name_appears_in_errors():
    x = T.dscalar("x")
    f = vg.function([x], x, name="my_fn")
    with pytest.raises(TypeError, match="my_fn"):
        f(1, 2)


@pytest.mark.parametrize("mode", MODES)
def test_copy_swaps_shared_and_deletes_updates(mode):
    # The Theano tutorial's "Copying functions" example.
    state = vg.shared(0)
    inc = T.iscalar("inc")
    acc = vg.function([inc], state, updates=[(state, state + inc)], mode=mode)
    acc(10)
    new_state = vg.shared(0)
    new_acc = acc.copy(swap={state: new_state})
    assert new_acc(100) == 0
    assert new_state.get_value() == 100 and state.get_value() == 10
    null_acc = acc.copy(delete_updates=True)
    assert null_acc(9000) == 10 and state.get_value() == 10
    acc(1)
    assert state.get_value() == 11 and new_state.get_value() == 100
    with pytest.raises(TypeError, match="types must match"):
        acc.copy(swap={state: vg.shared(0.0)})
