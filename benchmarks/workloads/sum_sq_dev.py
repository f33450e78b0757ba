"""``sum((a - a.mean())**2)`` on 1000x1000 float64: a reduction feeding an elementwise feeding a reduction."""

from functools import partial

from benchmarks.workloads.base import Case, Workload, rng


def make_data():
    return {"a": rng().standard_normal((1000, 1000))}


def sum_sq_dev(a):
    return ((a - a.mean()) ** 2).sum()


def numpy_case(d):
    return Case(partial(sum_sq_dev, d["a"]))


def graph_case(lib, d):
    a = lib.T.dmatrix("a")
    f = lib.function([a], sum_sq_dev(a))
    return Case(partial(f, d["a"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(sum_sq_dev)
    a = jax.device_put(d["a"])
    return Case(lambda: f(a).block_until_ready())


WORKLOADS = [Workload("sum_sq_dev", "sum((a - a.mean())**2), 1000x1000 float64",
                      make_data, numpy_case, graph_case, jax_case)]
