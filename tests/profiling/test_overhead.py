"""The profiling program's cost per node stays small (the figure quoted in the package doc)."""
import time

import numpy as np

import verigraph as vg
import verigraph.tensor as T
from verigraph.configparser import config


def _best_per_call(program, arg, n=300, repeat=5):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            program(arg)
        best = min(best, (time.perf_counter() - t0) / n)
    return best


def test_per_node_overhead_is_below_five_microseconds():
    x = T.dvector("x")
    y = x
    for k in range(100):
        y = T.tanh(y) if k % 2 else y * 0.5
    mode = vg.Mode("fast", "merge")
    with config.change_flags(crosscheck="off"):
        plain = vg.function([x], y, mode=mode)
        profiled = vg.function([x], y, mode=mode, profile=True)
    a = np.ones(4)
    n_nodes = len(plain.maker.fgraph.apply_nodes)
    cost = (_best_per_call(profiled.maker.program, a) - _best_per_call(plain.maker.program, a))
    assert cost / n_nodes < 5e-6, f"{cost / n_nodes * 1e9:.0f} ns per node"
