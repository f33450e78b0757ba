"""What a workload is: data, a hand-written NumPy version, and graph/JAX versions of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np


def outputs_of(result) -> list:
    """The arrays to compare from a call's return value (a value or a list/tuple of them)."""
    if isinstance(result, (list, tuple)):
        return list(result)
    return [result]


@dataclass
class Case:
    """One backend's ready-to-time program.

    ``run`` is the zero-argument callable that gets timed. ``observe(result)`` is
    called once, right after the first ``run()``, and returns the arrays that must
    match NumPy's (outputs, and for update-only steps the shared values).
    """

    run: Callable[[], Any]
    observe: Callable[[Any], Sequence[Any]] = outputs_of


@dataclass(frozen=True)
class Workload:
    """A benchmark: the same computation written for each backend family.

    ``kind`` is ``"time"`` (per-call time, ratio to NumPy) or ``"compile"`` (each
    sample is one full build + first call, in seconds; NumPy is only the oracle).
    ``extras`` names additional NumPy callables timed in the same rounds as
    reference points (e.g. the ``np.add(out=)`` memory floor). ``bytes_moved`` is the
    minimum memory traffic of one call, for a GB/s figure.
    """

    name: str
    title: str
    make_data: Callable[[], dict]
    numpy: Callable[[dict], Case]
    graph: Callable[[Any, dict], Case] | None = None
    jax: Callable[[Any, dict], Case] | None = None
    kind: str = "time"
    extras: Callable[[dict], dict[str, Callable[[], Any]]] | None = None
    bytes_moved: int | None = None
    dtype: str = "float64"

    def tolerance(self):
        """``(rtol, atol)`` for ``np.allclose`` against NumPy: its defaults, looser for float32."""
        return (1e-4, 1e-6) if self.dtype == "float32" else (1e-5, 1e-8)


def rng(seed=20261123):
    """The seeded generator every workload's data comes from (same data for every backend)."""
    return np.random.default_rng(seed)


def jax_blocked(jax, fn, *args):
    """A zero-arg callable running the jitted ``fn(*args)`` and waiting for its result."""
    block = jax.block_until_ready

    def run():
        return block(fn(*args))

    return run
