"""Loops: ``scan`` builds a Scan Op whose body is an inner graph (see ``scan.builder``).

Importing ``verigraph.scan`` binds the package attribute ``verigraph.scan`` to this module,
so the module itself is callable: ``verigraph.scan(fn, ...)`` keeps working as in Theano.
"""
import sys
import types

from verigraph.scan.builder import scan  # noqa: F401
from verigraph.scan.op import Recurrent, Scan, ScanSpec  # noqa: F401

__all__ = ["scan", "Scan", "ScanSpec", "Recurrent"]


class _CallableModule(types.ModuleType):
    """This module, callable as ``scan``."""

    def __call__(self, *args, **kwargs):
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
