"""The 784-500-10 MLP (tanh hidden, softmax out, NLL of integer labels) for every backend.

Shared by the forward, training-step and compile-time workloads, so all three run
the same model on the same data. The training step is one SGD step on
``-mean(log(p)[arange(n), y])``, the deep-learning-tutorial cost.
"""

import numpy as np

from benchmarks.workloads.base import rng

N_IN, N_HIDDEN, N_OUT, BATCH = 784, 500, 10, 256
LR = 0.01
PARAM_NAMES = ("W1", "b1", "W2", "b2")


def make_data(dtype):
    """Inputs ``x``, labels ``y`` (int32) and Glorot-uniform parameters, all in ``dtype``."""
    g = rng()
    b1 = np.sqrt(6.0 / (N_IN + N_HIDDEN))
    b2 = np.sqrt(6.0 / (N_HIDDEN + N_OUT))
    return {
        "dtype": dtype,
        "x": g.standard_normal((BATCH, N_IN)).astype(dtype),
        "y": g.integers(0, N_OUT, BATCH).astype("int32"),
        "W1": g.uniform(-b1, b1, (N_IN, N_HIDDEN)).astype(dtype),
        "b1": np.zeros(N_HIDDEN, dtype),
        "W2": g.uniform(-b2, b2, (N_HIDDEN, N_OUT)).astype(dtype),
        "b2": np.zeros(N_OUT, dtype),
    }


# --- NumPy by hand -------------------------------------------------------------

def numpy_forward(x, W1, b1, W2, b2):
    """Class probabilities and the hidden activations."""
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), h


def numpy_train_step(d, params):
    """One SGD step on ``params`` (dict, updated in place); returns the cost."""
    x, y = d["x"], d["y"]
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    p, h = numpy_forward(x, W1, b1, W2, b2)
    rows = np.arange(len(y))
    cost = -np.mean(np.log(p[rows, y]))
    dz = p
    dz[rows, y] -= 1
    dz /= len(y)
    dh = (dz @ W2.T) * (1 - h * h)
    lr = np.asarray(LR, d["dtype"])
    W2 -= lr * (h.T @ dz)
    b2 -= lr * dz.sum(axis=0)
    W1 -= lr * (x.T @ dh)
    b1 -= lr * dh.sum(axis=0)
    return cost


# --- Theano API (verigraph, PyTensor) -----------------------------------------

def _matrix(T, dtype, name):
    return getattr(T, {"float32": "fmatrix", "float64": "dmatrix"}[dtype])(name)


def graph_forward(lib, x, W1, b1, W2, b2):
    T = lib.T
    return lib.softmax(T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2)


def graph_forward_function(lib, d):
    """``function([x], p)`` with the parameters as shared variables."""
    params = [lib.shared(d[k], k) for k in PARAM_NAMES]
    x = _matrix(lib.T, d["dtype"], "x")
    return lib.function([x], graph_forward(lib, x, *params))


def graph_train_function(lib, d):
    """``function([x, y], cost, updates=SGD)``; returns it and the shared parameters."""
    T = lib.T
    params = [lib.shared(d[k], k) for k in PARAM_NAMES]
    x, y = _matrix(T, d["dtype"], "x"), T.ivector("y")
    p = graph_forward(lib, x, *params)
    cost = -T.mean(T.log(p)[T.arange(y.shape[0]), y])
    lr = np.asarray(LR, d["dtype"])
    grads = lib.grad(cost, params)
    train = lib.function([x, y], cost, updates=[(v, v - lr * g) for v, g in zip(params, grads)])
    return train, params


# --- JAX -----------------------------------------------------------------------

def jax_forward(jax, x, W1, b1, W2, b2):
    jnp = jax.numpy
    return jax.nn.softmax(jnp.dot(jnp.tanh(jnp.dot(x, W1) + b1), W2) + b2, axis=-1)


def jax_train_step(jax, dtype):
    """A freshly jitted ``step(params, x, y) -> (new_params, cost)``."""
    jnp = jax.numpy

    def loss(params, x, y):
        p = jax_forward(jax, x, *params)
        return -jnp.mean(jnp.log(p[jnp.arange(y.shape[0]), y]))

    value_and_grad = jax.value_and_grad(loss)
    lr = np.asarray(LR, dtype)

    def step(params, x, y):
        cost, grads = value_and_grad(params, x, y)
        return [v - lr * g for v, g in zip(params, grads)], cost

    return jax.jit(step)
