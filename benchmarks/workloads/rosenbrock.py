"""Rosenbrock gradient-descent step: no inputs, no outputs, shared-variable updates from grad.

Cost ``(1 - x)**2 + 100 * (y - x**2)**2`` on two float64 0-d shared variables,
starting at the classic (-1.2, 1.0); the step is ``p <- p - LR * dcost/dp``.
"""

import numpy as np

from benchmarks.workloads.base import Case, Workload

LR = 1e-3
START = (-1.2, 1.0)


def make_data():
    return {"x": np.asarray(START[0]), "y": np.asarray(START[1])}


def _cost(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def numpy_case(d):
    state = [np.float64(d["x"]), np.float64(d["y"])]

    def step():
        x, y = state
        r = y - x * x
        state[0] = x - LR * (-2.0 * (1.0 - x) - 400.0 * x * r)
        state[1] = y - LR * (200.0 * r)

    return Case(step, lambda _: list(state))


def graph_case(lib, d):
    x, y = lib.shared(d["x"], "x"), lib.shared(d["y"], "y")
    gx, gy = lib.grad(_cost(x, y), [x, y])
    step = lib.function([], [], updates=[(x, x - LR * gx), (y, y - LR * gy)])
    return Case(step, lambda _: [x.get_value(), y.get_value()])


def jax_case(lib, d):
    jax = lib.jax
    grad = jax.grad(_cost, argnums=(0, 1))

    @jax.jit
    def step(x, y):
        gx, gy = grad(x, y)
        return x - LR * gx, y - LR * gy

    state = [jax.device_put(d["x"]), jax.device_put(d["y"])]
    block = jax.block_until_ready

    def run():
        state[:] = block(step(*state))

    return Case(run, lambda _: list(state))


WORKLOADS = [Workload("rosenbrock", "Rosenbrock GD step, 2 shared 0-d float64, updates only",
                      make_data, numpy_case, graph_case, jax_case)]
