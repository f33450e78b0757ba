"""Check a backend's first-call results against hand-written NumPy's."""

from __future__ import annotations

import numpy as np


def snapshot(values) -> list[np.ndarray]:
    """Copies of ``values`` as NumPy arrays (outputs may be reused buffers)."""
    return [np.array(v, copy=True) for v in values]


def mismatch(expected: list[np.ndarray], got: list[np.ndarray], rtol: float, atol: float) -> str | None:
    """``None`` when every array matches (``np.allclose``), else what differs."""
    if len(expected) != len(got):
        return f"{len(got)} results, NumPy has {len(expected)}"
    for i, (e, g) in enumerate(zip(expected, got)):
        if e.shape != g.shape:
            return f"result {i}: shape {g.shape}, NumPy {e.shape}"
        e64, g64 = e.astype("float64"), g.astype("float64")
        if not np.allclose(g64, e64, rtol=rtol, atol=atol):
            with np.errstate(invalid="ignore"):
                diff = np.nanmax(np.abs(g64 - e64)) if e64.size else 0.0
            return f"result {i}: max |diff| {diff:.3g} (rtol={rtol:g}, atol={atol:g})"
    return None
