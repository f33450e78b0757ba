"""10-op arithmetic chain on 1e6 float64: memory-bound, judged against the ``np.add`` floor.

The least traffic any implementation needs is reading ``a`` and ``b`` and writing
the result once (3 x 8 MB); ``np.add(a, b, out=c)`` moves exactly that, so its time
is the floor. The report gives each backend's GB/s (24 MB / time) and its ratio
to the floor, both medians of per-round values.
"""

from functools import partial

import numpy as np

from benchmarks.workloads.base import Case, Workload, rng

SIZE = 1_000_000


def make_data():
    g = rng()
    return {"a": g.standard_normal(SIZE), "b": g.standard_normal(SIZE)}


def chain(a, b):
    """Ten binary ops; written once, run on NumPy arrays, graph variables or JAX arrays."""
    t = a + b
    t = t * a
    t = t - b
    t = t * 0.5
    t = t + 1.0
    t = t * t
    t = t - a
    t = t * b
    t = t + a
    return t * 0.25


def numpy_case(d):
    return Case(partial(chain, d["a"], d["b"]))


def graph_case(lib, d):
    a, b = lib.T.dvector("a"), lib.T.dvector("b")
    f = lib.function([a, b], chain(a, b))
    return Case(partial(f, d["a"], d["b"]))


def jax_case(lib, d):
    jax = lib.jax
    f = jax.jit(chain)
    a, b = jax.device_put(d["a"]), jax.device_put(d["b"])
    return Case(lambda: f(a, b).block_until_ready())


def floor(d):
    out = np.empty_like(d["a"])
    return {"floor": partial(np.add, d["a"], d["b"], out=out)}


WORKLOADS = [Workload("arithmetic", "10-op arithmetic chain, 1e6 float64 (memory-bound)",
                      make_data, numpy_case, graph_case, jax_case,
                      extras=floor, bytes_moved=3 * 8 * SIZE)]
