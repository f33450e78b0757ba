"""``tensor.nnet``: sigmoids, softmax, log_softmax, relu, elu/selu, softsign, cross-entropies."""
from __future__ import annotations

import sys

from verigraph.tensor import api
from verigraph.tensor.activations import (elu, hard_sigmoid, selu,  # noqa: F401
                                          softmax_with_bias, softsign, ultra_fast_sigmoid)
from verigraph.tensor.api import sigmoid, softplus  # noqa: F401  (Theano's nnet names)
from verigraph.tensor.nnet_ops import LogSoftmax, Softmax
from verigraph.tensor.variable import as_tensor_variable


def softmax(x, axis=-1):
    """Softmax along ``axis`` (the last by default, Theano's row softmax on matrices)."""
    x = as_tensor_variable(x)
    return Softmax(axis % x.ndim if x.ndim else axis)(x)


def log_softmax(x, axis=-1):
    """Log of softmax, computed stably."""
    x = as_tensor_variable(x)
    return LogSoftmax(axis % x.ndim if x.ndim else axis)(x)


def relu(x, alpha=0):
    """Rectified linear unit; ``alpha`` is the slope for negative inputs."""
    x = as_tensor_variable(x)
    if alpha == 0:
        return api.maximum(x, 0)
    return api.switch(api.gt(x, 0), x, alpha * x)


def categorical_crossentropy(coding_dist, true_dist):
    """Per-row cross-entropy: ``true_dist`` is int class indices (vector) or a distribution matrix."""
    coding_dist = as_tensor_variable(coding_dist)
    true_dist = as_tensor_variable(true_dist)
    if true_dist.ndim == coding_dist.ndim:
        return -api.sum(true_dist * api.log(coding_dist), axis=coding_dist.ndim - 1)
    if true_dist.ndim == coding_dist.ndim - 1 and true_dist.dtype.startswith(("int", "uint")):
        rows = api.arange(api.shape_i(coding_dist, 0))
        return -api.log(coding_dist[rows, true_dist])
    raise TypeError(f"categorical_crossentropy: true_dist must be a matrix like coding_dist or an "
                    f"int vector of class indices, got {true_dist.type}")


def binary_crossentropy(output, target):
    """Elementwise ``-(t log o + (1 - t) log(1 - o))``."""
    return -(target * api.log(output) + (1.0 - target) * api.log(1.0 - output))


def crossentropy_softmax_1hot(x, y_idx):
    """(cross-entropy of softmax(x) against int labels, softmax(x))."""
    sm = softmax(x)
    return categorical_crossentropy(sm, y_idx), sm


# Theano code imports ``theano.tensor.nnet.nnet`` (and ``.sigm``) as submodules: both are this
# module, registered under those names so ``from ... .nnet.nnet import softmax`` works too.
nnet = sigm = sys.modules[__name__]
sys.modules[f"{__name__}.nnet"] = nnet
sys.modules[f"{__name__}.sigm"] = nnet
