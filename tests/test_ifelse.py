"""ifelse: values, laziness (only the chosen branch runs), gradients, shapes, errors."""
import importlib.util

import numpy as np
import pytest

import verigraph as vg
import verigraph.tensor as T
from verigraph.gradient import verify_grad
from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.ifelse import IfElse, ifelse

MODES = ["FAST_RUN", "FAST_COMPILE"] + (
    ["DebugMode"] if importlib.util.find_spec("verigraph.modes.debug") else [])


class Counting(Op):
    """Identity that counts how many times it runs (to observe laziness)."""

    __props__ = ("tag",)
    calls = {}

    def __init__(self, tag):
        self.tag = tag

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        Counting.calls[self.tag] = Counting.calls.get(self.tag, 0) + 1
        output_storage[0][0] = np.array(inputs[0])

    def grad(self, inputs, gouts):
        return [gouts[0]]


@pytest.mark.parametrize("mode", MODES)
def test_tutorial_mean_of_the_chosen_matrix(mode):
    a, b = T.dscalars("a", "b")
    x, y = T.dmatrices("x", "y")
    z_lazy = ifelse(T.lt(a, b), T.mean(x), T.mean(y))
    f = vg.function([a, b, x, y], z_lazy, mode=mode)
    xv, yv = np.ones((4, 4)), np.zeros((3, 3))
    assert f(1, 2, xv, yv) == 1.0
    assert f(2, 1, xv, yv) == 0.0


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_only_the_chosen_branch_runs(mode):
    Counting.calls.clear()
    c = T.iscalar("c")
    x = T.dvector("x")
    out = ifelse(c, Counting(f"then-{mode}")(x) * 2, Counting(f"else-{mode}")(x) * 3)
    with vg.config.change_flags(crosscheck="off"):
        f = vg.function([c, x], out, mode=mode)
        np.testing.assert_allclose(f(1, [1.0, 2.0]), [2.0, 4.0])
        np.testing.assert_allclose(f(1, [1.0, 2.0]), [2.0, 4.0])
        np.testing.assert_allclose(f(0, [1.0, 2.0]), [3.0, 6.0])
    assert Counting.calls == {f"then-{mode}": 2, f"else-{mode}": 1}


@pytest.mark.parametrize("mode", MODES)
def test_list_branches_and_nesting(mode):
    c1, c2 = T.iscalars("c1", "c2")
    x = T.dvector("x")
    inner = ifelse(c2, x + 1, x - 1)
    outs = ifelse(c1, [x * 2, inner], [x * 3, x * 4])
    assert isinstance(outs, list) and len(outs) == 2
    f = vg.function([c1, c2, x], outs, mode=mode)
    xv = np.array([1.0, 2.0])
    a, b = f(1, 0, xv)
    np.testing.assert_allclose(a, [2, 4])
    np.testing.assert_allclose(b, [0, 1])
    a, b = f(0, 1, xv)
    np.testing.assert_allclose(a, [3, 6])
    np.testing.assert_allclose(b, [4, 8])


@pytest.mark.parametrize("mode", MODES)
def test_result_never_aliases_an_input(mode):
    c = T.iscalar("c")
    x, y = T.dvectors("x", "y")
    f = vg.function([c, x, y], ifelse(c, x, y[1:]), mode=mode)
    xv = np.array([1.0, 2.0])
    r = f(1, xv, xv)
    r[0] = 99.0
    assert xv[0] == 1.0
    np.testing.assert_allclose(f(0, xv, np.array([5.0, 6.0, 7.0])), [6.0, 7.0])


@pytest.mark.parametrize("mode", MODES)
def test_shape_of_each_branch(mode):
    c = T.iscalar("c")
    x, y = T.dmatrices("x", "y")
    f = vg.function([c, x, y], ifelse(c, x, y).shape, mode=mode)
    np.testing.assert_array_equal(f(1, np.ones((2, 3)), np.ones((4, 5))), [2, 3])
    np.testing.assert_array_equal(f(0, np.ones((2, 3)), np.ones((4, 5))), [4, 5])


def test_constant_branch_and_shared_variable():
    w = vg.shared(np.array([1.0, 2.0]), name="w")
    c = T.iscalar("c")
    f = vg.function([c], ifelse(c, w * 2, 0.0 * w))
    np.testing.assert_allclose(f(1), [2.0, 4.0])
    np.testing.assert_allclose(f(0), [0.0, 0.0])
    g = vg.function([c], ifelse(c, T.sum(w), 7.0))
    assert g(0) == 7.0 and g(1) == 3.0


@pytest.mark.parametrize("take_then", [True, False])
@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_verify_grad_through_both_branches(mode, take_then):
    def fun(x, y):
        cond = T.gt(T.sum(x), 0) if take_then else T.lt(T.sum(x), 0)
        return ifelse(cond, T.tanh(x) * y, x * 2 + T.exp(y))
    rng = np.random.default_rng(3)
    verify_grad(fun, [rng.uniform(0.1, 1, size=3), rng.normal(size=3)], mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_grad_values(mode):
    c = T.iscalar("c")
    x = T.dscalar("x")
    cost = ifelse(c, x ** 2, x ** 3)
    g = vg.function([c, x], T.grad(cost, x), mode=mode)
    assert g(1, 3.0) == pytest.approx(6.0)
    assert g(0, 3.0) == pytest.approx(27.0)


def test_errors_name_both_sides():
    c = T.iscalar("c")
    with pytest.raises(TypeError, match="different dtypes"):
        ifelse(c, T.dvector("a"), T.fvector("b"))
    with pytest.raises(TypeError, match="dimensions"):
        ifelse(c, T.dvector("a"), T.dmatrix("b"))
    with pytest.raises(TypeError, match="scalar"):
        ifelse(T.ivector("v"), T.dvector("a"), T.dvector("b"))
    with pytest.raises(ValueError, match="outputs"):
        ifelse(c, [T.dvector("a")], [T.dvector("b"), T.dvector("d")])


def test_ifelse_op_is_never_merged():
    c = T.iscalar("c")
    x = T.dvector("x")
    a, b = ifelse(c, x, x * 2), ifelse(c, x, x * 2)
    assert isinstance(a.owner.op, IfElse) and a.owner.op != b.owner.op


def test_gradient_of_a_branch_variable_used_as_two_outputs_adds_up():
    # Found by `verigraph fuzz --kinds grad`: ifelse(c, [x, x], ...) kept only the
    # last output's gradient for x (a dict keyed by the branch variable).
    c, x = T.dscalar("c"), T.dvector("x")
    a, b = ifelse(T.gt(c, 0), [x, x], [x - 1.5, T.sqr(x)])
    g = vg.grad(T.sum(a * 2.0) + T.sum(b * 3.0), x)
    f = vg.function([x, c], g)
    np.testing.assert_allclose(f(np.array([1.0, 2.0]), 1.0), [5.0, 5.0])
    np.testing.assert_allclose(f(np.array([1.0, 2.0]), -1.0), [8.0, 14.0])
    # Only the first output used: the unused one's zero gradient must not replace it.
    g1 = vg.grad(T.sum(a * 2.0), x)
    np.testing.assert_allclose(vg.function([x, c], g1)(np.array([1.0, 2.0]), 1.0), [2.0, 2.0])


def test_gradient_through_a_branch_with_a_broadcastable_axis():
    # Found by `verigraph fuzz --kinds grad`: ifelse's output type is the branches' join
    # ((None, None)), so the known gradient of the then-branch sum(x, 0, keepdims=True)
    # lost its static size-1 axis and the sum's L_op could not drop it.
    c, x, y = T.dscalar("c"), T.dmatrix("x"), T.dmatrix("y")
    out = ifelse(T.gt(c, 0), T.sum(x, axis=0, keepdims=True), y)
    gx, gy = vg.grad(T.sum(out * 2.0), [x, y])
    f = vg.function([x, y, c], [gx, gy])
    got = f(np.ones((2, 3)), np.ones((1, 3)), 1.0)
    np.testing.assert_allclose(got[0], np.full((2, 3), 2.0))
    np.testing.assert_allclose(got[1], np.zeros((1, 3)))
