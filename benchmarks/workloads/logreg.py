"""Logistic-regression training step, the Theano tutorial's: N=400, 784 features, grad + updates.

``train = function([x, y], [prediction, xent], updates=[(w, w - 0.1*gw), (b, b - 0.1*gb)])``
with ``cost = xent.mean() + 0.01 * (w**2).sum()``. As in ``profiles/logistic_regression.py``
the weights start at ``0.01 * randn`` (not the tutorial's ``randn``) so ``log(1 - p)``
stays finite and every backend can be checked against NumPy.
"""

import numpy as np

from benchmarks.workloads.base import Case, Workload, rng

N, FEATS, LR, L2 = 400, 784, 0.1, 0.01


def make_data():
    g = rng()
    return {"x": g.standard_normal((N, FEATS)), "y": g.integers(0, 2, N).astype("float64"),
            "w": 0.01 * g.standard_normal(FEATS), "b": np.asarray(0.0)}


def _observe(state):
    return lambda out: [np.asarray(out[0], "float64"), out[1], *state()]


def numpy_case(d):
    x, y = d["x"], d["y"]
    w = d["w"].copy()
    b = [float(d["b"])]

    def step():
        p = 1 / (1 + np.exp(-(x @ w) - b[0]))
        prediction = p > 0.5
        xent = -y * np.log(p) - (1 - y) * np.log(1 - p)
        gz = (p - y) / N
        gw = x.T @ gz + (2 * L2) * w
        w[...] -= LR * gw
        b[0] -= LR * gz.sum()
        return prediction, xent

    return Case(step, _observe(lambda: [w, b[0]]))


def graph_case(lib, d):
    T = lib.T
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = lib.shared(d["w"], "w"), lib.shared(d["b"], "b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + L2 * (w ** 2).sum()
    gw, gb = lib.grad(cost, [w, b])
    train = lib.function([x, y], [prediction, xent], updates=[(w, w - LR * gw), (b, b - LR * gb)])
    xv, yv = d["x"], d["y"]
    return Case(lambda: train(xv, yv), _observe(lambda: [w.get_value(), b.get_value()]))


def jax_case(lib, d):
    jax, jnp = lib.jax, lib.jnp

    def cost_and_outputs(w, b, x, y):
        p_1 = 1 / (1 + jnp.exp(-jnp.dot(x, w) - b))
        xent = -y * jnp.log(p_1) - (1 - y) * jnp.log(1 - p_1)
        return xent.mean() + L2 * (w ** 2).sum(), (p_1 > 0.5, xent)

    grad = jax.grad(cost_and_outputs, argnums=(0, 1), has_aux=True)

    @jax.jit
    def step(w, b, x, y):
        (gw, gb), outputs = grad(w, b, x, y)
        return w - LR * gw, b - LR * gb, outputs

    x, y = jax.device_put(d["x"]), jax.device_put(d["y"])
    state = [jax.device_put(d["w"]), jax.device_put(d["b"])]
    block = jax.block_until_ready

    def run():
        w, b, outputs = block(step(state[0], state[1], x, y))
        state[:] = [w, b]
        return outputs

    return Case(run, _observe(lambda: list(state)))


WORKLOADS = [Workload("logreg_step", "logistic-regression training step (tutorial, N=400, 784 feats)",
                      make_data, numpy_case, graph_case, jax_case)]
