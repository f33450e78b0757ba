"""``In``/``Param`` (input options) and ``Out`` (output options) for ``function``."""
from __future__ import annotations

from verigraph.graph.basic import Variable


class In:
    """An explicit input: ``value`` is its default, ``name`` makes it a keyword argument."""

    def __init__(self, variable, name=None, value=None, update=None, mutable=False,
                 strict=False, allow_downcast=None, autoname=True, implicit=False, borrow=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"In() wraps a symbolic variable, got {type(variable).__name__} "
                            f"{variable!r:.60}")
        self.variable = variable
        self.name = name if name is not None else (variable.name if autoname else None)
        self.value = value
        self.has_default = value is not None
        self.update = update
        self.mutable = mutable
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.borrow = borrow
        self.implicit = implicit


def Param(variable, default=None, name=None, mutable=False, strict=False, allow_downcast=None,
          implicit=None, borrow=None):
    """Theano's older spelling of ``In`` with ``default=`` for the default value."""
    return In(variable, name=name, value=default, mutable=mutable, strict=strict,
              allow_downcast=allow_downcast, borrow=bool(borrow))


class Out:
    """An output option: ``borrow=True`` may return internal storage without a copy."""

    def __init__(self, variable, borrow=False):
        if not isinstance(variable, Variable):
            raise TypeError(f"Out() wraps a symbolic variable, got {type(variable).__name__}")
        self.variable = variable
        self.borrow = borrow
