"""diag, diagonal and trace, composed from advanced indexing (so shapes and gradients follow).

``diagonal(x, k)`` reads ``x[..., r, c]`` with ``r = arange(L) + max(0, -k)`` and
``c = arange(L) + max(0, k)``; ``diag(v, k)`` writes ``v`` there into a zero matrix.
"""
from __future__ import annotations

from verigraph.tensor.variable import as_tensor_variable


def _api():
    from verigraph.tensor import api
    return api


def _offset(k):
    if hasattr(k, "type"):
        raise TypeError(f"the diagonal offset must be a Python int, not the symbolic {k}")
    return int(k)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal over ``axis1``/``axis2``, appended as the last axis (``np.diagonal``)."""
    api = _api()
    a = as_tensor_variable(a)
    k = _offset(offset)
    if a.ndim < 2:
        raise ValueError(f"diagonal: needs at least 2 dimensions, got the {a.ndim}-d {a}")
    a1, a2 = (ax % a.ndim if -a.ndim <= ax < a.ndim else None for ax in (axis1, axis2))
    if a1 is None or a2 is None or a1 == a2:
        raise ValueError(f"diagonal: axis1={axis1} and axis2={axis2} must be distinct axes of "
                         f"the {a.ndim}-d {a}")
    rest = [d for d in range(a.ndim) if d not in (a1, a2)]
    at = api.dimshuffle(a, rest + [a1, a2])
    n1, n2 = api.shape_i(a, a1), api.shape_i(a, a2)
    length = api.maximum(api.minimum(n1 - max(0, -k), n2 - max(0, k)), 0)
    i = api.arange(length)
    rows, cols = (i + max(0, -k), i + max(0, k)) if k else (i, i)
    return at[(slice(None),) * len(rest) + (rows, cols)]


def diag(v, k=0):
    """Vector ``v`` -> square matrix with ``v`` on diagonal ``k``; matrix -> its ``k`` diagonal."""
    api = _api()
    v = as_tensor_variable(v)
    k = _offset(k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: expected a vector or a matrix, got the {v.ndim}-d {v}")
    n = api.shape_i(v, 0) + abs(k)
    i = api.arange(api.shape_i(v, 0))
    rows, cols = (i + max(0, -k), i + max(0, k)) if k else (i, i)
    return api.set_subtensor(api.zeros((n, n), dtype=v.dtype)[rows, cols], v)


def trace(x, offset=0):
    """Sum of the ``offset`` diagonal of the matrix ``x``."""
    x = as_tensor_variable(x)
    if x.ndim != 2:
        raise ValueError(f"trace: expected a matrix, got the {x.ndim}-d {x}")
    return _api().sum(diagonal(x, offset))


__all__ = ["diag", "diagonal", "trace"]
