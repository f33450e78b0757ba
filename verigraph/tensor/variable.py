"""TensorVariable (operators and methods), TensorConstant, and conversion of Python values."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Constant, Variable
from verigraph.tensor.type import TensorType


def _m():
    # Late import: math builds on this module, and methods only run after import completes.
    from verigraph.tensor import api
    return api


class _TensorOps:
    """Operators and methods shared by TensorVariable and TensorConstant."""

    __slots__ = ()

    # Python identity for ==, as Theano: use T.eq for elementwise equality.
    __hash__ = Variable.__hash__

    @property
    def ndim(self):
        """Number of dimensions."""
        return self.type.ndim

    @property
    def dtype(self):
        """NumPy dtype name."""
        return self.type.dtype

    @property
    def broadcastable(self):
        """Theano broadcastable flags."""
        return self.type.broadcastable

    @property
    def shape(self):
        """Symbolic shape vector (int64)."""
        return _m().shape(self)

    @property
    def size(self):
        """Symbolic number of elements."""
        return _m().prod(self.shape)

    @property
    def T(self):
        """Transpose (reversed axes)."""
        return _m().transpose(self)

    def __add__(self, o): return _m().add(self, o)
    def __radd__(self, o): return _m().add(o, self)
    def __sub__(self, o): return _m().sub(self, o)
    def __rsub__(self, o): return _m().sub(o, self)
    def __mul__(self, o): return _m().mul(self, o)
    def __rmul__(self, o): return _m().mul(o, self)
    def __truediv__(self, o): return _m().true_div(self, o)
    def __rtruediv__(self, o): return _m().true_div(o, self)
    def __floordiv__(self, o): return _m().int_div(self, o)
    def __rfloordiv__(self, o): return _m().int_div(o, self)
    def __mod__(self, o): return _m().mod(self, o)
    def __rmod__(self, o): return _m().mod(o, self)
    def __pow__(self, o): return _m().pow(self, o)
    def __rpow__(self, o): return _m().pow(o, self)
    def __neg__(self): return _m().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _m().abs(self)
    def __invert__(self): return _m().invert(self)
    def __and__(self, o): return _m().and_(self, o)
    def __rand__(self, o): return _m().and_(o, self)
    def __or__(self, o): return _m().or_(self, o)
    def __ror__(self, o): return _m().or_(o, self)
    def __xor__(self, o): return _m().xor(self, o)
    def __rxor__(self, o): return _m().xor(o, self)
    def __lt__(self, o): return _m().lt(self, o)
    def __le__(self, o): return _m().le(self, o)
    def __gt__(self, o): return _m().gt(self, o)
    def __ge__(self, o): return _m().ge(self, o)
    def __matmul__(self, o): return _m().matmul(self, o)
    def __rmatmul__(self, o): return _m().matmul(o, self)
    def __getitem__(self, idx): return _m().getitem(self, idx)

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value; use verigraph.ifelse.ifelse or "
                        "tensor.switch for conditions")

    def __iter__(self):
        raise TypeError(f"cannot iterate over symbolic variable {self}; index it instead")

    def __len__(self):
        raise TypeError(f"len() of a symbolic variable {self} is unknown; use .shape[0]")

    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        """Sum over ``axis`` (all axes by default)."""
        return _m().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        """Product over ``axis``."""
        return _m().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        """Mean over ``axis``."""
        return _m().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        """Variance over ``axis``."""
        return _m().var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        """Standard deviation over ``axis``."""
        return _m().std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``."""
        return _m().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        """Minimum over ``axis``."""
        return _m().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum over ``axis``."""
        return _m().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        """Index of the minimum over ``axis``."""
        return _m().argmin(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        """Logical and over ``axis``."""
        return _m().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        """Logical or over ``axis``."""
        return _m().any(self, axis=axis, keepdims=keepdims)

    def norm(self, L=2, axis=None):
        """L1 or L2 norm over ``axis``."""
        if L == 1:
            return _m().sum(_m().abs(self), axis=axis)
        if L == 2:
            return _m().sqrt(_m().sum(_m().sqr(self), axis=axis))
        raise ValueError(f"norm: L must be 1 or 2, got {L!r}")

    def reshape(self, shape, ndim=None):
        """Reshape to ``shape`` (tuple of ints/scalars or a symbolic vector)."""
        return _m().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1):
        """Collapse trailing dimensions so the result has ``ndim`` dimensions."""
        return _m().flatten(self, ndim)

    def dimshuffle(self, *pattern):
        """Permute/insert ('x')/drop broadcastable axes: ``x.dimshuffle(1, 'x', 0)``."""
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        return _m().dimshuffle(self, pattern)

    def transpose(self, *axes):
        """Permute axes (reverse by default)."""
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = tuple(axes[0])
        return _m().transpose(self, axes or None)

    def astype(self, dtype):
        """Cast to ``dtype``."""
        return _m().cast(self, dtype)

    def dot(self, other):
        """Matrix/vector product."""
        return _m().dot(self, other)

    def clip(self, a_min, a_max):
        """Clip into ``[a_min, a_max]``."""
        return _m().clip(self, a_min, a_max)

    def round(self, mode="half_to_even"):
        """Round elementwise."""
        return _m().round(self, mode)

    def nonzero(self):
        """Indices of nonzero elements (tuple, one vector per axis)."""
        return _m().nonzero(self)

    def copy(self, name=None):
        """A copy (identity computation) of this variable."""
        out = _m().tensor_copy(self)
        out.name = name
        return out

    def sort(self, axis=-1):
        """Sorted along ``axis``."""
        return _m().sort(self, axis)

    def squeeze(self):
        """Drop broadcastable dimensions."""
        return _m().squeeze(self)


class TensorVariable(_TensorOps, Variable):
    """A symbolic tensor: Theano's operators and methods."""

    __slots__ = ()


class TensorConstant(_TensorOps, Constant):
    """A constant tensor; ``weak`` marks a Python scalar whose dtype yields (NumPy 2 NEP 50)."""

    __slots__ = ("weak",)

    def __init__(self, type, data, name=None, weak=False):
        super().__init__(type, data, name)
        self.weak = weak

    def clone(self):
        """A sibling constant with the same data."""
        return TensorConstant(self.type, self.data, self.name, self.weak)

    def signature(self):
        """Identity for merge: type, bytes and weakness."""
        return (super().signature(), self.weak)


TensorType.variable_class = TensorVariable
TensorType.constant_class = TensorConstant


def constant(x, name=None, ndim=None, dtype=None):
    """A TensorConstant holding ``x`` (converted to an ndarray of ``dtype`` if given)."""
    weak = dtype is None and isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)
    if dtype is None and isinstance(x, float) and not isinstance(x, np.generic):
        arr = np.asarray(x, dtype="float64")
    elif dtype is None and isinstance(x, bool):
        arr = np.asarray(x)
    elif dtype is None and isinstance(x, int) and not isinstance(x, np.generic):
        arr = np.asarray(x, dtype="int64")
    else:
        arr = np.asarray(x, dtype=dtype)
        if dtype is not None and not isinstance(x, np.ndarray):
            if not np.array_equal(np.asarray(x), arr, equal_nan=True) and np.asarray(x).dtype.kind in "iu":
                raise TypeError(f"constant {x!r} does not fit dtype {dtype}")
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"cannot make a tensor constant from {type(x).__name__} {x!r:.80}")
    if ndim is not None:
        if arr.ndim > ndim:
            raise TypeError(f"constant of ndim {arr.ndim} where ndim {ndim} was asked")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return TensorConstant(TensorType(arr.dtype, arr.shape), arr, name=name, weak=weak)


def as_tensor_variable(x, name=None, ndim=None, dtype=None):
    """Return ``x`` as a TensorVariable: variables pass through, Python/NumPy data become constants."""
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            raise TypeError(f"expected a tensor variable, got {x} of type {x.type}")
        if ndim is not None and x.ndim != ndim:
            raise TypeError(f"expected a {ndim}-d tensor, got {x} with {x.ndim} dimensions")
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flatten(x)):
        from verigraph.tensor.api import stack
        return stack([as_tensor_variable(e) for e in x])
    return constant(x, name=name, ndim=ndim, dtype=dtype)


def _flatten(seq):
    for e in seq:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e
