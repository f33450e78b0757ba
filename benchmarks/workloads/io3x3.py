"""3 inputs / 3 outputs on 10-element float64 vectors: per-argument and per-output overhead."""

from functools import partial

import numpy as np

from benchmarks.workloads.base import Case, Workload, rng


def make_data():
    g = rng()
    return {k: g.standard_normal(10) for k in "abc"}


def _three(a, b, c):
    return a + b, a * c, b - c


def numpy_case(d):
    return Case(partial(_three, d["a"], d["b"], d["c"]))


def graph_case(lib, d):
    a, b, c = lib.T.dvector("a"), lib.T.dvector("b"), lib.T.dvector("c")
    f = lib.function([a, b, c], list(_three(a, b, c)))
    return Case(partial(f, d["a"], d["b"], d["c"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(_three)
    args = [jax.device_put(d[k]) for k in "abc"]
    block = jax.block_until_ready
    return Case(lambda: block(f(*args)))


WORKLOADS = [Workload("io3x3", "3 inputs / 3 outputs, 10-element float64 vectors (a+b, a*c, b-c)",
                      make_data, numpy_case, graph_case, jax_case)]
