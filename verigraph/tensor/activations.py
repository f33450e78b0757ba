"""More ``tensor.nnet`` activations: hard_sigmoid, ultra_fast_sigmoid, softsign, elu, selu,
softmax_with_bias; composed from elementwise Ops, so gradients and fusion come for free."""
from __future__ import annotations

import numpy as np

from verigraph.tensor.variable import as_tensor_variable, constant

# SELU's fixed point constants (Klambauer et al. 2017), as Theano and PyTorch use them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _api():
    from verigraph.tensor import api
    return api


def _c(value, x):
    # A constant in x's float dtype, so float32 graphs stay float32.
    return constant(value, dtype=x.dtype if np.dtype(x.dtype).kind == "f" else "float64")


def hard_sigmoid(x):
    """Piecewise-linear sigmoid ``clip(0.2 x + 0.5, 0, 1)`` (Theano's definition)."""
    x = as_tensor_variable(x)
    return _api().clip(x * _c(0.2, x) + _c(0.5, x), _c(0.0, x), _c(1.0, x))


def ultra_fast_sigmoid(x):
    """Theano's fast approximate sigmoid; here it is the exact (stable) ``sigmoid``.

    Theano's version trades up to ~1e-2 absolute error for speed; verigraph computes the exact
    value, so results agree with ``sigmoid`` and are within that error of Theano's.
    """
    return _api().sigmoid(x)


def softsign(x):
    """``x / (1 + |x|)``."""
    x = as_tensor_variable(x)
    return x / (_c(1.0, x) + _api().abs(x))


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    api = _api()
    x = as_tensor_variable(x)
    # expm1 of min(x, 0): the unused branch never overflows, so its gradient is never inf * 0.
    neg = _c(alpha, x) * api.expm1(api.minimum(x, _c(0.0, x)))
    return api.switch(api.gt(x, 0), x, neg)


def selu(x):
    """Scaled exponential linear unit ``scale * elu(x, alpha)`` with SELU's fixed constants."""
    x = as_tensor_variable(x)
    return _c(SELU_SCALE, x) * elu(x, SELU_ALPHA)


def softmax_with_bias(x, b):
    """Row softmax of ``x + b`` (``b`` a vector broadcast over the rows of the matrix ``x``)."""
    from verigraph.tensor.nnet import softmax
    x, b = as_tensor_variable(x), as_tensor_variable(b)
    if x.ndim != 2 or b.ndim != 1:
        raise TypeError(f"softmax_with_bias: expected a matrix and a vector, got {x.type} and "
                        f"{b.type}")
    return softmax(x + _api().dimshuffle(b, ("x", 0)))


__all__ = ["hard_sigmoid", "ultra_fast_sigmoid", "softsign", "elu", "selu", "softmax_with_bias"]
