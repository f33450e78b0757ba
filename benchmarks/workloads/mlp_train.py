"""MLP 784-500-10 training step in float32: forward, NLL, grad and four SGD updates."""

from benchmarks.workloads import mlp_model as m
from benchmarks.workloads.base import Case, Workload

DTYPE = "float32"


def make_data():
    return m.make_data(DTYPE)


def _observe_params(values):
    return lambda cost: [cost, *values()]


def numpy_case(d):
    params = {k: d[k].copy() for k in m.PARAM_NAMES}
    return Case(lambda: m.numpy_train_step(d, params),
                _observe_params(lambda: [params[k] for k in m.PARAM_NAMES]))


def graph_case(lib, d):
    train, shared = m.graph_train_function(lib, d)
    x, y = d["x"], d["y"]
    return Case(lambda: train(x, y), _observe_params(lambda: [v.get_value() for v in shared]))


def jax_case(lib, d):
    jax = lib.jax
    step = m.jax_train_step(jax, DTYPE)
    x, y = jax.device_put(d["x"]), jax.device_put(d["y"])
    state = [jax.device_put(d[k]) for k in m.PARAM_NAMES]
    block = jax.block_until_ready

    def run():
        new_params, cost = block(step(state, x, y))
        state[:] = new_params
        return cost

    return Case(run, _observe_params(lambda: list(state)))


WORKLOADS = [Workload("mlp_train_f32", "MLP 784-500-10 training step (grad + SGD updates), batch 256, float32",
                      make_data, numpy_case, graph_case, jax_case, dtype=DTYPE)]
