"""Shared variables: symbolic variables whose value persists between calls (updates write it)."""
from __future__ import annotations

import numpy as np

from verigraph.graph.basic import Variable
from verigraph.tensor.type import TensorType
from verigraph.tensor.variable import TensorVariable


class SharedVariable(TensorVariable):
    """A tensor variable backed by a stored value (``get_value`` / ``set_value``)."""

    __slots__ = ("container", "default_update", "strict", "allow_downcast")

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None):
        super().__init__(type, None, None, name)
        self.container = [value]
        self.default_update = None
        self.strict = strict
        self.allow_downcast = allow_downcast

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value (a copy unless ``borrow=True``)."""
        v = self.container[0]
        return v if borrow else v.copy()

    def set_value(self, new_value, borrow=False):
        """Replace the value; it must fit the variable's type (dtype, ndim, static shape)."""
        try:
            v = self.type.filter(new_value, strict=False, allow_downcast=self.allow_downcast,
                                 name=self.name or "shared variable")
        except TypeError as exc:
            raise TypeError(f"set_value of {self.name or 'shared variable'} ({self.type}): "
                            f"{exc}") from None
        if v is new_value and not borrow:
            v = v.copy()
        self.container[0] = v

    @property
    def value(self):
        """Theano's old ``.value`` attribute (a copy)."""
        return self.get_value()

    def clone(self):
        """Clones share the storage container: a function's copy reads the same value."""
        c = SharedVariable(self.type, None, self.name)
        c.container = self.container
        c.default_update = self.default_update
        return c

    def __reduce__(self):
        return (_rebuild_shared, (self.type, self.container[0], self.name, self.default_update))

    def zero(self, borrow=False):
        """Set the value to zeros of its shape."""
        self.set_value(np.zeros_like(self.container[0]), borrow=True)


def _rebuild_shared(type, value, name, default_update):
    s = SharedVariable(type, value, name)
    s.default_update = default_update
    return s


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False, shape=None,
           broadcastable=None):
    """A shared variable holding ``value`` (copied unless ``borrow=True``); its type follows it."""
    if isinstance(value, Variable):
        raise TypeError(f"shared() takes a value (number or array), got the symbolic variable "
                        f"{value}")
    if isinstance(value, np.random.Generator) or isinstance(value, np.random.RandomState):
        from verigraph.tensor.random.type import shared_rng
        return shared_rng(value, name, borrow)
    if value is None:
        raise TypeError("shared() needs a value, got None")
    arr = np.asarray(value)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"shared() needs numeric data, got {type(value).__name__}")
    if isinstance(value, float) and not isinstance(value, np.generic):
        arr = np.asarray(value, dtype="float64")
    if not (borrow and isinstance(value, np.ndarray)):
        arr = np.array(arr, copy=True)
    if shape is None:
        shape = tuple(1 if b else None for b in broadcastable) if broadcastable is not None \
            else (None,) * arr.ndim
    t = TensorType(arr.dtype, shape)
    return SharedVariable(t, t.filter(arr, name=name), name, strict, allow_downcast)
