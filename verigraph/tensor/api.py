"""The public tensor functions (Theano's ``theano.tensor`` namespace), each a thin builder."""
from __future__ import annotations

import builtins

import numpy as np

from verigraph.configparser import config
from verigraph.tensor import scalar_table as st
from verigraph.tensor.blas import Dot, Matmul
from verigraph.tensor.elemwise import DimShuffle, Elemwise, elemwise_fn
from verigraph.tensor.join import Join, Split, concatenate, join, split, stack  # noqa: F401
from verigraph.tensor.reduction import ArgReduce, Reduce, normalize_axis
from verigraph.tensor.sort import argsort, flatnonzero, nonzero, sort  # noqa: F401
from verigraph.tensor.shape import (ARange, Alloc, Eye, MakeVector, Reshape, Shape,  # noqa: F401
                                    Shape_i, SpecifyShape, as_shape_vector, shape_i)
from verigraph.tensor.subtensor import getitem, inc_subtensor, set_subtensor  # noqa: F401
from verigraph.tensor.variable import as_tensor_variable, constant  # noqa: F401

# -- elementwise: one public function per table row ------------------------------
add = elemwise_fn(st.add)
sub = elemwise_fn(st.sub)
mul = elemwise_fn(st.mul)
true_div = elemwise_fn(st.true_div)
int_div = elemwise_fn(st.int_div)
mod = elemwise_fn(st.mod)
pow = elemwise_fn(st.pow)
neg = elemwise_fn(st.neg)
abs = elemwise_fn(st.abs)
sqr = elemwise_fn(st.sqr)
sqrt = elemwise_fn(st.sqrt)
exp = elemwise_fn(st.exp)
exp2 = elemwise_fn(st.exp2)
expm1 = elemwise_fn(st.expm1)
log = elemwise_fn(st.log)
log1p = elemwise_fn(st.log1p)
log2 = elemwise_fn(st.log2)
log10 = elemwise_fn(st.log10)
sin = elemwise_fn(st.sin)
cos = elemwise_fn(st.cos)
tan = elemwise_fn(st.tan)
arcsin = elemwise_fn(st.arcsin)
arccos = elemwise_fn(st.arccos)
arctan = elemwise_fn(st.arctan)
arctan2 = elemwise_fn(st.arctan2)
sinh = elemwise_fn(st.sinh)
cosh = elemwise_fn(st.cosh)
tanh = elemwise_fn(st.tanh)
sigmoid = elemwise_fn(st.sigmoid)
softplus = elemwise_fn(st.softplus)
erf = elemwise_fn(st.erf)
erfc = elemwise_fn(st.erfc)
erfinv = elemwise_fn(st.erfinv)
erfcinv = elemwise_fn(st.erfcinv)
gamma = elemwise_fn(st.gamma)
gammaln = elemwise_fn(st.gammaln)
psi = elemwise_fn(st.psi)
tri_gamma = elemwise_fn(st.tri_gamma)
floor = elemwise_fn(st.floor)
ceil = elemwise_fn(st.ceil)
sign = elemwise_fn(st.sign)
maximum = elemwise_fn(st.maximum)
minimum = elemwise_fn(st.minimum)
lt = elemwise_fn(st.lt)
le = elemwise_fn(st.le)
gt = elemwise_fn(st.gt)
ge = elemwise_fn(st.ge)
eq = elemwise_fn(st.eq)
neq = elemwise_fn(st.neq)
isnan = elemwise_fn(st.isnan)
isinf = elemwise_fn(st.isinf)
and_ = elemwise_fn(st.and_)
or_ = elemwise_fn(st.or_)
xor = elemwise_fn(st.xor)
invert = elemwise_fn(st.invert)
second = elemwise_fn(st.second)
tensor_copy = elemwise_fn(st.identity)
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
divide = true_div
true_divide = true_div
floor_div = int_div
power = pow
absolute = abs
greater, greater_equal, less, less_equal = gt, ge, lt, le
equal, not_equal = eq, neq
fill = second
logical_and, logical_or, logical_xor, logical_not = and_, or_, xor, invert


def switch(cond, ift, iff):
    """Elementwise choice: ``ift`` where ``cond`` else ``iff`` (both are computed)."""
    return Elemwise(st.switch)(cond, ift, iff)


where = switch


def clip(x, a_min, a_max):
    """Clip ``x`` into ``[a_min, a_max]``."""
    return Elemwise(st.clip)(x, a_min, a_max)


def round(x, mode="half_to_even"):
    """Round; ``mode`` is ``half_to_even`` (NumPy) or ``half_away_from_zero``."""
    if mode == "half_to_even":
        return Elemwise(st.round_half_to_even)(x)
    if mode == "half_away_from_zero":
        return Elemwise(st.round_half_away_from_zero)(x)
    raise ValueError(f"round: mode must be half_to_even or half_away_from_zero, got {mode!r}")


def cast(x, dtype):
    """Convert ``x`` to ``dtype`` ('floatX' means config.floatX)."""
    x = as_tensor_variable(x)
    if dtype == "floatX":
        dtype = config.floatX
    dtype = str(np.dtype(dtype))
    if x.dtype == dtype:
        return x
    return Elemwise(st.cast_op(dtype))(x)


# -- layout -------------------------------------------------------------------------
def dimshuffle(x, pattern):
    """``x.dimshuffle(pattern)``."""
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.type.shape, pattern)(x)


def transpose(x, axes=None):
    """Permute axes (reverse by default)."""
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    return dimshuffle(x, tuple(a % x.ndim for a in axes))


def shape(x):
    """Symbolic shape vector."""
    return Shape()(as_tensor_variable(x))


def specify_shape(x, shape):
    """Assert at run time that ``x`` has ``shape`` (None entries free)."""
    return SpecifyShape(shape)(x)


def specify_broadcastable(x, shape_like):
    """Declare the static size-1 axes of ``shape_like`` on ``x`` (checked at run time)."""
    x = as_tensor_variable(x)
    return SpecifyShape(tuple(1 if s == 1 else None for s in shape_like))(x)


def reshape(x, newshape, ndim=None):
    """Reshape ``x``; ``newshape`` is a tuple of ints/scalars or an int vector."""
    x = as_tensor_variable(x)
    vec = as_shape_vector(newshape)
    n = vec.type.shape[0]
    if n is None:
        if ndim is None:
            raise ValueError("reshape: the length of a symbolic shape vector is unknown; pass ndim")
        n = ndim
    return Reshape(n)(x, vec)


def flatten(x, ndim=1):
    """Collapse trailing dimensions so the result has ``ndim`` dimensions."""
    x = as_tensor_variable(x)
    if not 1 <= ndim <= builtins.max(x.ndim, 1):
        raise ValueError(f"flatten: ndim must be in 1..{x.ndim}, got {ndim}")
    lead = [shape_i(x, d) for d in range(ndim - 1)]
    # The trailing size is a product, not -1: -1 is ambiguous when a leading size is 0.
    trailing = 1
    for d in range(ndim - 1, x.ndim):
        size = x.type.shape[d] if x.type.shape[d] is not None else shape_i(x, d)
        trailing = size if d == ndim - 1 else trailing * size
    return reshape(x, lead + [trailing])


def squeeze(x, axis=None):
    """Drop the axes of static size 1 (or only ``axis``, an int or tuple, checked to be 1)."""
    x = as_tensor_variable(x)
    if axis is None:
        return dimshuffle(x, [d for d in range(x.ndim) if x.type.shape[d] != 1])
    axes = normalize_axis(axis, x.ndim)
    if builtins.any(x.type.shape[d] != 1 for d in axes):
        x = SpecifyShape(tuple(1 if d in axes else None for d in range(x.ndim)))(x)
    return dimshuffle(x, [d for d in range(x.ndim) if d not in axes])


def expand_reduced(g, ndim, axis):
    """Re-insert reduced ``axis`` positions as broadcastable axes so ``g`` lines up with the input."""
    pattern, k = [], 0
    for d in range(ndim):
        if d in axis:
            pattern.append("x")
        else:
            pattern.append(k)
            k += 1
    return dimshuffle(g, pattern)


# -- reductions -----------------------------------------------------------------------
def _reduce(kind, x, axis, keepdims, dtype=None):
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    op = Reduce(kind, axes, dtype)
    # Reducing a 0-d tensor over no axis is the identity, unless the dtype widens (int32 sum).
    if not axes and x.ndim == 0 and kind in ("sum", "prod", "max", "min") and \
            op.out_dtype(x.dtype) == x.dtype:
        out = x
    else:
        out = op(x)
    if keepdims:
        out = expand_reduced(out, x.ndim, axes)
    return out


def sum(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis``."""
    return _reduce("sum", x, axis, keepdims, dtype)


def prod(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Product over ``axis``."""
    return _reduce("prod", x, axis, keepdims, dtype)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``."""
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``."""
    return _reduce("min", x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    """Logical and over ``axis``."""
    return _reduce("all", x, axis, keepdims)


def any(x, axis=None, keepdims=False):
    """Logical or over ``axis``."""
    return _reduce("any", x, axis, keepdims)


def _count(x, axes):
    n = None
    for a in axes:
        s = shape_i(x, a)
        n = s if n is None else n * s
    return constant(1, dtype="int64") if n is None else n


def mean(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis`` (integers average as float64)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    s = sum(x, axis=axes, keepdims=keepdims, dtype=dtype)
    out_dtype = s.dtype if np.dtype(s.dtype).kind in "fc" else "float64"
    return true_div(cast(s, out_dtype), cast(_count(x, axes), out_dtype))


def var(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Variance over ``axis`` (``ddof`` degrees of freedom)."""
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim)
    centered = x - mean(x, axis=axes, keepdims=True)
    ss = sum(sqr(centered), axis=axes, keepdims=keepdims)
    n = cast(_count(x, axes), ss.dtype)
    return ss / (n - ddof) if ddof else ss / n


def std(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Standard deviation over ``axis``."""
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims))


def _argreduce(kind, x, axis, keepdims):
    x = as_tensor_variable(x)
    if axis is None:
        out = ArgReduce(kind, None)(x)
        if keepdims:
            out = dimshuffle(out, ("x",) * x.ndim)
        return out
    a, = normalize_axis(axis, x.ndim)
    out = ArgReduce(kind, a)(x)
    return expand_reduced(out, x.ndim, (a,)) if keepdims else out


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis``."""
    return _argreduce("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis``."""
    return _argreduce("argmin", x, axis, keepdims)


# -- products --------------------------------------------------------------------------
def dot(a, b):
    """Matrix/vector product (tensordot over the last/first axes for more dimensions)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    return tensordot(a, b, axes=[[a.ndim - 1], [builtins.max(b.ndim - 2, 0)]])


def matmul(a, b):
    """NumPy's matmul: batched over leading axes."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim <= 2 and b.ndim <= 2:
        return Dot()(a, b)
    if a.ndim != b.ndim:
        nd = builtins.max(a.ndim, b.ndim)
        a = dimshuffle(a, ("x",) * (nd - a.ndim) + tuple(range(a.ndim)))
        b = dimshuffle(b, ("x",) * (nd - b.ndim) + tuple(range(b.ndim)))
    return Matmul()(a, b)


def outer(x, y):
    """Outer product of two vectors."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return mul(dimshuffle(flatten(x), (0, "x")), dimshuffle(flatten(y), ("x", 0)))


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` (an int or a pair of axis lists), built from transpose/reshape/dot."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))
    ax_a = [x % a.ndim for x in ax_a]
    ax_b = [x % b.ndim for x in ax_b]
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: axes lists differ in length: {ax_a} and {ax_b}")
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    at = transpose(a, free_a + ax_a)
    bt = transpose(b, ax_b + free_b)
    fa = [shape_i(a, d) for d in free_a]
    fb = [shape_i(b, d) for d in free_b]
    a2 = reshape(at, [_prod_list(fa), -1])
    b2 = reshape(bt, [-1, _prod_list(fb)])
    return reshape(Dot()(a2, b2), fa + fb) if fa or fb else reshape(Dot()(a2, b2), [])


def _prod_list(xs):
    out = constant(1, dtype="int64")
    for x in xs:
        out = out * x
    return out


# -- constructors ----------------------------------------------------------------------
def alloc(value, *shape):
    """Array of ``shape`` filled with ``value``."""
    return Alloc()(value, *shape)


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (floatX by default)."""
    shape = [shape] if isinstance(shape, (int, np.integer)) else list(shape)
    return alloc(constant(0, dtype=dtype or config.floatX), *shape)


def ones(shape, dtype=None):
    """Ones of ``shape`` (floatX by default)."""
    shape = [shape] if isinstance(shape, (int, np.integer)) else list(shape)
    return alloc(constant(1, dtype=dtype or config.floatX), *shape)


def _like(x, value, dtype):
    x = as_tensor_variable(x)
    dtype = dtype or x.dtype
    return alloc(constant(value, dtype=dtype), *[shape_i(x, d) for d in range(x.ndim)])


def zeros_like(x, dtype=None):
    """Zeros with ``x``'s shape."""
    return _like(x, 0, dtype)


def ones_like(x, dtype=None):
    """Ones with ``x``'s shape."""
    return _like(x, 1, dtype)


def eye(n, m=None, k=0, dtype=None):
    """2-d identity-like matrix."""
    return Eye(dtype or config.floatX)(n, n if m is None else m, k)


def identity_like(x):
    """Identity matrix with ``x``'s shape."""
    x = as_tensor_variable(x)
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=x.dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Like ``np.arange``; int64 for integer arguments."""
    if stop is None:
        start, stop = 0, start
    args = [as_tensor_variable(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = str(np.result_type(*[np.dtype(a.dtype) if not getattr(a, "weak", False)
                                     else a.data.item() for a in args]))
    return ARange(dtype)(*args)


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("builtins", "np", "annotations")]
