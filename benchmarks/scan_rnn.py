"""Scan over 1000 steps of a small tanh RNN versus the same loop written in NumPy.

Standalone: ``python benchmarks/scan_rnn.py`` prints both times and their ratio (target:
verigraph's FAST_RUN scan within 3x of the hand-written NumPy loop). Rounds alternate
between the two and the median of per-round ratios is reported, since the machine's speed
drifts.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import verigraph as vg  # noqa: E402
import verigraph.tensor as T  # noqa: E402

N_STEPS, N_IN, N_HIDDEN = 1000, 8, 16
ROUNDS = 15
TARGET_RATIO = 3.0


def numpy_rnn(xs, h0, W_in, W_rec, b):
    """The hand-written loop: h_t = tanh(x_t W_in + h_{t-1} W_rec + b), all states stacked."""
    h = h0
    out = np.empty((len(xs), len(h0)))
    for t in range(len(xs)):
        h = np.tanh(xs[t] @ W_in + h @ W_rec + b)
        out[t] = h
    return out


def build_scan_rnn(mode="FAST_RUN"):
    """The same loop compiled with ``scan``."""
    xs, W_in, W_rec = T.dmatrix("xs"), T.dmatrix("W_in"), T.dmatrix("W_rec")
    h0, b = T.dvector("h0"), T.dvector("b")
    hs, _ = vg.scan(lambda x_t, h, W_in, W_rec, b: T.tanh(T.dot(x_t, W_in) + T.dot(h, W_rec) + b),
                    sequences=xs, outputs_info=h0, non_sequences=[W_in, W_rec, b])
    return vg.function([xs, h0, W_in, W_rec, b], hs, mode=mode)


def best_of(fn, args, repeat=3):
    """Fastest of ``repeat`` timed calls (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    """Time both loops round-robin and print the median ratio."""
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(N_STEPS, N_IN)), np.zeros(N_HIDDEN),
            0.3 * rng.normal(size=(N_IN, N_HIDDEN)), 0.3 * rng.normal(size=(N_HIDDEN, N_HIDDEN)),
            0.1 * rng.normal(size=N_HIDDEN))
    f = build_scan_rnn()
    np.testing.assert_allclose(f(*args), numpy_rnn(*args), rtol=1e-10, atol=1e-12)
    ratios, t_np, t_vg = [], [], []
    for _ in range(ROUNDS):
        a = best_of(numpy_rnn, args)
        b = best_of(f, args)
        t_np.append(a)
        t_vg.append(b)
        ratios.append(b / a)
    ratio = statistics.median(ratios)
    print(f"scan_rnn: {N_STEPS} steps, hidden {N_HIDDEN}: "
          f"numpy {statistics.median(t_np) * 1e3:.2f} ms, "
          f"verigraph scan {statistics.median(t_vg) * 1e3:.2f} ms, ratio {ratio:.2f}x "
          f"(target <= {TARGET_RATIO}x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    return ratio


if __name__ == "__main__":
    main()
