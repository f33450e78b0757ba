"""``import verigraph as theano``: the tensor names and submodules Theano code reaches for."""
import importlib

import pytest

import verigraph as theano

T = theano.tensor
TENSOR_NAMES = """cumsum cumprod diag diagonal trace tile repeat roll shape_padleft shape_padright
shape_padaxis addbroadcast unbroadcast patternbroadcast inv reciprocal largest smallest
batched_dot logsumexp ptp deg2rad rad2deg erfinv erfcinv gammaln psi gamma tri_gamma squeeze
dot as_tensor_variable dmatrix""".split()
NNET_NAMES = """sigmoid hard_sigmoid ultra_fast_sigmoid softsign elu selu softmax_with_bias
softmax relu categorical_crossentropy""".split()


@pytest.mark.parametrize("name", TENSOR_NAMES)
def test_tensor_and_tensor_basic_have(name):
    assert callable(getattr(T, name))
    assert getattr(T.basic, name) is getattr(T, name)


@pytest.mark.parametrize("name", NNET_NAMES)
def test_nnet_and_nnet_nnet_have(name):
    assert getattr(T.nnet.nnet, name) is getattr(T.nnet, name)


@pytest.mark.parametrize("module", ["verigraph.tensor.basic", "verigraph.tensor.extra_ops",
                                    "verigraph.tensor.nnet.nnet", "verigraph.tensor.nnet.sigm"])
def test_theano_submodule_imports(module):
    mod = importlib.import_module(module)
    assert mod is not None


def test_extra_ops_names():
    for name in ("cumsum", "cumprod", "diff", "repeat", "bincount", "squeeze", "fill_diagonal"):
        assert callable(getattr(T.extra_ops, name))


def test_complex_dtype_codes():
    assert T.cmatrix().dtype == "complex64" and T.zvector().dtype == "complex128"


def test_typed_constructors_are_the_types_as_in_theano():
    # Theano's tutorial: `x = T.dscalar('x'); x.type is T.dscalar` is True.
    x = T.dscalar("x")
    assert x.type is T.dscalar and x.type == T.dscalar and x.name == "x"
    assert T.fmatrix().type == T.TensorType("float32", (None, None))
    assert [v.name for v in T.ivectors("a", "b")] == ["a", "b"]
    assert T.lrow().broadcastable == (True, False)
    assert T.matrix("m", dtype="int8").dtype == "int8"   # floatX constructors stay functions


@pytest.mark.parametrize("path", ["dot", "printing.pprint", "sandbox.rng_mrg.MRG_RandomStreams",
                                  "tensor.Rop", "tensor.Lop", "tensor.jacobian",
                                  "tensor.hessian", "tensor.verify_grad"])
def test_theano_tutorial_attribute_paths(path):
    obj = theano
    for part in path.split("."):
        obj = getattr(obj, part)
    assert callable(obj)
