"""verigraph.testing.OpTester: the Op contract of a user's custom Op, checked in one call."""
import numpy as np
import pytest

from verigraph.graph.basic import Apply
from verigraph.graph.op import Op
from verigraph.tensor.variable import as_tensor_variable
from verigraph.testing import OpTester, OpTestFailure, check_op


class Cube(Op):
    """x ** 3, written as a user would: perform, infer_shape, grad."""

    __props__ = ("power",)

    def __init__(self, power=3):
        self.power = power

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** self.power

    def infer_shape(self, node, shapes):
        return [shapes[0]]

    def grad(self, inputs, output_grads):
        return [output_grads[0] * self.power * inputs[0] ** (self.power - 1)]


class WrongShape(Cube):
    def infer_shape(self, node, shapes):
        return [tuple(reversed(shapes[0]))]


class WrongGrad(Cube):
    def grad(self, inputs, output_grads):
        return [output_grads[0] * 2 * inputs[0] ** 2]


class WrongFast(Cube):
    def make_fast_fn(self, node):
        return lambda x: x ** 3 + 1e-3


class MutatingFast(Cube):
    def make_fast_fn(self, node):
        def fn(x):
            x **= 3  # overwrites its input without a destroy_map
            return x
        return fn


class ListProp(Cube):
    __props__ = ("powers",)

    def __init__(self, powers):
        self.powers = powers
        self.power = 3


class NoGrad(Cube):
    def grad(self, inputs, output_grads):
        from verigraph.gradient import grad_not_implemented
        return [grad_not_implemented(self, 0, inputs[0])]


def _value():
    return np.random.default_rng(0).uniform(0.5, 1.5, size=(2, 3))


def by_name(results):
    return {r.name: r for r in results}


def test_a_correct_op_passes_every_check():
    results = by_name(OpTester(Cube()).check(_value()))
    for name in ("props/hash/pickle", "make_node", "perform", "fast vs perform", "infer_shape",
                 "compiled in FAST_RUN", "grad vs finite differences"):
        assert results[name].ok is True, results[name]
    assert results["compiled in DebugMode"].ok in (True, None)


@pytest.mark.parametrize("op, failing, text", [
    (WrongShape(), "infer_shape", "inferred shape (3, 2), actual (2, 3)"),
    (WrongGrad(), "grad vs finite differences", "finite differences"),
    (WrongFast(), "fast vs perform", "values differ"),
    (MutatingFast(), "fast vs perform", "destroy_map"),
    (ListProp([3]), "props/hash/pickle", "not hashable"),
])
def test_each_broken_contract_is_named(op, failing, text):
    results = by_name(OpTester(op).run(_value()))
    assert results[failing].ok is False and text in results[failing].detail
    with pytest.raises(OpTestFailure, match=failing.replace("/", ".")) as info:
        check_op(op, _value())
    assert any(r.name == failing for r in info.value.results)


def test_all_failures_are_reported_together():
    class TwiceWrong(WrongShape, WrongGrad):
        pass
    with pytest.raises(OpTestFailure) as info:
        OpTester(TwiceWrong())(_value())
    message = str(info.value)
    assert "infer_shape" in message and "grad vs finite differences" in message


def test_missing_gradient_is_skipped_unless_required():
    results = by_name(OpTester(NoGrad()).check(_value()))
    assert results["grad vs finite differences"].ok is None
    with pytest.raises(OpTestFailure, match="grad"):
        OpTester(NoGrad(), grad=True).check(_value())
    assert by_name(OpTester(Cube(), grad=False).check(_value()))[
        "grad vs finite differences"].ok is None


def test_integer_inputs_skip_the_gradient():
    results = by_name(OpTester(Cube()).check(np.arange(6, dtype="int64").reshape(2, 3)))
    assert results["grad vs finite differences"].ok is None
    assert results["perform"].ok and results["infer_shape"].ok


def test_make_node_failure_stops_early():
    results = OpTester(Cube()).run(np.ones(2), np.ones(2))
    assert results[-1].name == "make_node" and results[-1].ok is False


def test_bad_grad_option():
    with pytest.raises(ValueError, match="grad must be"):
        OpTester(Cube(), grad="sometimes")
