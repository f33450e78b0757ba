"""Call overhead: ``f(x) = x + 1`` on a float64 0-d array, i.e. everything but the arithmetic."""

from functools import partial
from operator import add

import numpy as np

from benchmarks.workloads.base import Case, Workload


def make_data():
    return {"x": np.float64(2.0)}


def numpy_case(d):
    return Case(partial(add, d["x"], 1.0))


def graph_case(lib, d):
    x = lib.T.dscalar("x")
    f = lib.function([x], x + 1)
    return Case(partial(f, d["x"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(lambda x: x + 1)
    x = jax.device_put(d["x"])
    return Case(lambda: f(x).block_until_ready())


WORKLOADS = [Workload("call_overhead", "f(x) = x + 1, float64 scalar (0-d)",
                      make_data, numpy_case, graph_case, jax_case)]
