"""More of Theano's tensor functions, composed from existing Ops (shapes and gradients follow).

roll, tile, inv/reciprocal, largest/smallest, batched_dot, logsumexp (stable), ptp,
deg2rad/rad2deg.
"""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Variable
from verigraph.tensor.variable import as_tensor_variable, constant


def _api():
    from verigraph.tensor import api
    return api


def _float_dtype(x):
    return x.dtype if np.dtype(x.dtype).kind in "fc" else "float64"


def _along(ndim, axis, index):
    return (slice(None),) * axis + (index,) + (slice(None),) * (ndim - axis - 1)


def roll(x, shift, axis=None):
    """``np.roll``: entries shifted by ``shift`` along ``axis`` (``None``: the flattened tensor).

    ``shift`` may be symbolic; ``shift`` and ``axis`` may also be equal-length tuples.
    """
    api = _api()
    x = as_tensor_variable(x)
    if axis is None:
        return api.reshape(roll(api.flatten(x), shift, 0), api.shape(x), ndim=x.ndim)
    if isinstance(axis, (tuple, list)):
        shifts = shift if isinstance(shift, (tuple, list)) else [shift] * len(axis)
        if len(shifts) != len(axis):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(axis)} axes")
        for s, a in zip(shifts, axis):
            x = roll(x, s, a)
        return x
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"roll: axis {axis} out of range for the {x.ndim}-d {x}")
    axis = axis % x.ndim
    n = api.shape_i(x, axis)
    # The split point n - (shift mod n); an empty axis has nothing to move.
    cut = n - api.mod(api.cast(shift, "int64"), api.maximum(n, 1))
    return api.concatenate([x[_along(x.ndim, axis, slice(cut, None))],
                            x[_along(x.ndim, axis, slice(None, cut))]], axis=axis)


def tile(x, reps, ndim=None):
    """``np.tile``: ``x`` repeated ``reps[d]`` times along each axis ``d``.

    ``reps`` is a sequence of ints / int scalars, or an int vector of static length
    (or with ``ndim`` given); a shorter ``reps`` is padded with leading 1s, a longer one
    adds leading axes to ``x``.
    """
    api = _api()
    x = as_tensor_variable(x)
    if isinstance(reps, Variable):
        if reps.ndim != 1:
            raise TypeError(f"tile: reps must be a sequence or an int vector, got {reps.type}")
        n = reps.type.shape[0] if reps.type.shape[0] is not None else ndim
        if n is None:
            raise ValueError("tile: the length of the symbolic reps vector is unknown; pass ndim")
        reps = [reps[i] for i in range(n)]
    elif isinstance(reps, (int, np.integer)):
        reps = [reps]
    reps = list(reps)
    d = max(len(reps), x.ndim)
    x = api.dimshuffle(x, ("x",) * (d - x.ndim) + tuple(range(x.ndim)))
    reps = [1] * (d - len(reps)) + reps
    # Put a broadcastable axis before each tiled axis, fill it with alloc, merge the pairs.
    pattern, alloc_shape, out_shape = [], [], []
    for k, r in enumerate(reps):
        size = api.shape_i(x, k)
        if isinstance(r, (int, np.integer)) and r == 1:
            pattern.append(k)
            alloc_shape.append(size)
            out_shape.append(size)
            continue
        r = constant(int(r), dtype="int64") if isinstance(r, (int, np.integer)) else \
            api.cast(r, "int64")
        pattern.extend(["x", k])
        alloc_shape.extend([r, size])
        out_shape.append(r * size)
    if len(pattern) == d:
        return x
    return api.reshape(api.alloc(api.dimshuffle(x, pattern), *alloc_shape), out_shape)


def inv(x):
    """Elementwise ``1 / x`` (float result)."""
    x = as_tensor_variable(x)
    return _api().true_div(constant(1, dtype=_float_dtype(x)), x)


reciprocal = inv


def largest(*args):
    """Elementwise maximum of any number of tensors (Theano's ``largest``)."""
    if not args:
        raise TypeError("largest: needs at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = _api().maximum(out, a)
    return out


def smallest(*args):
    """Elementwise minimum of any number of tensors (Theano's ``smallest``)."""
    if not args:
        raise TypeError("smallest: needs at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = _api().minimum(out, a)
    return out


def batched_dot(a, b):
    """Per-example ``dot`` over the leading (batch) axis: ``out[i] = dot(a[i], b[i])``.

    Sums the last axis of ``a[i]`` against the first axis of ``b[i]`` (vectors dot to a scalar).
    """
    api = _api()
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim < 2 or b.ndim < 2:
        raise TypeError(f"batched_dot: both inputs need a batch axis and at least one more, got "
                        f"{a.type} and {b.type}")
    batch = api.shape_i(a, 0)
    a_free = [api.shape_i(a, d) for d in range(1, a.ndim - 1)]
    b_free = [api.shape_i(b, d) for d in range(2, b.ndim)]
    # As (batch, P, m) @ (batch, m, Q), then split P and Q back into their axes.
    a3 = api.reshape(a, [batch, _prod(a_free), api.shape_i(a, a.ndim - 1)])
    b3 = api.reshape(b, [api.shape_i(b, 0), api.shape_i(b, 1), _prod(b_free)])
    return api.reshape(api.matmul(a3, b3), [batch] + a_free + b_free)


def _prod(sizes):
    out = constant(1, dtype="int64")
    for s in sizes:
        out = out * s
    return out


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` computed stably (the maximum is subtracted first)."""
    from verigraph.gradient import zero_grad
    api = _api()
    x = as_tensor_variable(x)
    m = api.max(x, axis=axis, keepdims=True)
    # An all -inf (or +inf) slice would give inf - inf = nan; shifting by 0 is exact there.
    # The shift cancels analytically, so no gradient flows through it.
    m = zero_grad(api.switch(api.isinf(m), constant(0, dtype=m.dtype), m))
    out = api.log(api.sum(api.exp(x - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return api.squeeze(out, axis=tuple(range(x.ndim)) if axis is None else axis)


def ptp(a, axis=None, keepdims=False):
    """Range (maximum minus minimum) along ``axis``."""
    api = _api()
    return api.max(a, axis=axis, keepdims=keepdims) - api.min(a, axis=axis, keepdims=keepdims)


def deg2rad(x):
    """Degrees to radians (float64 for integer input, as NumPy)."""
    x = as_tensor_variable(x)
    return x * constant(np.pi / 180.0, dtype=_float_dtype(x))


def rad2deg(x):
    """Radians to degrees (float64 for integer input, as NumPy)."""
    x = as_tensor_variable(x)
    return x * constant(180.0 / np.pi, dtype=_float_dtype(x))


__all__ = ["roll", "tile", "inv", "reciprocal", "largest", "smallest", "batched_dot",
           "logsumexp", "ptp", "deg2rad", "rad2deg"]
