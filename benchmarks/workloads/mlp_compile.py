"""Compile time of the MLP training function: graph + grad + function + first call, in seconds.

Each sample builds everything from scratch (new variables, new shared parameters,
a freshly jitted JAX function) so no in-process cache of the compiled function
can answer; on-disk caches (PyTensor's C module cache) stay as they are, so
this is the "warm" figure of TARGETS.md. NumPy has nothing to compile: it only
checks the first call's result.
"""

from benchmarks.workloads import mlp_model as m
from benchmarks.workloads.base import Case, Workload
from benchmarks.workloads.mlp_train import DTYPE, make_data, numpy_case


def graph_case(lib, d):
    def compile_and_call():
        train, shared = m.graph_train_function(lib, d)
        return [train(d["x"], d["y"]), *(v.get_value() for v in shared)]

    return Case(compile_and_call)


def jax_case(lib, d):
    jax = lib.jax

    def compile_and_call():
        step = m.jax_train_step(jax, DTYPE)
        params = [d[k] for k in m.PARAM_NAMES]
        new_params, cost = jax.block_until_ready(step(params, d["x"], d["y"]))
        return [cost, *new_params]

    return Case(compile_and_call)


WORKLOADS = [Workload("mlp_compile", "compile MLP training fn (graph + grad + function + 1st call), float32",
                      make_data, numpy_case, graph_case, jax_case, kind="compile", dtype=DTYPE)]
