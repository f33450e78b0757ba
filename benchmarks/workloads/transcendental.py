"""10-op transcendental chain on 1e6 float64: compute-bound elementwise work (fusion, libm)."""

from functools import partial

from benchmarks.workloads.base import Case, Workload, rng

SIZE = 1_000_000


def make_data():
    return {"x": rng().random(SIZE)}  # in [0, 1): every step below stays in its domain


def chain(m, x):
    """sin, exp, log1p, cos, tanh, exp, sqrt, log1p, sin, cos, with ``m`` = np / T / jnp."""
    t = m.sin(x)
    t = m.exp(t)
    t = m.log1p(t)
    t = m.cos(t)
    t = m.tanh(t)
    t = m.exp(t)
    t = m.sqrt(t)
    t = m.log1p(t)
    t = m.sin(t)
    return m.cos(t)


def numpy_case(d):
    import numpy as np

    return Case(partial(chain, np, d["x"]))


def graph_case(lib, d):
    x = lib.T.dvector("x")
    f = lib.function([x], chain(lib.T, x))
    return Case(partial(f, d["x"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(partial(chain, lib.jnp))
    x = jax.device_put(d["x"])
    return Case(lambda: f(x).block_until_ready())


WORKLOADS = [Workload("transcendental", "10-op transcendental chain (sin exp log1p cos tanh sqrt), 1e6 float64",
                      make_data, numpy_case, graph_case, jax_case)]
