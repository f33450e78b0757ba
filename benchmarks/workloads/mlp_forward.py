"""MLP 784-500-10 forward pass, batch 256, in float32 and in float64 (GEMM-dominated)."""

from functools import partial

from benchmarks.workloads import mlp_model as m
from benchmarks.workloads.base import Case, Workload


def numpy_case(d):
    def forward():
        return m.numpy_forward(d["x"], *(d[k] for k in m.PARAM_NAMES))[0]

    return Case(forward)


def graph_case(lib, d):
    return Case(partial(m.graph_forward_function(lib, d), d["x"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(partial(m.jax_forward, jax))
    args = [jax.device_put(d[k]) for k in ("x",) + m.PARAM_NAMES]
    return Case(lambda: f(*args).block_until_ready())


WORKLOADS = [
    Workload(f"mlp_forward_{tag}", f"MLP 784-500-10 forward (tanh, softmax), batch 256, {dtype}",
             partial(m.make_data, dtype), numpy_case, graph_case, jax_case, dtype=dtype)
    for tag, dtype in (("f32", "float32"), ("f64", "float64"))
]
