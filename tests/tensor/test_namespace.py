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
