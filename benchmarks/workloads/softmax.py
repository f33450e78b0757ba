"""Row softmax of a 1000x1000 float64 matrix (``T.nnet.softmax``)."""

from functools import partial

import numpy as np

from benchmarks.workloads.base import Case, Workload, rng


def make_data():
    return {"x": rng().standard_normal((1000, 1000))}


def softmax_rows(x):
    """Numerically stable row softmax, as a NumPy user writes it."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def numpy_case(d):
    return Case(partial(softmax_rows, d["x"]))


def graph_case(lib, d):
    x = lib.T.dmatrix("x")
    f = lib.function([x], lib.softmax(x))
    return Case(partial(f, d["x"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(partial(jax.nn.softmax, axis=-1))
    x = jax.device_put(d["x"])
    return Case(lambda: f(x).block_until_ready())


WORKLOADS = [Workload("softmax", "row softmax, 1000x1000 float64",
                      make_data, numpy_case, graph_case, jax_case)]
