"""Base class of value types: filtering, equality, variable construction."""
from __future__ import annotations


class Type:
    """What values a Variable may hold; subclasses define ``filter`` and ``variable_class``."""

    variable_class = None
    constant_class = None

    def filter(self, value, strict=False, allow_downcast=None, name=None):
        """Return ``value`` converted to this type, or raise TypeError naming what came."""
        raise NotImplementedError

    def make_variable(self, name=None):
        """A fresh input Variable of this type."""
        return self.variable_class(self, None, None, name)

    def __call__(self, name=None):
        return self.make_variable(name)

    def value_signature(self, data):
        """Hashable summary of a constant's value (merge dedupes on it)."""
        raise NotImplementedError

    def value_str(self, data):
        """Short printable form of a constant value."""
        return str(data)

    def values_eq(self, a, b):
        """Exact equality of two values of this type."""
        return a == b
