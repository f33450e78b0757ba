"""TensorType: dtype + static shape (None = unknown), value filtering with clear errors."""
from __future__ import annotations

import numpy as np

from verigraph.dtypes import dtype_name
from verigraph.graph.type import Type

# Theano's one-letter dtype codes used by the constructors (dmatrix, ivector, ...).
DTYPE_CODES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64",
               "f": "float32", "d": "float64", "c": "complex64", "z": "complex128"}
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")


def _normalize_shape(shape=None, broadcastable=None):
    if shape is None and broadcastable is None:
        raise TypeError("TensorType needs a shape (None for unknown sizes) or broadcastable flags")
    if shape is None:
        return tuple(1 if b else None for b in broadcastable)
    out = []
    for s in shape:
        if s is None:
            out.append(None)
        elif isinstance(s, (bool, np.bool_)):
            # Theano's broadcastable tuple passed positionally: True means size 1.
            out.append(1 if s else None)
        else:
            s = int(s)
            if s < 0:
                raise ValueError(f"static shape entries must be >= 0 or None, got {shape}")
            out.append(s)
    return tuple(out)


class TensorType(Type):
    """Type of n-d arrays: ``TensorType(dtype, shape)``, shape entries int or None."""

    def __init__(self, dtype, shape=None, broadcastable=None):
        self.dtype = dtype_name(dtype)
        self.shape = _normalize_shape(shape, broadcastable)
        self.ndim = len(self.shape)
        self.numpy_dtype = np.dtype(self.dtype)

    @property
    def broadcastable(self):
        """Theano's flags: True where the static size is 1."""
        return tuple(s == 1 for s in self.shape)

    def clone(self, dtype=None, shape=None):
        """Same type with another dtype and/or shape."""
        return TensorType(dtype or self.dtype, self.shape if shape is None else shape)

    def __eq__(self, other):
        return type(other) is TensorType and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self):
        return hash((TensorType, self.dtype, self.shape))

    def __str__(self):
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        return f"TensorType({self.dtype}, ({dims}{',' if self.ndim == 1 else ''}))"

    __repr__ = __str__

    def is_super(self, other):
        """Whether every value of ``other`` is also a value of self."""
        return (type(other) is TensorType and other.dtype == self.dtype
                and other.ndim == self.ndim
                and all(a is None or a == b for a, b in zip(self.shape, other.shape)))

    def convert_variable(self, var):
        """Return ``var`` (or a specify_shape of it) usable where this type is expected, else None."""
        if var.type == self:
            return var
        if self.is_super(var.type):
            return var
        if var.type.is_super(self) if isinstance(var.type, TensorType) else False:
            from verigraph.tensor.shape import specify_shape
            return specify_shape(var, self.shape)
        return None

    # -- values --------------------------------------------------------------
    def filter(self, value, strict=False, allow_downcast=None, name=None):
        """Convert ``value`` to an ndarray of this type or raise a TypeError naming both sides."""
        what = f"input {name!r}" if name else "value"
        if type(value) is np.ndarray and value.dtype == self.numpy_dtype:
            arr = value
        elif strict:
            raise TypeError(f"{what}: expected an ndarray of dtype {self.dtype}, got "
                            f"{_describe(value)}")
        else:
            arr = self._convert(value, allow_downcast, what)
        if arr.ndim != self.ndim:
            raise TypeError(f"{what}: expected {self.ndim}-d array ({self}), got "
                            f"{arr.ndim}-d array of shape {arr.shape}")
        for i, (s, a) in enumerate(zip(self.shape, arr.shape)):
            if s is not None and s != a:
                raise TypeError(f"{what}: expected static shape {self.shape}, got {arr.shape} "
                                f"(dimension {i})")
        return arr

    def _convert(self, value, allow_downcast, what):
        if value is None:
            raise TypeError(f"{what}: expected an array of dtype {self.dtype} and {self.ndim} "
                            f"dimensions, got None")
        is_array = isinstance(value, (np.ndarray, np.generic))
        try:
            arr = np.asarray(value)
        except Exception as exc:  # ragged lists and other non-numeric data
            raise TypeError(f"{what}: expected {self}, got {_describe(value)}: {exc}") from None
        if arr.dtype == self.numpy_dtype:
            return arr
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise TypeError(f"{what}: expected numeric data for {self}, got {_describe(value)}")
        if np.can_cast(arr.dtype, self.numpy_dtype, "safe"):
            return arr.astype(self.numpy_dtype)
        if allow_downcast:
            return arr.astype(self.numpy_dtype)
        if allow_downcast is None and not is_array:
            # Theano's default: Python numbers/lists may be converted when no value is lost.
            conv = arr.astype(self.numpy_dtype)
            if arr.dtype.kind == "f" and self.numpy_dtype.kind == "f":
                return conv
            if arr.dtype.kind in "iub" and self.numpy_dtype.kind in "iu" and np.array_equal(conv, arr):
                return conv
        raise TypeError(
            f"{what}: expected dtype {self.dtype} ({self}), got {_describe(value)}; converting "
            f"would lose precision. Pass data of dtype {self.dtype}, or compile with "
            f"allow_input_downcast=True")

    def value_signature(self, data):
        """Hashable summary of a constant (dtype, shape, bytes)."""
        arr = np.asarray(data)
        return (arr.dtype.str, arr.shape, arr.tobytes())

    def value_str(self, data):
        """Short form of a constant: the value for small ones, else a summary."""
        arr = np.asarray(data)
        if arr.size <= 8:
            return str(arr.tolist()) if arr.ndim else repr(arr.item())
        return f"Constant{{{arr.dtype}, shape={arr.shape}}}"

    def values_eq(self, a, b):
        """Exact equality, NaN equal to NaN."""
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"ndarray of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of length {len(value)}"
    return f"{type(value).__name__} {value!r}"[:120]
